"""Shared test builders: notification records, delivery contexts, lifecycle records, log capture.

Test modules import from here, never from each other.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from structlog.testing import CapturingLogger

from elb_simulator import ElbSimulator
from handler.assess import assess_check_job, assess_pool, attach_check
from handler.channels import DeliveryContext
from handler.config import Credentials
from handler.domain import Target
from handler.elb_model import check_job_from_api, pool_from_api
from handler.lifecycle import LifecycleSettings
from handler.notify import build_notification
from handler.pipeline import process
from handler.state import StateStore, open_store
from tests.support import DEMO_JOB, DEMO_POOL, api_job, api_member, api_pool, demo_scenario

DEMO_OBSERVED = "2026-11-21T12:14:23Z"
SMN_AK = "SMNTESTACCESSKEY0001"
SMN_SK = "smn-test-secret-key-0123456789abcdef"
PROJECT = "04dd36f964000fe22f9ac00bc85b1a1d"


def logged(log: CapturingLogger) -> list[dict[str, Any]]:
    """What a CapturingLogger was told, one dict per line: log_level, event and the fields."""
    return [{"log_level": call.method_name, "event": call.args[0], **call.kwargs} for call in log.calls]


def events(log: CapturingLogger, level: str) -> list[str]:
    """The events a CapturingLogger was told at one level, in order."""
    return [call.args[0] for call in log.calls if call.method_name == level]


# --- notification records (the channel renderers' and senders' input) ------------------------------

HOSTILE = (
    '**x** <at user_id="all"></at> <at id=all></at> <!channel> <!here> <@U024BE7LH> @all '
    "[x](http://evil.example) ![i](http://evil.example/i.png) `code` ~~gone~~ _it_ __b__ "
    "<font color=red>r</font> &lt;b&gt; | a | \\*"
)


def demo_record() -> dict[str, Any]:
    """The record `elb-master-watch invoke events/direct.json --simulate demo` returns (fixed time).

    Built by the real code from the demo scenario: the pool and the finished check job the
    simulator serves, assessed and turned into a notification by `build_notification`.
    """
    scenario = demo_scenario()
    pool = pool_from_api(scenario["pools"][0])
    verdict = assess_check_job(
        check_job_from_api({"job_id": DEMO_JOB, **scenario["jobs"][0]["member_check"]})
    )
    [finding] = attach_check(assess_pool(pool), verdict, Target(pool_id=DEMO_POOL, job_id=DEMO_JOB), pool)
    return build_notification(
        finding, region=scenario["region"], project_id=scenario["project_id"], observed_at=DEMO_OBSERVED
    )


def critical_record() -> dict[str, Any]:
    """Master and standby both down, the check job still running, one group without item details."""
    record = demo_record()
    record.update(
        severity="critical",
        fingerprint="9c1f00aa53e2b7d4",
        title="[CRITICAL] web-pool: master and standby both down",
        notification_reason="changed",
    )
    record["standby"].update(
        operating_status="OFFLINE",
        failed_listeners=["0b11747a-b139-492f-9692-2df0b1c87193"],
        reason_code="CONNECT_TIMEOUT",
        reason="the backend did not accept the health check connection in time",
    )
    record["check"].update(status="processing", finished=9, failed_groups=["acl", "config"])
    record["check"]["failed_items"] = record["check"]["failed_items"][:1]
    record["check"]["incomplete_groups"] = ["security_group"]
    return record


def resolved_record() -> dict[str, Any]:
    """The master is back: a resolved record (status resolved, severity info, fired as major)."""
    record = demo_record()
    record.update(
        status="resolved",
        severity="info",
        firing_severity=record["severity"],
        notification_reason="resolved",
        title="[RESOLVED] web-pool: master web-master-1 is ONLINE again",
        check=None,
    )
    record["master"].update(
        operating_status="ONLINE",
        failed_listeners=[],
        reason_code=None,
        reason=None,
        healthcheck_response=None,
    )
    return record


def hostile_record() -> dict[str, Any]:
    """Every cloud-originated string tries to format the message or mention someone."""
    record = demo_record()
    record["title"] = f"[MAJOR] {HOSTILE}: master down"
    record["pool"]["name"] = HOSTILE
    record["master"]["name"] = HOSTILE
    record["master"]["reason"] = "line one\n# heading\n> quote\n- list " + HOSTILE
    record["standby"]["name"] = "<@U024BE7LH>"
    for item in record["check"]["failed_items"]:
        item["severity"] = "**Major** <!channel>"
        item["reason"] = f"{item['reason']} {HOSTILE}"
    record["check"]["failed_items"].append({"group": "<at id=all></at>", "severity": "", "reason": HOSTILE})
    return record


def oversized_record(count: int = 300) -> dict[str, Any]:
    """A check job with `count` failed items, each a long Chinese reason."""
    record = demo_record()
    record["check"]["failed_groups"] = ["security_group"]
    record["check"]["failed_items"] = [
        {
            "group": "security_group",
            "name": f"sg_rule_{index}",
            "severity": "Major",
            "subject": "securityGroup",
            "reason": f"第{index}项：安全组规则不允许健康检查源地址访问后端服务器端口，"  # noqa: RUF001
            + "请检查入方向规则配置" * 18,
        }
        for index in range(count)
    ]
    return record


# --- delivery ----------------------------------------------------------------------------------------


def context(seconds: float = 5.0, **overrides: Any) -> DeliveryContext:
    """A context with fast retries (the behaviour is the same, the waits are shorter)."""
    settings: dict[str, Any] = {
        "deadline": time.monotonic() + seconds,
        "credentials": Credentials(SMN_AK, SMN_SK),
        "project_id": PROJECT,
        "retry_base": 0.02,
        **overrides,
    }
    return DeliveryContext(**settings)


# --- lifecycle -----------------------------------------------------------------------------------------

T0 = 1_800_000_000.0
POOL = "pool-1"
ACL_PORT = {"acl_check_hc_dest_port_ingress": {"params": ["80", "acl-7f3e2a1b"]}}
SG_SOURCE = {"security_group_check_hc_source_ip_ingress": {"params": ["100.125.0.0/16", "sg-web"]}}


def at(minute: float) -> float:
    """Epoch seconds of a minute of the scripted clock."""
    return T0 + minute * 60


def pool_records(
    master: str = "OFFLINE",
    standby: str = "ONLINE",
    *,
    code: str = "RESPONSE_MISMATCH",
    got: str = "503",
    failures: dict[str, Any] | None = None,
    pool_id: str = POOL,
    minute: float = 0,
) -> list[dict[str, Any]]:
    """The records the real assessment and notify code build for a master/standby pool."""
    reason = {"reason_code": code, "expected_response": "200", "healthcheck_response": got}
    members = [
        api_member("m-master", "master", master, name="web-master-1", reason=reason, address="172.16.0.210"),
        api_member("m-standby", "slave", standby, name="web-standby-1", address="172.16.0.211"),
    ]
    pool = pool_from_api(api_pool(members, pool_id=pool_id))
    findings = assess_pool(pool)
    if failures is not None:
        verdict = assess_check_job(check_job_from_api(api_job(failures, member_id="m-master")))
        findings = attach_check(findings, verdict, Target(pool_id=pool_id), pool)
    observed_at = f"minute {minute}"
    return [
        build_notification(f, region="cn-north-4", project_id="proj-1", observed_at=observed_at)
        for f in findings
    ]


# --- one lifecycle run against a real store (test_state_process, test_silences) -------------------

CHANNELS = ("chat", "email")


class Channels:
    """An in-process channel layer: records what each channel got, fails the channels it is told to."""

    def __init__(self) -> None:
        self.minute: float = 0
        self.failing: set[str] = set()
        self.calls = 0
        self.got: list[tuple[float, str, str, str]] = []
        self.on_send: Any = None

    def send(self, pairs: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
        self.calls += 1
        assert pairs, "send() must not be called with nothing to send"
        if self.on_send is not None:
            self.on_send()
        deliveries = []
        for record, channel in pairs:
            status = "failed" if channel in self.failing else "sent"
            self.got.append((self.minute, record.reason, channel, status))
            error = "HTTP 503 from the webhook" if status == "failed" else None
            deliveries.append(
                {
                    "fingerprint": record.fingerprint,
                    "channel": channel,
                    "status": status,
                    "attempts": 1,
                    "error": error,
                }
            )
        return deliveries

    def sent(self, channel: str) -> list[tuple[float, str]]:
        return [
            (minute, reason)
            for minute, reason, name, status in self.got
            if name == channel and status == "sent"
        ]


OPENED_STORES: list[StateStore] = []
"""Stores a test opened; conftest's close_stores closes them after each test."""


def opened(url: str) -> StateStore:
    store = open_store(url)
    assert store is not None
    OPENED_STORES.append(store)
    return store


def run(
    store: StateStore | None,
    channels: Channels,
    minute: float,
    records: list[dict[str, Any]],
    *,
    settings: LifecycleSettings | None = None,
    names: tuple[str, ...] = CHANNELS,
    owner: str = "",
    log: CapturingLogger | None = None,
) -> Any:
    channels.minute = minute
    return process(
        records,
        {POOL},
        store=store,
        channels=names,
        send=channels.send,
        now=at(minute),
        settings=settings or LifecycleSettings(),
        owner=owner or f"run-{minute}",
        log=log or CapturingLogger(),
    )


def point_at(sim: ElbSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the environment as a user of the SDK would: the endpoint override, keys, project, region."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", sim.credentials.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", sim.credentials.sk)
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", sim.project_id)
    monkeypatch.setenv("ELB_WATCH_REGION", sim.region)


class Clock:
    """A fake clock (wall and monotonic alike) that moves only when someone sleeps on it or moves `now`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
