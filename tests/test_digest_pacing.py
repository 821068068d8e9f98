"""The pure parts of storm-proof delivery: digests, their splitting per channel, and pacing."""

from __future__ import annotations

import json

import pytest

from handler.channels import smn, webhook
from handler.channels.config import Channel
from handler.channels.delivery import MODULES, plan, rate_limits
from handler.channels.digest import build, split
from handler.channels.pacing import Pacer, decode_history, encode_history
from tests.builders import Clock


def record(index: int, *, severity: str = "major", kind: str = "master_failed", status: str = "firing"):
    name = f"pool-{index:04d}"
    return {
        "schema": "elb-master-watch/v1",
        "status": status,
        "severity": severity,
        "kind": kind,
        "fingerprint": f"fp{index:014d}",
        "title": f"[{severity.upper()}] {name}: master m-{index} down, traffic failed over to s-{index}",
        "text": "…",
        "region": "cn-north-4",
        "project_id": "p" * 32,
        "observed_at": "2026-11-29T20:00:00Z",
        "pool": {"id": f"id-{index}", "name": name, "protocol": "TCP"},
        "master": {
            "id": f"m-{index}",
            "name": f"m-{index}",
            "operating_status": "OFFLINE",
            "reason_code": "CONNECT_REFUSED",
            "reason": "the backend refused the health check connection",
        },
        "check": {
            "job_id": f"job-{index}",
            "failed_items": [
                {"group": "security_group", "name": "sg", "severity": "Major", "reason": "port 80 blocked"}
            ],
        },
    }


@pytest.mark.parametrize("name", sorted(n for n, m in MODULES.items() if getattr(m, "DIGESTS", True)))
@pytest.mark.parametrize("count", [4, 50, 500])
def test_every_finding_is_in_exactly_one_part_and_every_part_fits(name, count):
    module = MODULES[name]
    [digest] = build([record(i) for i in range(count)])
    parts = split(digest, module.digest_fits)
    seen = [fp for part in parts for fp in part.fingerprints]
    assert sorted(seen) == sorted(f"fp{i:014d}" for i in range(count))
    assert all(module.digest_fits(part) for part in parts)
    assert [part.part for part in parts] == list(range(1, len(parts) + 1))
    assert {part.parts for part in parts} == {len(parts)}
    if len(parts) > 1:
        assert parts[0].message.title.endswith(f"(1/{len(parts)})")
    # Rendering a part never trims a line ("… and N more" appears only when a renderer had to cut).
    for part in parts:
        assert "more" not in str(module.render_digest(part)).split("pool-")[-1]


def test_digest_title_counts_and_names_the_kind_and_lines_name_pool_master_reason_and_check_item():
    [digest] = build([record(i) for i in range(12)])
    assert digest.message.title == "[MAJOR] 12 pools: master down, traffic on standby"
    line = digest.message.items[0].text
    assert line.startswith("pool-0000: master m-0 down")
    assert "the backend refused the health check connection" in line
    assert "security group: port 80 blocked" in line


def test_bands_are_per_status_and_severity_most_severe_first_and_sorted_by_pool_name():
    records = [record(3, severity="critical"), record(1), record(2, severity="critical"), record(0)]
    records.append(record(9, status="resolved", severity="info"))
    digests = build(records)
    assert [d.key for d in digests] == ["firing:critical", "firing:major", "resolved:info"]
    assert digests[0].message.title == "[CRITICAL] 2 pools: master down, no failover"
    assert [r["pool"]["name"] for r in digests[0].records] == ["pool-0002", "pool-0003"]
    assert digests[2].message.title == "[RESOLVED] 1 pool: recovered"


def test_mixed_kinds_in_a_band_get_a_neutral_title():
    [digest] = build([record(0, severity="warning", kind="standby_failed"), record(1, severity="warning")])
    assert digest.message.title == "[WARNING] 2 pools: need attention"


def test_chinese_digest_titles():
    [digest] = build([record(i) for i in range(5)], locale="zh")
    assert digest.message.title == "[重要] 5 个后端服务器组: 主节点故障，流量已切到备节点"  # noqa: RUF001


def test_a_channel_gets_one_message_each_up_to_the_threshold_then_digests():
    channel = Channel("dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=x")
    assert len(plan(channel, [record(i) for i in range(3)], group_threshold=3)) == 3
    [unit] = plan(channel, [record(i) for i in range(4)], group_threshold=3)
    assert len(unit.records) == 4
    assert unit.digest == {"title": "[MAJOR] 4 pools: master down, traffic on standby", "part": 1, "parts": 1}


def test_the_webhook_digest_is_one_alertmanager_envelope_with_every_alert():
    [digest] = build([record(i) for i in range(7)])
    envelope = webhook.render_digest(digest)
    assert len(envelope["alerts"]) == 7
    assert envelope["truncatedAlerts"] == 0
    assert envelope["commonLabels"]["severity"] == "major"
    assert "pool_id" not in envelope["commonLabels"]


def test_smn_digest_mails_every_line_and_texts_one_line_that_counts():
    [digest] = build([record(i) for i in range(30)])
    structure = json.loads(smn.render_digest(digest)["message_structure"])
    assert all(f"pool-{i:04d}" in structure["email"] for i in range(30))
    assert structure["sms"].startswith("(MAJOR) 30 pools: master down")
    assert "\n" not in structure["sms"]
    assert len(json.loads(structure["https"])["notifications"]) == 30


def test_every_chat_channel_declares_its_documented_limits():
    assert rate_limits("dingtalk") == ((20, 60.0),)
    assert rate_limits("wecom") == ((20, 60.0),)
    assert rate_limits("feishu") == ((5, 1.0), (100, 60.0))
    assert rate_limits("slack") == ((1, 1.0),)
    assert rate_limits("teams") == ((4, 1.0), (60, 30.0))
    assert rate_limits("nonesuch") == ()


def test_the_pacer_waits_for_room_in_every_window():
    clock = Clock(1000.0)
    pacer = Pacer(((2, 10.0),), wall_clock=clock, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        assert pacer.admit(deadline=clock.now + 100)
        pacer.finished()
    assert clock.slept == []
    assert pacer.admit(deadline=clock.now + 100)
    assert clock.slept == [pytest.approx(10.05)]


def test_the_pacer_says_no_at_once_when_the_slot_is_past_the_deadline():
    clock = Clock(1000.0)
    pacer = Pacer(((1, 60.0),), wall_clock=clock, clock=clock, sleep=clock.sleep)
    assert pacer.admit(deadline=clock.now + 5)
    pacer.finished()
    assert not pacer.admit(deadline=clock.now + 5)
    assert clock.slept == []


def test_the_pacer_carries_history_from_an_earlier_invocation():
    clock = Clock(1000.0)
    earlier = Pacer(((1, 60.0),), wall_clock=clock, clock=clock, sleep=clock.sleep)
    earlier.admit(deadline=clock.now + 1)
    earlier.finished()
    text = encode_history(earlier.history())
    clock.now += 30
    later = Pacer(
        ((1, 60.0),), history=decode_history(text), wall_clock=clock, clock=clock, sleep=clock.sleep
    )
    assert not later.admit(deadline=clock.now + 20)  # 30 s more would be needed
    assert later.admit(deadline=clock.now + 40)
    assert clock.slept == [pytest.approx(30.05, abs=0.01)]


@pytest.mark.parametrize("raw", [None, "", "not json", "{}", "[1e999]", '["x", true, null]', "[" * 5000])
def test_unreadable_pacer_history_is_no_history(raw):
    assert decode_history(raw) == [] or all(isinstance(v, float) for v in decode_history(raw))
