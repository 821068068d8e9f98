"""Cloud Eye alarm notifications through the SMN trigger: parsing, and the targeted check end to end."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import handler
from elb_simulator import ElbSimulator
from handler.app import WARM
from handler.cloudeye import decode_alarm, parse_dimension
from handler.domain import Sweep, Target
from handler.events import parse_event
from tests.support import DEMO_LISTENER, DEMO_POOL, PlatformContext, demo_scenario, load_event

LB_A = "098b2f68-af1c-41a9-8efd-69958722af62"  # the demo load balancer
LB_B = "7d1e9f3a-5c2b-4e8d-a6f0-3b9c2d1e0f4a"
POOL_B = "c4a2e8f1-9b3d-4f6e-8a1c-2d5b7e9f0a3c"
MASTER_B = "e8f1a2b3-c4d5-4e6f-9a0b-1c2d3e4f5a6b"
DIMENSION = "record[0].smn.message.dimension"
SAMPLES = ("ces_alarm.json", "ces_alarm_ok.json", "ces_alarm_v1.json", "ces_alarm_v1_ok.json")


@pytest.fixture(autouse=True)
def fresh_job_memory():
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def alarm_of(sample: str) -> dict[str, Any]:
    """The alarm notification inside a sample SMN event."""
    return json.loads(load_event(sample)["record"][0]["smn"]["message"])


def smn_event(message: Any) -> dict[str, Any]:
    """A sample SMN trigger event carrying `message` (an object is sent as its JSON string)."""
    event = load_event("ces_alarm.json")
    event["record"][0]["smn"]["message"] = message if isinstance(message, str) else json.dumps(message)
    return event


# --- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_alarm_becomes_a_sweep_of_its_load_balancer(sample):
    parsed = parse_event(load_event(sample))
    assert parsed.source == "smn"
    assert parsed.errors == ()
    assert parsed.targets == ()
    assert parsed.sweeps == (Sweep(loadbalancer_ids=(LB_A,), region="cn-north-4"),)


def test_ok_and_alarm_ask_for_the_same_check():
    assert (
        parse_event(load_event("ces_alarm_ok.json")).sweeps
        == parse_event(load_event("ces_alarm.json")).sweeps
    )
    assert alarm_of("ces_alarm_ok.json")["alarm_status"] == "ok"
    assert alarm_of("ces_alarm_v1_ok.json")["data"]["IsAlarm"] is False


def test_a_pool_dimension_checks_the_pool_itself():
    alarm = alarm_of("ces_alarm.json") | {"dimension": f"lbaas_instance_id:{LB_A},lbaas_pool_id:{DEMO_POOL}"}
    parsed = parse_event(smn_event(alarm))
    assert parsed.targets == (Target(pool_id=DEMO_POOL, region="cn-north-4"),)
    assert parsed.sweeps == ()


def test_a_listener_dimension_narrows_the_sweep_to_that_listener():
    alarm = alarm_of("ces_alarm.json") | {"dimension": f"lbaas_instance_id:{LB_A},lbaas_listener_id:lsn-9"}
    [sweep] = parse_event(smn_event(alarm)).sweeps
    assert sweep.loadbalancer_ids == (LB_A,)
    assert sweep.listener_ids == ("lsn-9",)
    assert sweep.filters() == {"loadbalancer_id": [LB_A], "listener_id": ["lsn-9"]}


def test_region_comes_from_the_alarm_and_a_display_name_is_not_taken_for_one():
    alarm = alarm_of("ces_alarm_v1.json")
    alarm["data"]["RegionId"] = "ap-southeast-3"
    assert parse_event(smn_event(alarm)).sweeps[0].region == "ap-southeast-3"
    del alarm["data"]["RegionId"]  # only "CN North-Beijing4" left: the usual rules decide
    assert parse_event(smn_event(alarm)).sweeps[0].region is None


def test_without_a_dimension_the_resource_id_names_the_load_balancer():
    alarm = alarm_of("ces_alarm.json")
    del alarm["dimension"]
    assert parse_event(smn_event(alarm)).sweeps[0].loadbalancer_ids == (LB_A,)


def test_another_namespace_is_an_invalid_event_with_where():
    # A real notification of another service, as captured in eumel8/otc-rds-operator.
    rds = {
        "message_type": "alarm",
        "alarm_id": "al1651967846367MVO1yKvWy",
        "alarm_name": "my-rds-ha-disc-util",
        "alarm_status": "alarm",
        "time": 1651998061184,
        "namespace": "SYS.RDS",
        "metric_name": "rds039_disk_util",
        "dimension": "rds_instance_id:9a22c728f48142f88339dc5bfa06d592no01",
        "template_variable": {"Region": "eu-de", "ResourceId": "9a22c728f48142f88339dc5bfa06d592no01"},
    }
    parsed = parse_event(smn_event(rds))
    assert (parsed.targets, parsed.sweeps) == ((), ())
    [error] = parsed.errors
    assert error.where == "record[0].smn.message.namespace"
    assert "'SYS.RDS'" in error.message
    assert "SYS.ELB" in error.message


def test_a_v1_alarm_of_another_service_is_invalid():
    alarm = alarm_of("ces_alarm_v1.json")
    alarm["data"]["Namespace"] = "弹性云服务器"
    [error] = parse_event(smn_event(alarm)).errors
    assert error.where == "record[0].smn.message.data.Namespace"


def test_an_elb_alarm_that_names_nothing_we_can_map_is_invalid():
    alarm = alarm_of("ces_alarm.json") | {"dimension": "available_zone:cn-north-4a"}
    [error] = parse_event(smn_event(alarm)).errors
    assert error.where == "record[0].smn.message.dimension"
    assert "names no load balancer, listener or pool" in error.message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            {"dimension": "lbaas_instance_id:" + "x" * 500},
            "record[0].smn.message.dimension.lbaas_instance_id",
        ),
        (
            {"dimension": "lbaas_instance_id:../../v3/other"},
            "record[0].smn.message.dimension.lbaas_instance_id",
        ),
        ({"dimension": 42, "template_variable": {"ResourceId": ["x"]}}, "record[0].smn.message.dimension"),
        ({"namespace": None}, "record[0].smn.message.namespace"),
    ],
)
def test_hostile_classic_alarms_are_invalid_never_a_crash(change, where):
    parsed = parse_event(smn_event(alarm_of("ces_alarm.json") | change))
    assert (parsed.targets, parsed.sweeps) == ((), ())
    assert [error.where for error in parsed.errors] == [where]


@pytest.mark.parametrize("resource", [None, 7, "", "a b", "<script>"])
def test_hostile_v1_resource_ids_are_invalid(resource):
    alarm = alarm_of("ces_alarm_v1.json")
    alarm["data"]["ResourceId"] = resource
    [error] = parse_event(smn_event(alarm)).errors
    assert error.where == "record[0].smn.message.data.ResourceId"


def test_a_direct_call_in_an_smn_message_still_works():
    parsed = parse_event(smn_event({"pool_id": DEMO_POOL}))
    assert parsed.targets == (Target(pool_id=DEMO_POOL),)


@pytest.mark.parametrize(
    "message", ["not json", "[1, 2]", '{"version": "v1", "data": "x"}', '{"message_type": "event"}', None]
)
def test_what_is_not_an_alarm_is_left_to_the_direct_call_reader(message):
    assert decode_alarm(message) is None
    parsed = parse_event(smn_event(message) if message is not None else smn_event("null"))
    assert parsed.errors
    assert (parsed.targets, parsed.sweeps) == ((), ())


def test_dimension_pairs():
    assert parse_dimension("lbaas_instance_id:a, lbaas_listener_id:b;x=y,broken,:z,n:") == {
        "lbaas_instance_id": "a",
        "lbaas_listener_id": "b",
        "x": "y",
    }


# --- end to end: only load balancer A is read --------------------------------------------------------


def two_load_balancers() -> dict[str, Any]:
    """The demo pool on load balancer A, and a pool with a failed master on load balancer B."""
    scenario = demo_scenario()
    pool_b = copy.deepcopy(scenario["pools"][0])
    pool_b.update(id=POOL_B, name="api-pool", loadbalancers=[{"id": LB_B}], listeners=[{"id": "lsn-b"}])
    pool_b["members"][0].update(id=MASTER_B, name="api-master-1")
    pool_b["members"][0]["status"] = [{"listener_id": "lsn-b", "operating_status": "OFFLINE"}]
    pool_b["members"][1].update(id="f9a0b1c2-d3e4-4f5a-8b6c-7d8e9f0a1b2c", name="api-standby-1")
    pool_b["members"][1]["status"] = [{"listener_id": "lsn-b", "operating_status": "ONLINE"}]
    scenario["pools"] = [pool_b, scenario["pools"][0]]  # B first: a listing that ignored the filter shows it
    return scenario


@pytest.fixture
def two_lb_simulator(monkeypatch):
    with ElbSimulator(two_load_balancers()) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", sim.credentials.ak)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", sim.credentials.sk)
        monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", sim.project_id)
        monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.02")
        yield sim


def assert_only_a_was_read(sim: ElbSimulator) -> None:
    paths = [request.path for request in sim.requests]
    listings = [path for path in paths if "/master-slave-pools?" in path]
    assert listings, paths
    assert all(f"loadbalancer_id={LB_A}" in path for path in listings), listings
    assert not any(LB_B in path or POOL_B in path or MASTER_B in path for path in paths), paths
    assert [job["member_id"] for job in sim.created_jobs] == ["2e7b36d2-66c8-4825-bcd2-211d99978680"]


@pytest.mark.parametrize("sample", ["ces_alarm.json", "ces_alarm_v1.json"])
def test_an_alarm_for_a_checks_only_a_and_fires_for_its_failed_master(two_lb_simulator, sample):
    result = handler.handler(load_event(sample), PlatformContext())
    assert result["ok"] is True, result["errors"]
    [record] = result["notifications"]
    assert record["pool"]["id"] == DEMO_POOL
    assert record["kind"] == "master_failed"
    assert record["check"]["failed_items"], "the failed master is diagnosed"
    assert result["sweeps"][0]["filters"] == {"loadbalancer_id": [LB_A]}
    assert result["sweeps"][0]["pools"] == 1
    assert_only_a_was_read(two_lb_simulator)


def test_an_ok_alarm_rechecks_a_and_the_lifecycle_resolves_what_recovered(
    two_lb_simulator, monkeypatch, tmp_path
):
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "1")  # default 2: the timer's next run would resolve
    fired = handler.handler(load_event("ces_alarm.json"), PlatformContext())
    assert [n["status"] for n in fired["notifications"]] == ["firing"]
    healed = copy.deepcopy(two_load_balancers()["pools"][1])
    healed["members"][0]["status"] = [{"listener_id": DEMO_LISTENER, "operating_status": "ONLINE"}]
    healed["members"][0]["reason"] = None
    two_lb_simulator.set_pool(healed)
    recovered = handler.handler(load_event("ces_alarm_ok.json"), PlatformContext())
    assert recovered["ok"] is True, recovered["errors"]
    assert [(n["status"], n["pool"]["id"]) for n in recovered["notifications"]] == [("resolved", DEMO_POOL)]
    assert_only_a_was_read(two_lb_simulator)


def test_an_ok_alarm_while_the_master_is_still_down_is_not_a_blind_resolve(two_lb_simulator):
    result = handler.handler(load_event("ces_alarm_ok.json"), PlatformContext())
    assert [(n["status"], n["kind"]) for n in result["notifications"]] == [("firing", "master_failed")]


def test_an_alarm_of_another_namespace_reads_nothing(two_lb_simulator):
    alarm = alarm_of("ces_alarm.json") | {"namespace": "SYS.ECS", "dimension": "instance_id:i-1"}
    result = handler.handler(smn_event(alarm), PlatformContext())
    assert result["ok"] is False
    [error] = result["errors"]
    assert (error["code"], error["where"]) == ("EVENT.INVALID", "record[0].smn.message.namespace")
    assert two_lb_simulator.requests == []


def test_a_listener_alarm_lists_only_that_listeners_pools(two_lb_simulator):
    alarm = alarm_of("ces_alarm.json") | {"dimension": f"lbaas_instance_id:{LB_A},lbaas_listener_id:lsn-b"}
    result = handler.handler(smn_event(alarm), PlatformContext())
    assert result["ok"] is True, result["errors"]
    assert (result["sweeps"][0]["pools"], result["notifications"]) == (0, [])
    [listing] = [r.path for r in two_lb_simulator.requests if "/master-slave-pools?" in r.path]
    assert f"loadbalancer_id={LB_A}" in listing
    assert "listener_id=lsn-b" in listing
    alarm["dimension"] = f"lbaas_listener_id:{DEMO_LISTENER}"
    result = handler.handler(smn_event(alarm), PlatformContext())
    assert [n["pool"]["id"] for n in result["notifications"]] == [DEMO_POOL]
