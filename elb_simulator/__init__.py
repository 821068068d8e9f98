"""An embedded ELB v3 API simulator for the demo and the integration tests (standard library only).

The real SDK talks to it over HTTP on 127.0.0.1 through the endpoint override variable
HUAWEICLOUD_SDK_REGION_ELB_<REGION> (see ElbSimulator.env()).
"""

from .faults import Fault
from .scenario import (
    DEFAULT_AK,
    DEFAULT_REGION,
    DEFAULT_SK,
    ScenarioError,
    find_scenario,
    load_scenario,
    scenario_names,
)
from .server import ElbSimulator, RecordedRequest, SimulatorCredentials, endpoint_env_name

__all__ = [
    "DEFAULT_AK",
    "DEFAULT_REGION",
    "DEFAULT_SK",
    "ElbSimulator",
    "Fault",
    "RecordedRequest",
    "ScenarioError",
    "SimulatorCredentials",
    "endpoint_env_name",
    "find_scenario",
    "load_scenario",
    "scenario_names",
]
