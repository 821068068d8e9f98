"""Storm-proof delivery end to end: many failed masters, chat services that enforce their rate limits.

Real handler, ELB simulator fleet, SQLite store, loopback receivers that refuse like the real services
when sent to faster than their documented limits.
"""

from __future__ import annotations

import json
import re

import pytest

from elb_simulator.server import ElbSimulator
from handler.app import invoke
from tests.builders import point_at
from tests.receivers import Reply, running_receivers
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

CHANNELS = ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams")
POOL_NAME = re.compile(r"fleet-pool-\d{5}")


@pytest.fixture
def storm(monkeypatch, tmp_path):
    """A fleet of 50 pools whose masters all failed, every channel configured and rate-limited."""
    scenario = demo_scenario()
    scenario["pools"], scenario["jobs"] = [], []
    scenario["fleet"] = {"pools": 50, "failed_ratio": 1.0, "seed": 11, "loadbalancers": 5}
    with ElbSimulator(scenario) as sim:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        with running_receivers(
            secret="storm-signing-secret-01", smn_ak=sim.credentials.ak, smn_sk=sim.credentials.sk
        ) as receivers:
            for name, value in receivers.env().items():
                monkeypatch.setenv(name, value)
            receivers.enforce_limits()
            yield receivers


def named_pools(receiver) -> list[str]:
    """Every pool name each accepted message mentions (a pool named twice in one message counts once)."""
    names: list[str] = []
    for payload in receiver.accepted:
        names.extend(sorted(set(POOL_NAME.findall(json.dumps(payload, ensure_ascii=False)))))
    return names


def test_fifty_failed_masters_reach_every_channel_within_every_limit(storm):
    result = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert result["errors"] == []
    assert len(result["notifications"]) == 50  # one record per finding, whatever the channels got
    statuses = {(d["channel"], d["status"]) for d in result["deliveries"]}
    assert statuses == {(channel, "sent") for channel in CHANNELS}
    assert len(result["deliveries"]) == 50 * len(CHANNELS)
    everyone = {f"fleet-pool-{index:05d}" for index in range(50)}
    for receiver in storm.all():
        label = type(receiver).__name__
        assert receiver.refused == 0, label
        names = named_pools(receiver)
        # Every failed master is named, and no message repeats a pool another message already named.
        assert sorted(names) == sorted(everyone), label
        assert len(receiver.accepted) <= 10, (label, len(receiver.accepted))  # WeLink: 500 characters each
    [envelope] = storm.webhook.accepted
    assert len(envelope["alerts"]) == 50
    assert envelope["groupLabels"] == {"severity": "major", "status": "firing"}
    titles = [payload["markdown"]["title"] for payload in storm.dingtalk.accepted]
    assert titles == ["[MAJOR] 50 pools: master down, traffic on standby"]

    again = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert again["notifications"] == []
    assert again["deliveries"] == []
    assert all(len(receiver.received) == len(receiver.accepted) for receiver in storm.all())
    assert {entry["why"] for entry in again["held"]} == {"already notified"}


def test_digests_split_to_fit_wecom_and_slack_and_each_part_counts(storm):
    invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    for receiver in (storm.wecom, storm.slack):
        assert len(receiver.accepted) > 1, type(receiver).__name__  # 50 lines do not fit one message
    contents = [payload["markdown"]["content"] for payload in storm.wecom.accepted]
    parts = len(contents)
    for index, content in enumerate(contents, start=1):
        assert len(content.encode("utf-8")) <= 4096
        assert content.startswith(f"### [MAJOR] 50 pools: master down, traffic on standby ({index}/{parts})")


def test_a_throttled_channel_is_owed_and_catches_up_once_on_the_next_run(storm):
    storm.dingtalk.fail_with(Reply(200, {"errcode": 130101, "errmsg": "send too fast"}))
    first = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    dingtalk = {d["status"] for d in first["deliveries"] if d["channel"] == "dingtalk"}
    assert dingtalk == {"throttled"}
    assert storm.dingtalk.accepted == []
    assert all(len(receiver.accepted) >= 1 for receiver in storm.all() if receiver is not storm.dingtalk)

    second = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert {d["channel"] for d in second["deliveries"]} == {"dingtalk"}
    assert {d["status"] for d in second["deliveries"]} == {"sent"}
    assert sorted(named_pools(storm.dingtalk)) == sorted(f"fleet-pool-{i:05d}" for i in range(50))

    third = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert third["deliveries"] == []


def test_what_does_not_fit_the_time_left_is_deferred_and_sent_next_run_never_twice(storm, monkeypatch):
    # One message per finding (no grouping) and Slack's 1/s: a 4 s invocation cannot send 50.
    storm.enforce_limits(on=False)
    storm.slack.enforce_limits()
    monkeypatch.setenv("ELB_WATCH_GROUP_THRESHOLD", "1000")
    first = invoke({"sweep": {}, "channels": ["slack"]}, PlatformContext(remaining_ms=4_000))
    slack = [d for d in first["deliveries"] if d["channel"] == "slack"]
    sent = {d["fingerprint"] for d in slack if d["status"] == "sent"}
    deferred = {d["fingerprint"] for d in slack if d["status"] == "deferred"}
    assert 1 <= len(sent) < 50
    assert len(sent) + len(deferred) == 50
    assert all("owed to the next run" in d["error"] for d in slack if d["status"] == "deferred")
    second = invoke({"sweep": {}, "channels": ["slack"]}, PlatformContext(remaining_ms=4_000))
    again = {d["fingerprint"] for d in second["deliveries"] if d["status"] == "sent"}
    assert again
    assert again <= deferred  # only what was owed; nothing sent twice
    assert storm.slack.refused == 0  # the second run also respected the first run's sends (store history)
    assert len(storm.slack.accepted) == len(sent) + len(again)


# --- narrowing and bad settings, on the demo pool ----------------------------------------------------


@pytest.fixture
def demo(simulator, monkeypatch, tmp_path):
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    with running_receivers(
        secret="demo-signing-secret-01", smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk
    ) as receivers:
        for name, value in receivers.env().items():
            monkeypatch.setenv(name, value)
        yield receivers


def test_a_narrowed_run_leaves_the_other_channels_owed_and_each_gets_the_alert_once(demo):
    narrowed = invoke({"pool_id": DEMO_POOL, "channels": ["webhook"]}, PlatformContext())
    statuses = {d["channel"]: d["status"] for d in narrowed["deliveries"]}
    assert statuses == {channel: "sent" if channel == "webhook" else "skipped" for channel in CHANNELS}
    full = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert {d["channel"]: d["status"] for d in full["deliveries"]} == {
        channel: "sent" for channel in CHANNELS if channel != "webhook"
    }
    assert invoke({"pool_id": DEMO_POOL}, PlatformContext())["deliveries"] == []
    for receiver in demo.all():
        assert len(receiver.accepted) == 1, type(receiver).__name__


def test_one_unusable_channel_setting_costs_only_that_channel(demo, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_DINGTALK_WEBHOOK", "http://robot.example/send?access_token=abc")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    [error] = result["errors"]
    assert error["code"] == "CONFIG.INVALID"
    assert "ELB_WATCH_DINGTALK_WEBHOOK" in error["message"]
    assert "dingtalk channel is off" in error["message"]
    # The alert, and the watcher telling the other channels that one of them is off.
    assert sorted(record["kind"] for record in result["notifications"]) == ["master_failed", "watcher_error"]
    assert result["targets"][0]["status"] != "error"
    assert {(d["channel"], d["status"]) for d in result["deliveries"]} == {
        (channel, "sent") for channel in CHANNELS if channel != "dingtalk"
    }
    assert demo.dingtalk.received == []


def test_without_a_store_what_was_not_sent_is_listed_as_undelivered(demo, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    demo.slack.fail_with(*[Reply(500, "rollup_error")] * 10)
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    result = invoke({"pool_id": DEMO_POOL, "channels": ["slack", "webhook"]}, PlatformContext())
    undelivered = {(entry["channel"], entry["status"]) for entry in result["undelivered"]}
    assert ("slack", "failed") in undelivered
    assert ("feishu", "skipped") in undelivered  # narrowed out, and nothing remembers it is owed
    assert ("webhook", "sent") not in undelivered
    assert all(entry["fingerprint"] for entry in result["undelivered"])
