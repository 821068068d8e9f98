"""Test helpers: sample events, API-reference fixtures, and builders for API-shaped objects."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

DEMO_POOL = "36ce7086-a496-4666-9064-5ba0e6840c75"
DEMO_JOB = "919221ce-0011-4558-81ca-2866e6e68a27"
DEMO_LISTENER = "0b11747a-b139-492f-9692-2df0b1c87193"


def load_event(name: str) -> Any:
    """A sample trigger event from events/ (the same files the README and the CLI use)."""
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def load_fixture(name: str) -> Any:
    """An example response copied verbatim from the API reference."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def api_member(
    member_id: str,
    role: str,
    status: str = "ONLINE",
    *,
    name: str | None = None,
    listeners: dict[str, str] | None = None,
    reason: dict[str, Any] | None = None,
    address: str = "172.16.0.10",
    port: int = 80,
) -> dict[str, Any]:
    """A MasterSlaveMember as ELB returns it (table 7 of the ShowMasterSlavePool reference)."""
    return {
        "id": member_id,
        "name": name if name is not None else f"{role}-{member_id}",
        "admin_state_up": True,
        "subnet_cidr_id": "",
        "protocol_port": port,
        "address": address,
        "ip_version": "v4",
        "device_owner": "",
        "device_id": "",
        "operating_status": status,
        "reason": reason,
        "member_type": "ip",
        "instance_id": "",
        "role": role,
        "status": [
            {"listener_id": listener, "operating_status": value}
            for listener, value in (listeners or {}).items()
        ],
    }


def api_pool(
    members: list[dict[str, Any]],
    *,
    pool_id: str = "pool-1",
    name: str = "web-pool",
    listeners: tuple[str, ...] = ("lsn-1",),
    healthmonitor: dict[str, Any] | str | None = "default",
) -> dict[str, Any]:
    """A MasterSlavePool as ELB returns it."""
    monitor = (
        {"id": "hm-1", "type": "HTTP", "admin_state_up": True, "expected_codes": "200", "delay": 5}
        if healthmonitor == "default"
        else healthmonitor
    )
    return {
        "id": pool_id,
        "name": name,
        "protocol": "TCP",
        "lb_algorithm": "ROUND_ROBIN",
        "listeners": [{"id": listener} for listener in listeners],
        "loadbalancers": [{"id": "lb-1"}],
        "members": members,
        "healthmonitor": monitor,
        "project_id": "04dd36f964000fe22f9ac00bc85b1a1d",
    }


def api_job(
    failures: dict[str, dict[str, list[str] | str | None]] | None = None,
    *,
    status: str = "processed",
    group_status: dict[str, str] | None = None,
    member_id: str = "m-master",
) -> dict[str, Any]:
    """The reference's 17-item MemberCheckJobInfo, with chosen items failed.

    `failures` maps an item name to {"params": [...]} and/or {"reason": "..."}; its group gets
    check_result false.
    """
    job = copy.deepcopy(load_fixture("show_member_health_check_job.json")["member_check"])
    job["status"] = status
    job["member_id"] = member_id
    for group_name, group in job["result"].items():
        for item in group["check_items"]:
            failure = (failures or {}).get(item["name"])
            if failure is not None:
                item["reason_params"] = failure.get("params", [])
                item["reason"] = failure.get("reason")
                group["check_result"] = False
        if group_status and group_name in group_status:
            group["check_status"] = group_status[group_name]
    return job


class PlatformContext:
    """The FunctionGraph context interface (the platform's object, not ours), for driving the handler."""

    def __init__(
        self,
        remaining_ms: int = 30_000,
        *,
        ak: str = "",
        sk: str = "",
        token: str = "",
        project_id: str = "",
        request_id: str = "req-test-0001",
    ) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000
        self._ak, self._sk, self._token = ak, sk, token
        self._project_id = project_id
        self._request_id = request_id

    def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802 - platform method name
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def getRequestID(self) -> str:  # noqa: N802
        return self._request_id

    def getSecurityAccessKey(self) -> str:  # noqa: N802
        return self._ak

    def getSecuritySecretKey(self) -> str:  # noqa: N802
        return self._sk

    def getSecurityToken(self) -> str:  # noqa: N802
        return self._token

    def getProjectID(self) -> str:  # noqa: N802
        return self._project_id

    def getAccessKey(self) -> str:  # noqa: N802 - deprecated; must never be used
        raise AssertionError("the deprecated getAccessKey() must not be called")

    def getSecretKey(self) -> str:  # noqa: N802 - deprecated; must never be used
        raise AssertionError("the deprecated getSecretKey() must not be called")


def demo_scenario(processing_reads: int = 0) -> dict[str, Any]:
    """The demo scenario from events/scenarios, with the check job finishing after `processing_reads`."""
    scenario = json.loads((EVENTS / "scenarios" / "demo.json").read_text(encoding="utf-8"))
    for job in scenario.get("jobs", []):
        job["processing_reads"] = processing_reads
    return scenario
