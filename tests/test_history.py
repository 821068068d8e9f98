"""Episodes (handler.history), their summary (handler.report), and every store keeping them bounded.

The stores' history contract is in tests/test_state_store.py (memory, SQLite, a real redis-server).
The weekly report's record is rendered by all 8 channels within their size limits.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from handler import report
from handler.channels.delivery import render
from handler.channels.protocol import json_bytes
from handler.config import read_lifecycle_settings
from handler.events import parse_event
from handler.history import (
    FAILED_OVER,
    NO_FAILOVER,
    OUTAGE,
    Episode,
    HistoryBounds,
    episode_of,
    failover_state,
    merge,
)
from handler.lifecycle import AlertState
from handler.silences import new_silence
from handler.wording import report as report_words
from tests.support import load_event

NOW = 1_800_000_000.0
DAY = 86400.0


def episode(index: int, *, began: float | None = None, **changes: Any) -> Episode:
    base = Episode(
        fingerprint=f"fp-{index:05d}",
        first_seen=NOW - 3600 + index if began is None else began,
        subject={
            "pool": {"id": "pool-a", "name": "pay-db", "loadbalancer_ids": ["lb-1"]},
            "severity": "major",
        },
        failover=FAILED_OVER,
        cause={"failed_groups": [], "failed_items": [], "reason_code": "CONNECT_FAILED"},
    )
    return replace(base, **changes)


def test_the_history_bounds_are_settings_with_a_fallback():
    settings, problems = read_lifecycle_settings(
        {"ELB_WATCH_HISTORY_DAYS": "30", "ELB_WATCH_HISTORY_MAX": "500"}
    )
    assert settings.history == HistoryBounds(seconds=30 * DAY, count=500)
    assert problems == []
    settings, problems = read_lifecycle_settings(
        {"ELB_WATCH_HISTORY_DAYS": "0", "ELB_WATCH_HISTORY_MAX": "lots"}
    )
    assert settings.history == HistoryBounds()
    assert problems == [
        "ELB_WATCH_HISTORY_DAYS='0' must be a whole number from 1 to 366; using the default 90",
        "ELB_WATCH_HISTORY_MAX='lots' must be a whole number from 100 to 1000000; using the default 10000",
    ]


# ---- episodes from states -------------------------------------------------------------------------------


def record(kind: str, severity: str, standby: str | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "severity": severity,
        "pool": {"id": "pool-a", "name": "pay-db"},
        "master": {"operating_status": "OFFLINE", "reason_code": "CONNECT_FAILED"},
        "standby": {"operating_status": standby} if standby else None,
    }


@pytest.mark.parametrize(
    ("kind", "severity", "standby", "expected"),
    [
        ("master_failed", "major", "ONLINE", FAILED_OVER),
        ("master_failed", "critical", "OFFLINE", OUTAGE),
        ("master_failed", "critical", None, OUTAGE),
        ("no_master", "critical", "OFFLINE", OUTAGE),
        ("no_master", "warning", "ONLINE", NO_FAILOVER),
        ("standby_failed", "warning", "OFFLINE", NO_FAILOVER),
        ("no_monitor", "warning", "ONLINE", NO_FAILOVER),
    ],
)
def test_failover_state_says_whether_the_standby_serves_or_nothing_does(kind, severity, standby, expected):
    assert failover_state(record(kind, severity, standby)) == expected


def alert(state: str, **changes: Any) -> AlertState:
    base = AlertState(
        fingerprint="fp-1",
        scope="pool-a",
        state=state,  # type: ignore[arg-type]
        first_seen=NOW - 1200,
        last_seen=NOW,
        reason_digest="m.c",
        record=record("master_failed", "major", "ONLINE"),
    )
    return replace(base, **changes)


def test_a_pending_state_is_no_episode_and_a_resolved_one_ends_when_first_seen_gone():
    assert episode_of(alert("pending"), now=NOW, sent=False) is None
    done = episode_of(alert("resolved", absent_since=NOW - 300, resolved_at=NOW), now=NOW, sent=True)
    assert done is not None
    assert done.resolved_at == NOW - 300
    assert done.notified_at is None  # a sent resolved notice is not the alert's notification
    assert done.duration == 900


def test_a_silenced_episode_says_which_silence_held_it():
    held = new_silence({"pool": "pool-a"}, now=NOW, duration=3600, comment="maintenance")
    seen = episode_of(alert("firing"), now=NOW, sent=False, silence=held)
    assert seen is not None
    assert seen.silenced_by == ({"id": held.id, "by": "", "comment": "maintenance"},)
    assert seen.acknowledged_by is None


def test_merging_into_nothing_is_the_episode_itself():
    assert merge(None, episode(1)) == episode(1)


# ---- the summary ----------------------------------------------------------------------------------------


def test_mttr_is_the_mean_and_nearest_rank_p90_of_the_resolved_episodes():
    durations = [60, 120, 180, 240, 300, 360, 420, 480, 540, 6000]
    episodes = [episode(i, resolved_at=NOW - 3600 + i + d) for i, d in enumerate(durations)]
    episodes.append(episode(20))  # still open: counted, not in MTTR
    (pool,) = report.summary(episodes)["pools"]
    assert pool["episodes"] == 11
    assert pool["mttr_seconds"] == {"mean": 870.0, "p90": 540.0}
    assert report.p90([5.0]) == 5.0


def test_top_cause_is_the_most_common_failed_item_then_reason_code():
    items = {
        "failed_groups": ["acl"],
        "failed_items": [{"group": "acl", "name": "acl_deny"}],
        "reason_code": None,
    }
    episodes = [episode(1, cause=items), episode(2, cause=items), episode(3), episode(4), episode(5)]
    assert report.summary(episodes)["pools"][0]["top_cause"] == "CONNECT_FAILED"
    assert report.summary(episodes[:3])["pools"][0]["top_cause"] == "acl_deny"


def test_episodes_about_no_pool_are_listed_but_in_no_pool_row():
    watcher = episode(
        1, subject={"pool": None, "kind": "watcher_error", "severity": "major"}, failover=NO_FAILOVER
    )
    found = report.summary([watcher, episode(2)])
    assert [e["fingerprint"] for e in found["episodes"]] == ["fp-00002", "fp-00001"]
    assert [row["pool_id"] for row in found["pools"]] == ["pool-a"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 7 * DAY), ("2w", 14 * DAY), ("36h", 36 * 3600.0), ("90m", 5400.0)]
)
def test_since_reads_days_weeks_hours_and_minutes(text, seconds):
    assert report.parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "400d", "soon", "-1d"])
def test_a_bad_since_is_refused(text):
    with pytest.raises(ValueError, match="--since"):
        report.parse_since(text)


def test_match_globs_any_value_of_a_route_match_key_and_ands_them():
    two_lbs = episode(
        1, subject={"pool": {"id": "pool-a", "name": "pay-db", "loadbalancer_ids": ["lb-1", "lb-2"]}}
    )
    other = episode(2, subject={"pool": {"id": "pool-b", "name": "web", "loadbalancer_ids": ["lb-3"]}})
    both = [two_lbs, other]
    assert report.matching(both, report.parse_matchers(["loadbalancer_id=lb-2"])) == [two_lbs]
    assert report.matching(both, report.parse_matchers(["pool_name=pay-*", "pool_id=pool-a"])) == [two_lbs]
    assert report.matching(both, report.parse_matchers(["pool_name=pay-*", "pool_id=pool-b"])) == []
    assert report.matching(both, []) == both
    with pytest.raises(ValueError, match="only '='"):
        report.parse_matchers(["pool_name!=pay"])


# ---- the weekly report in every channel ----------------------------------------------------------------


def big_report(locale: str = "en") -> dict[str, Any]:
    episodes = [
        episode(
            i, subject={"pool": {"id": f"pool-{i}", "name": "支付-db-" * 8 + str(i)}}, resolved_at=NOW - 100
        )
        for i in range(200)
    ]
    found = report.summary(episodes)
    return report.report_record(found, since=NOW - 7 * DAY, now=NOW, locale=locale)


def shown(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_all_eight_channels_render_the_weekly_report_within_their_limits(locale):
    record = big_report(locale)
    say = report_words(locale)
    first_line = record["report"]["lines"][0]
    sizes = {
        "feishu": lambda p: len(json_bytes(p)) + 120 <= 20_000,
        "dingtalk": lambda p: len(json_bytes(p)) <= 20_000,
        "wecom": lambda p: len(p["markdown"]["content"].encode("utf-8")) <= 4096,
        "slack": lambda p: (
            len(p["blocks"]) <= 50
            and all(
                len(b.get("text", {}).get("text", "")) <= 3000 for b in p["blocks"] if b["type"] == "section"
            )
        ),
        "smn": lambda p: (
            len(p["message_structure"].encode("utf-8")) <= 256 * 1024
            and len(p["subject"].encode("utf-8")) <= 512
        ),
        "teams": lambda p: len(json_bytes(p)) <= 28_000,
        "welink": lambda p: len(p["content"]["text"]) <= 500,
        "webhook": lambda p: len(json_bytes(p)) <= 1024 * 1024,
    }
    for channel, fits in sizes.items():
        payload = render(channel, record, locale)
        assert fits(payload), channel
        text = shown(payload)
        assert record["title"][:40] in text, channel
        if channel != "welink":  # 500 characters: the title, the totals, the rest cut
            assert first_line[:30] in text, channel
        if channel not in {"welink", "webhook"}:  # the webhook carries the record, not labels
            assert say["totals"] in text, channel


def test_a_report_says_how_many_pools_it_left_out():
    record = big_report()
    assert len(record["report"]["pools"]) == report.MAX_REPORT_POOLS
    assert record["report"]["lines"][-1].startswith("… and 180 more pools")
    assert record["severity"] == "info"
    assert record["kind"] == "report"


# ---- the report event -----------------------------------------------------------------------------------


def test_a_report_event_is_read_from_a_direct_call_or_a_timer_and_names_no_target():
    direct = parse_event({"report": "weekly", "channels": ["ops-mail"]})
    assert direct.errors == ()
    assert direct.targets == ()
    assert direct.report is not None
    assert (direct.report.kind, direct.report.channels) == ("weekly", ("ops-mail",))
    timer = parse_event(load_event("report_weekly.json"))
    assert timer.source == "timer"
    assert timer.report is not None
    assert timer.report.channels is None


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"report": "daily"}, "report must be one of ['weekly'], got 'daily'"),
        ({"report": "weekly", "pool_id": "p"}, "unknown field(s) ['pool_id'] beside 'report'"),
        ({"report": "weekly", "channels": "ops"}, "must be a list of receiver names"),
    ],
)
def test_a_bad_report_event_says_what_is_wrong(event, problem):
    parsed = parse_event(event)
    assert parsed.report is None
    assert len(parsed.errors) == 1
    assert problem in f"{parsed.errors[0].where} {parsed.errors[0].message}"
