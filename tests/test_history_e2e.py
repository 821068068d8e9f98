"""History end to end (issue 24 item 4): episodes kept by the handler, `alerts history`, the weekly report.

Real handler on the ELB simulator, a SQLite store, a loopback Slack receiver; the wall clock is passed
in. The demo pool fails over twice (master OFFLINE, standby ONLINE) and has one outage (both OFFLINE),
each resolved after 10, 20 and 30 minutes: 3 episodes, 2 failovers, 1 outage, MTTR mean 20 min, p90 30 min.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from elb_simulator.server import ElbSimulator
from handler.app import invoke
from handler.commands import alerts_history
from handler.state.sqlite_store import SqliteStore
from tests.builders import point_at
from tests.receivers import SlackReceiver, WebhookReceiver
from tests.support import DEMO_POOL, PlatformContext, demo_scenario, load_event
from tests.test_cli import SCENARIO, cli

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z
MINUTE = 60.0


@pytest.fixture
def watched(monkeypatch, tmp_path):
    scenario = demo_scenario()
    with ElbSimulator(scenario) as sim, SlackReceiver() as slack:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("ELB_WATCH_SLACK_WEBHOOK", slack.url)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "1")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield sim, slack, scenario, tmp_path / "state.db"


def run_at(moment: float, event: Any = None) -> dict[str, Any]:
    return invoke(
        event or {"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=60_000), wall_clock=lambda: moment
    )


DEMO_REASONS = {
    member["id"]: member.get("reason") for pool in demo_scenario()["pools"] for member in pool["members"]
}


def set_members(sim: ElbSimulator, scenario: dict[str, Any], master: str, standby: str) -> None:
    """The demo pool's master and standby in these operating states on every listener."""
    for pool in scenario["pools"]:
        for member in pool["members"]:
            status = master if member["role"] == "master" else standby
            member["reason"] = None if status == "ONLINE" else DEMO_REASONS[member["id"]]
            member["status"] = [dict(s, operating_status=status) for s in member["status"]]
        sim.set_pool(pool)


def scripted(sim: ElbSimulator, scenario: dict[str, Any]) -> None:
    """Two failovers and one outage of the demo pool, back after 10, 20 and 30 minutes."""
    episodes = [(0.0, 10, "ONLINE"), (60.0, 20, "ONLINE"), (120.0, 30, "OFFLINE")]
    for start_minute, lasted, standby in episodes:
        began = START + start_minute * MINUTE
        set_members(sim, scenario, "OFFLINE", standby)
        assert run_at(began)["notifications"], "the failure fires"
        assert run_at(began + 5 * MINUTE)["notifications"] == [], "still firing: nothing new"
        set_members(sim, scenario, "ONLINE", "ONLINE")
        back = run_at(began + lasted * MINUTE)
        assert [n["status"] for n in back["notifications"]] == ["resolved"]


def history(capsys, *args: str, now: float, output: str = "json") -> Any:
    capsys.readouterr()
    match = [value for flag, value in zip(args[::2], args[1::2], strict=True) if flag == "--match"]
    since = next(
        (value for flag, value in zip(args[::2], args[1::2], strict=True) if flag == "--since"), "7d"
    )
    assert alerts_history(output=output, since=since, match=match, now=now) == 0
    out = capsys.readouterr().out
    return json.loads(out) if output == "json" else out


def test_two_failovers_and_one_outage_give_the_right_counts_and_mttr(watched, capsys):
    sim, slack, scenario, _ = watched
    scripted(sim, scenario)
    found = history(capsys, now=START + 4 * 3600)
    (pool,) = found["pools"]
    assert pool == {
        "pool_id": DEMO_POOL,
        "pool_name": "web-pool",
        "episodes": 3,
        "failovers": 2,
        "outages": 1,
        "mttr_seconds": {"mean": 1200.0, "p90": 1800.0},
        "top_cause": "RESPONSE_MISMATCH",
    }
    episodes = found["episodes"]
    assert [e["failover_state"] for e in episodes] == ["outage", "failed_over", "failed_over"]  # newest first
    assert [e["duration_seconds"] for e in episodes] == [1800.0, 1200.0, 600.0]
    assert [e["severity"] for e in episodes] == ["critical", "major", "major"]
    assert all(e["state"] == "resolved" and e["notified_at"] == e["first_seen"] for e in episodes)
    assert episodes[-1]["first_seen"] == "2027-01-15T08:00:00Z"
    assert episodes[-1]["resolved_at"] == "2027-01-15T08:10:00Z"
    assert all(e["acknowledged_by"] is None and e["silenced_by"] == [] for e in episodes)
    assert len(slack.accepted) == 6  # each firing and each resolved notice once


def test_history_since_and_match_narrow_the_episodes(watched, capsys):
    sim, _, scenario, _ = watched
    scripted(sim, scenario)
    now = START + 4 * 3600
    # Only the outage (began two hours in) was open in the last two hours.
    recent = history(capsys, "--since", "2h", now=now)
    assert [e["failover_state"] for e in recent["episodes"]] == ["outage"]
    assert recent["pools"][0]["outages"] == 1
    assert history(capsys, "--match", "pool_name=web-*", now=now)["pools"][0]["episodes"] == 3
    assert history(capsys, "--match", "severity=critical", now=now)["pools"][0]["episodes"] == 1
    assert history(capsys, "--match", "pool_name=pay-*", now=now) == {"episodes": [], "pools": []}
    assert history(capsys, "--since", "1d", now=now + 2 * 86400) == {"episodes": [], "pools": []}


def test_history_text_view_fits_100_columns(watched, capsys):
    sim, _, scenario, _ = watched
    scripted(sim, scenario)
    text = history(capsys, now=START + 4 * 3600, output="text")
    lines = text.splitlines()
    assert lines[0].endswith(": 3 episodes, 1 pools")
    assert any(line.startswith("web-pool") and "20min" in line and "30min" in line for line in lines)
    assert max(len(line) for line in lines) <= 100


def test_bad_history_flags_exit_64_and_say_why(watched, capsys):
    assert alerts_history(output="json", since="forever") == 64
    assert "--since 'forever'" in capsys.readouterr().err
    assert alerts_history(output="json", match=["colour=blue"]) == 64
    assert "'colour' is not a match key" in capsys.readouterr().err
    assert alerts_history(output="json", match=["pool_name=~pay"]) == 64


def test_the_weekly_report_reaches_the_receiver_as_one_message(watched, monkeypatch):
    sim, slack, scenario, _ = watched
    scripted(sim, scenario)
    with WebhookReceiver(secret="report-signing-secret") as hook:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_SECRET", "report-signing-secret")
        before = len(slack.accepted)
        result = run_at(START + 86400, load_event("report_weekly.json"))
        assert result["ok"] is True, result["errors"]
        (report,) = result["notifications"]
        assert report["kind"] == "report"
        assert report["title"] == (
            "[REPORT] ELB master watch, last 7 days: 3 episodes, 2 failovers, 1 outages"
        )
        assert "web-pool: 3 episodes, 2 failovers, 1 outages, MTTR 20 min (p90 30 min)" in report["text"]
        assert {(d["receiver"], d["status"]) for d in result["deliveries"]} == {
            ("slack", "sent"),
            ("webhook", "sent"),
        }
        assert len(slack.accepted) == before + 1
        (envelope,) = hook.accepted  # signed: the receiver checked X-Signature
        assert envelope["alerts"][0]["labels"]["kind"] == "report"
    shown = json.dumps(slack.accepted[-1], ensure_ascii=False)
    assert "3 episodes, 2 failovers, 1 outages" in shown


def test_a_report_event_can_name_its_receivers(watched, monkeypatch):
    with WebhookReceiver() as hook:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", hook.url)
        result = run_at(START, {"report": "weekly", "channels": ["webhook"]})
        assert [d["receiver"] for d in result["deliveries"]] == ["webhook"]
        assert len(hook.accepted) == 1
        assert result["notifications"][0]["title"] == "[REPORT] ELB master watch, last 7 days: no episode"


def test_a_bad_report_event_is_an_event_error(watched):
    result = run_at(START, {"report": "monthly"})
    assert result["ok"] is False
    assert [e["code"] for e in result["errors"]] == ["EVENT.INVALID"]
    assert "report must be one of ['weekly']" in result["errors"][0]["message"]


def refuse_history(path) -> None:
    """The store's file refuses every episode write (a real SQLite error), and nothing else."""
    store = SqliteStore(str(path))
    store.episodes()  # creates the schema
    store.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "CREATE TRIGGER refuse_history BEFORE INSERT ON episode "
            "BEGIN SELECT RAISE(ABORT, 'no history'); END"
        )
    conn.close()


def test_a_failing_history_write_is_a_warning_and_never_a_lost_alert(watched, capsys):
    sim, slack, scenario, path = watched
    refuse_history(path)
    set_members(sim, scenario, "OFFLINE", "ONLINE")
    first = run_at(START)
    assert [d["status"] for d in first["deliveries"]] == ["sent"]
    assert first["deduplication"] == "on"
    assert first["errors"] == []
    assert len(slack.accepted) == 1
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (warning,) = [line for line in logged if line.get("event") == "history.unavailable"]
    assert "no history" in warning["reason"]
    # A refused history write says nothing of the states: the store is not given up for the run.
    assert not [line for line in logged if line.get("event") == "dedup.unavailable"]
    # The state was saved before the history: the next run does not page again.
    assert run_at(START + MINUTE)["notifications"] == []
    assert len(slack.accepted) == 1


def test_the_cli_lists_the_history_an_invoke_left_in_the_store(tmp_path):
    env = {"ELB_WATCH_STATE": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert cli("invoke", "events/direct.json", "--simulate", SCENARIO, env=env).returncode == 0
    done = cli("alerts", "history", "--match", "pool_name=web-*", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert [(row["pool_name"], row["episodes"], row["failovers"]) for row in found["pools"]] == [
        ("web-pool", 1, 1)
    ]
    assert found["episodes"][0]["state"] == "open"
    bad = cli("alerts", "history", "--since", "forever", env=env)
    assert bad.returncode == 64
    assert "--since 'forever'" in bad.stderr


def test_an_acknowledged_episode_names_who_acknowledged_it_in_the_history(watched, capsys, monkeypatch):
    from handler.acking import acknowledge  # noqa: PLC0415

    monkeypatch.setenv("ELB_WATCH_REPEAT_INTERVAL", "1h")
    sim, _, scenario, db = watched
    set_members(sim, scenario, "OFFLINE", "ONLINE")
    (fired,) = run_at(START)["notifications"]
    store = SqliteStore(str(db))
    acknowledge(store, fired["fingerprint"], by="Li Lei", comment="on it", now=START + MINUTE)
    store.close()
    later = run_at(START + 120 * MINUTE)  # a repeat is due: the acknowledgement holds it
    assert later["notifications"] == []
    assert [h.get("acknowledged_by") for h in later["held"]] == ["Li Lei"]
    set_members(sim, scenario, "ONLINE", "ONLINE")
    assert [n["status"] for n in run_at(START + 130 * MINUTE)["notifications"]] == ["resolved"]
    (episode,) = history(capsys, now=START + 3 * 3600)["episodes"]
    assert episode["acknowledged_by"] == "Li Lei"
    assert episode["state"] == "resolved"
