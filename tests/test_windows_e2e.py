"""A route muted by a recurring window holds its alert, which is owed (issue 22 item 2), end to end.

Real handler, ELB simulator, SQLite store, a loopback Slack receiver; the wall clock is passed in.
Saturday 03:00 in Shanghai the route is muted by `sat-night` (02:00-04:00): nothing is sent and the
result says until when. After 04:00 the alert, still firing, is sent once. An alert that resolved
during the window is never sent at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from elb_simulator.server import ElbSimulator
from handler.app import invoke
from handler.commands import alerts
from tests.builders import point_at
from tests.receivers import SlackReceiver
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(hour: int, minute: int = 0) -> float:
    """Saturday 16 January 2027 at this time in Shanghai, as epoch seconds."""
    return datetime(2027, 1, 16, hour, minute, tzinfo=SHANGHAI).timestamp()


ROUTES = {
    "receivers": [{"name": "web-slack", "slack": {"webhook": "${WEB_SLACK_URL}"}}],
    "time_intervals": [
        {
            "name": "sat-night",
            "time_intervals": [
                {
                    "weekdays": ["saturday"],
                    "times": [{"start_time": "02:00", "end_time": "04:00"}],
                    "location": "Asia/Shanghai",
                }
            ],
        }
    ],
    "routes": [
        {"match": {"pool_id": DEMO_POOL}, "receivers": ["web-slack"], "mute_time_intervals": ["sat-night"]}
    ],
}


@pytest.fixture
def watched(monkeypatch, tmp_path):
    scenario = demo_scenario()
    with ElbSimulator(scenario) as sim, SlackReceiver() as slack:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("WEB_SLACK_URL", slack.url)
        path = tmp_path / "routes.json"
        path.write_text(json.dumps(ROUTES), encoding="utf-8")
        monkeypatch.setenv("ELB_WATCH_ROUTES", str(path))
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "1")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield sim, slack, scenario


def run_at(moment: float) -> dict:
    return invoke({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=60_000), wall_clock=lambda: moment)


def recover(sim, scenario) -> None:
    for pool in scenario["pools"]:
        for member in pool["members"]:
            member["reason"] = None
            member["status"] = [dict(s, operating_status="ONLINE") for s in member["status"]]
        sim.set_pool(pool)


def test_a_muted_route_holds_the_alert_until_the_window_ends_then_sends_it_once(watched):
    _, slack, _ = watched
    first = run_at(shanghai(3))
    assert first["errors"] == []
    assert first["notifications"] == []
    assert slack.accepted == []
    assert {d["status"] for d in first["deliveries"]} == {"muted"}
    held = [entry for entry in first["held"] if entry.get("time_interval")]
    assert held
    assert {entry["why"] for entry in held} == {"muted by time interval sat-night until 2027-01-15T20:00:00Z"}
    assert {entry["muted_until"] for entry in held} == {"2027-01-15T20:00:00Z"}
    assert all(entry["receivers"] == ["web-slack"] for entry in held)
    # Still inside the window: held again, nothing sent.
    assert run_at(shanghai(3, 30))["notifications"] == []
    assert slack.accepted == []
    # The window is over: each alert goes out once, and not again.
    after = run_at(shanghai(4, 5))
    assert after["notifications"]
    assert {(d["receiver"], d["status"]) for d in after["deliveries"]} == {("web-slack", "sent")}
    sent = len(slack.accepted)
    assert sent >= 1
    again = run_at(shanghai(4, 10))
    assert again["notifications"] == []
    assert len(slack.accepted) == sent


def test_alerts_list_says_a_route_is_muted_and_until_when(watched, capsys):
    run_at(shanghai(3))
    capsys.readouterr()
    assert alerts(output="json", include_resolved=False, now=shanghai(3, 10)) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert {row["muted_by"] for row in rows} == {"sat-night"}
    assert {row["muted_until"] for row in rows} == {"2027-01-15T20:00:00Z"}
    assert alerts(output="text", include_resolved=False, now=shanghai(3, 10)) == 0
    text = capsys.readouterr().out
    assert "muted by time interval sat-night until 2027-01-15T20:00:00Z (50m left)" in text


def test_an_alert_that_resolved_during_the_window_is_never_sent(watched, capsys):
    sim, slack, scenario = watched
    first = run_at(shanghai(3))
    assert first["notifications"] == []
    recover(sim, scenario)
    resolved = run_at(shanghai(3, 20))
    assert resolved["notifications"] == []
    assert resolved["deliveries"] == []
    never = [entry for entry in resolved["held"] if entry["state"] == "resolved"]
    assert never
    assert {entry["why"] for entry in never} == {
        "resolved while a time interval held it: it was never notified, so nothing is sent"
    }
    after = run_at(shanghai(4, 5))
    assert after["notifications"] == []
    assert after["deliveries"] == []
    assert slack.accepted == []
    capsys.readouterr()
    assert alerts(output="json", include_resolved=True, now=shanghai(4, 10)) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all(row["never_notified"] and row["muted_by"] is None for row in rows)


def test_an_alert_sent_before_the_window_gets_its_resolved_notice_after_it(watched):
    sim, slack, scenario = watched
    run_at(shanghai(1, 50))
    told = len(slack.accepted)
    assert told >= 1
    recover(sim, scenario)
    during = run_at(shanghai(3))
    assert during["notifications"] == []
    assert {d["status"] for d in during["deliveries"]} == {"muted"}
    assert len(slack.accepted) == told
    after = run_at(shanghai(4, 5))
    assert {n["status"] for n in after["notifications"]} == {"resolved"}
    assert {d["status"] for d in after["deliveries"]} == {"sent"}
    assert len(slack.accepted) > told
