"""Notifications end to end: real handler, ELB simulator, loopback chat/SMN receivers, a state store."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime
from typing import Any

import pytest

from handler.app import WARM, invoke
from tests.receivers import Reply, running_receivers
from tests.support import DEMO_POOL, PlatformContext, demo_scenario, load_event

pytest_plugins = ("tests.redis_server",)

T0 = 1_795_000_000.0  # the scripted hour's minute 0 (wall clock, seconds)
HEALTHY_POOL = copy.deepcopy(demo_scenario()["pools"][0])
HEALTHY_POOL["members"][0]["status"] = []
HEALTHY_POOL["members"][0]["reason"] = None
FAILED_POOL = copy.deepcopy(demo_scenario()["pools"][0])


@pytest.fixture
def receivers(simulator, monkeypatch):
    """All six receivers, signing secrets on, SMN accepting the simulator's keys; env points at them."""
    with running_receivers(
        secret="e2e-signing-secret-0001", smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk
    ) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        yield running


def by_channel(result):
    return {d["channel"]: d["status"] for d in result["deliveries"]}


def test_one_failed_master_reaches_every_channel(receivers, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    result = invoke(load_event("direct.json"), PlatformContext())
    assert result["ok"] is True
    assert by_channel(result) == dict.fromkeys(
        ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams"), "sent"
    )
    for receiver in receivers.all():
        assert len(receiver.accepted) == 1, type(receiver).__name__
    [envelope] = receivers.webhook.accepted
    assert envelope["alerts"][0]["record"]["title"].startswith("[MAJOR] web-pool: master web-master-1 down")
    smn = receivers.smn.accepted[0]
    assert smn["subject"].startswith("[MAJOR] web-pool")
    assert result["deduplication"] == "off"


def test_a_warm_instance_builds_its_smn_client_once(receivers, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")  # every run sends
    WARM.smn_clients.clear()
    for _ in range(3):
        result = invoke({"pool_id": DEMO_POOL, "channels": ["smn"]}, PlatformContext())
        assert by_channel(result)["smn"] == "sent"
    assert len(receivers.smn.accepted) == 3
    assert len(WARM.smn_clients) == 1


def test_event_channels_narrow_delivery(receivers):
    result = invoke({"pool_id": DEMO_POOL, "channels": ["feishu", "smn"]}, PlatformContext())
    assert by_channel(result) == {
        "smn": "sent",
        "feishu": "sent",
        "dingtalk": "skipped",
        "wecom": "skipped",
        "slack": "skipped",
        "webhook": "skipped",
        "welink": "skipped",
        "teams": "skipped",
    }
    assert len(receivers.feishu.accepted) == 1
    assert receivers.slack.accepted == []


def test_unknown_channel_in_the_event_is_an_event_error(receivers):
    result = invoke({"pool_id": DEMO_POOL, "channels": ["pager"]}, PlatformContext())
    assert result["errors"][0]["code"] == "EVENT.INVALID"
    assert result["errors"][0]["where"] == "channels"
    assert all(not receiver.received for receiver in receivers.all())


def test_a_channel_that_is_down_costs_the_others_nothing(receivers, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    receivers.slack.fail_with(*[Reply(500)] * 5)
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    statuses = by_channel(result)
    assert statuses.pop("slack") == "failed"
    assert set(statuses.values()) == {"sent"}
    assert result["notifications"][0]["kind"] == "master_failed", "the record is in the result regardless"


def test_channel_secrets_never_reach_logs_or_result(receivers, capsys):
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    text = str(result) + capsys.readouterr().out
    assert "e2e-signing-secret-0001" not in text
    assert receivers.wecom.url.split("key=")[-1] not in text


# --- the scripted hour ----------------------------------------------------------------------------


def store_url(kind, tmp_path, request):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("redis_url")


def minute_of(record: dict[str, Any]) -> int:
    observed = datetime.fromisoformat(record["observed_at"].replace("Z", "+00:00")).timestamp()
    return round((observed - T0) / 60)


def timeline(receiver) -> list[tuple[int, str]]:
    """(minute, notification_reason) of every notification a webhook consumer accepted."""
    return [
        (minute_of(e["alerts"][0]["record"]), e["alerts"][0]["record"]["notification_reason"])
        for e in receiver.accepted
    ]


def feishu_timeline(receiver, results_by_minute) -> list[int]:
    return sorted(
        {minute for minute, result in results_by_minute.items() if by_channel(result).get("feishu") == "sent"}
    )


def pool_at(minute: int) -> dict[str, Any]:
    """Master fails at 5, flaps at 20-22 (up, down, up), is down again from 23, recovers at 40."""
    if minute < 5 or minute in {20, 22} or minute >= 40:
        return HEALTHY_POOL
    return FAILED_POOL


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_scripted_hour_says_it_once_and_announces_recovery(kind, simulator, receivers, monkeypatch, request):
    tmp_path = request.getfixturevalue("tmp_path")
    monkeypatch.setenv("ELB_WATCH_STATE", store_url(kind, tmp_path, request))
    for name in ("SMN_TOPIC_URN", "DINGTALK_WEBHOOK", "DINGTALK_SECRET", "WECOM_WEBHOOK", "SLACK_WEBHOOK"):
        monkeypatch.delenv(f"ELB_WATCH_{name}")
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    timer = load_event("timer.json") | {"user_event": json.dumps({"pool_id": DEMO_POOL})}
    results = {}
    for minute in range(60):
        simulator.set_pool(pool_at(minute))
        if minute == 5:
            receivers.feishu.fail_with(Reply(500), Reply(500))  # Feishu is down when the master fails
        results[minute] = invoke(timer, PlatformContext(), wall_clock=lambda m=minute: T0 + 60 * m)
        assert results[minute]["deduplication"] == "on"
    assert timeline(receivers.webhook) == [(5, "first"), (41, "resolved")]
    assert [m for m in range(60) if by_channel(results[m]).get("feishu") == "sent"] == [6, 41]
    resolved = results[41]["notifications"][0]
    assert resolved["status"] == "resolved"
    assert resolved["severity"] == "info"
    assert "back ONLINE" in resolved["title"]
    assert sum(len(r["notifications"]) for r in results.values()) == 3  # first, Feishu's catch-up, resolved


def test_two_invocations_at_once_notify_once(simulator, receivers, monkeypatch, tmp_path):
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        results.append(invoke({"pool_id": DEMO_POOL}, PlatformContext()))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    for receiver in receivers.all():
        assert len(receiver.accepted) == 1, type(receiver).__name__


def test_unreachable_store_still_notifies_and_says_so(simulator, receivers, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "redis://127.0.0.1:9/0")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["deduplication"] == "unavailable"
    assert set(by_channel(result).values()) == {"sent"}
    assert result["notifications"][0]["notification_reason"] == "first"
