"""Silences by matcher and acknowledgements (issue 22 items 1 and 3), end to end.

Real handler, ELB simulator, SQLite store, a loopback Slack receiver; the operator's commands are
the CLI's own functions over the same ELB_WATCH_STATE. Six failed masters: pay-00..02 and web-03..05.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from elb_simulator.fleet import generate_fleet
from elb_simulator.server import ElbSimulator
from handler.acking import alerts_ack, alerts_unack
from handler.app import invoke
from handler.commands import alerts, silence_add
from tests.builders import point_at
from tests.receivers import SlackReceiver
from tests.support import PlatformContext, demo_scenario

NAMES = re.compile(r"\b(?:pay|web)-\d{2}\b")


@pytest.fixture
def fleet(monkeypatch, tmp_path):
    scenario = demo_scenario()
    pools = generate_fleet(
        {"pools": 6, "failed_ratio": 1.0, "seed": 22, "loadbalancers": 2}, scenario["project_id"]
    )
    for index, pool in enumerate(pools):
        pool["name"] = f"{'pay' if index < 3 else 'web'}-{index:02d}"
    scenario["pools"], scenario["jobs"] = pools, []
    with ElbSimulator(scenario) as sim, SlackReceiver() as slack:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("ELB_WATCH_SLACK_WEBHOOK", slack.url)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "1")
        monkeypatch.setenv("ELB_WATCH_REPEAT_INTERVAL", "1h")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield sim, slack, pools


def sweep(offset: float = 0.0) -> dict:
    """One sweep, `offset` seconds after now (the repeat interval is an hour)."""
    return invoke(
        {"sweep": {}}, PlatformContext(remaining_ms=60_000), wall_clock=lambda: time.time() + offset
    )


def named(slack: SlackReceiver) -> list[str]:
    found: list[str] = []
    for payload in slack.accepted:
        found.extend(sorted(set(NAMES.findall(json.dumps(payload, ensure_ascii=False)))))
    return found


def listed(capsys, **filters) -> list[dict]:
    capsys.readouterr()
    assert alerts(output="json", include_resolved=False, **filters) == 0
    return json.loads(capsys.readouterr().out)


def pool_of(result: dict, fingerprint: str) -> str:
    return next(n["pool"]["name"] for n in result["notifications"] if n["fingerprint"] == fingerprint)


def test_a_matcher_silence_holds_exactly_the_matching_pools(fleet, capsys):
    _, slack, _ = fleet
    assert (
        silence_add(
            pool=None,
            fingerprint=None,
            match=["pool_name=pay-*"],
            duration="1d",
            comment="pay maintenance",
            output="text",
            by="alice",
        )
        == 0
    )
    silence_id = capsys.readouterr().out.strip()
    result = sweep()
    assert result["errors"] == []
    notified = sorted(n["pool"]["name"] for n in result["notifications"])
    assert notified == ["web-03", "web-04", "web-05"]
    assert sorted(named(slack)) == ["web-03", "web-04", "web-05"]
    held = [entry for entry in result["held"] if entry.get("silence_id")]
    assert len(held) == 3
    assert {entry["silence_id"] for entry in held} == {silence_id}
    assert all("pool_name=pay-*" in entry["why"] for entry in held)
    # alerts list says which are silenced, and its --match filter finds exactly them.
    rows = listed(capsys, match=["pool_name=pay-*"])
    assert sorted(row["pool"]["name"] for row in rows) == ["pay-00", "pay-01", "pay-02"]
    assert {row["silenced_by"] for row in rows} == {silence_id}
    others = listed(capsys, match=["pool_name!~pay-.*"])
    assert sorted(row["pool"]["name"] for row in others) == ["web-03", "web-04", "web-05"]
    assert {row["silenced_by"] for row in others} == {None}


def test_a_silenced_alert_that_resolves_meanwhile_is_never_sent(fleet, capsys):
    sim, slack, pools = fleet
    assert (
        silence_add(
            pool=None, fingerprint=None, match=["pool_name=pay-00"], duration="30m", comment="", output="text"
        )
        == 0
    )
    silence_id = capsys.readouterr().out.strip()
    sweep()
    before = sorted(named(slack))
    assert "pay-00" not in before
    for member in pools[0]["members"]:
        member["reason"] = None
        member["status"] = [dict(s, operating_status="ONLINE") for s in member["status"]]
    sim.set_pool(pools[0])
    resolved = sweep(60)
    never = [
        entry for entry in resolved["held"] if entry["why"].startswith("resolved while a silence held it")
    ]
    assert len(never) == 1
    # After the silence (30 min) nothing about pay-00 is sent: nobody was told it fired.
    later = sweep(45 * 60)
    assert all(n["pool"]["name"] != "pay-00" for n in later["notifications"])
    assert "pay-00" not in named(slack)
    rows = listed(capsys, match=["pool_name=pay-00"])
    assert rows == []  # resolved: only with --all
    capsys.readouterr()
    assert alerts(output="json", include_resolved=True, match=["pool_name=pay-00"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["never_notified"] is True
    assert silence_id


def test_an_acknowledged_alert_does_not_repeat_and_a_changed_reason_renotifies_it(fleet, capsys):
    sim, _, pools = fleet
    first = sweep()
    web = next(n for n in first["notifications"] if n["pool"]["name"] == "web-03")
    capsys.readouterr()
    assert (
        alerts_ack(fingerprint=web["fingerprint"], match=None, comment="on it", by="bob", output="text") == 0
    )
    assert capsys.readouterr().out.strip() == web["fingerprint"]
    [row] = listed(capsys, match=["pool_name=web-03"])
    assert row["acknowledged"]["by"] == "bob"
    assert row["acknowledged"]["comment"] == "on it"
    # Two hours later every other alert repeats; the acknowledged one does not, and held says who.
    repeat = sweep(2 * 3600)
    repeated = sorted(n["pool"]["name"] for n in repeat["notifications"])
    assert repeated == ["pay-00", "pay-01", "pay-02", "web-04", "web-05"]
    [held] = [entry for entry in repeat["held"] if entry.get("acknowledged_by")]
    assert held["fingerprint"] == web["fingerprint"]
    assert held["acknowledged_by"] == "bob"
    assert held["why"].startswith("acknowledged by bob at ")
    assert held["why"].endswith(": on it")
    assert {d["status"] for d in repeat["deliveries"] if d["fingerprint"] == web["fingerprint"]} == {
        "acknowledged"
    }
    # Its reason changes (the health check now times out): notified as changed, and the ack is gone.
    member = next(m for m in pools[3]["members"] if m["role"] == "master")
    member["reason"] = {"reason_code": "CONNECT_TIMEOUT", "expected_response": "", "healthcheck_response": ""}
    sim.set_pool(pools[3])
    changed = sweep(2 * 3600 + 60)
    [again] = [n for n in changed["notifications"] if n["fingerprint"] == web["fingerprint"]]
    assert again["notification_reason"] == "changed"
    assert again["acknowledged"]["by"] == "bob"
    assert listed(capsys, match=["pool_name=web-03"])[0]["acknowledged"] is None
    capsys.readouterr()
    assert alerts_unack(fingerprint=web["fingerprint"], match=None, output="text") == 1


def test_ack_by_matcher_acknowledges_every_matching_firing_alert_and_unack_undoes_it(fleet, capsys):
    sweep()
    capsys.readouterr()
    assert alerts_ack(fingerprint=None, match=["pool_name=pay-*"], comment="", by=None, output="json") == 0
    done = json.loads(capsys.readouterr().out)
    assert len(done) == 3
    assert all(item["acknowledged"]["by"] for item in done)  # the OS user, or "cli"
    assert [row["acknowledged"] is not None for row in listed(capsys, match=["pool_name=~pay-0[0-2]"])] == [
        True
    ] * 3
    capsys.readouterr()
    assert alerts_unack(fingerprint=None, match=["pool_name=pay-01"], output="text") == 0
    rows = {row["pool"]["name"]: row["acknowledged"] for row in listed(capsys, match=["pool_name=pay-*"])}
    assert rows["pay-01"] is None
    assert rows["pay-00"] is not None
    repeat = sweep(2 * 3600)
    assert sorted(n["pool"]["name"] for n in repeat["notifications"]) == [
        "pay-01",
        "web-03",
        "web-04",
        "web-05",
    ]


def test_ack_of_an_unknown_alert_exits_1_and_a_bad_matcher_exits_2(fleet, capsys):
    sweep()
    capsys.readouterr()
    assert alerts_ack(fingerprint="no-such", match=None, comment="", by="x", output="text") == 1
    assert "no firing alert 'no-such'" in capsys.readouterr().err
    assert alerts_ack(fingerprint=None, match=["pool_name=zzz-*"], comment="", by="x", output="text") == 1
    assert "nothing acknowledged" in capsys.readouterr().err
    assert alerts_ack(fingerprint=None, match=["colour=red"], comment="", by="x", output="text") == 2
    assert "'colour'" in capsys.readouterr().err


def test_alerts_list_receiver_filter_keeps_the_alerts_owed_to_that_receiver(fleet, capsys):
    sweep()
    assert len(listed(capsys, receivers=["slack"])) == 6
    assert listed(capsys, receivers=["nobody"]) == []
    capsys.readouterr()
    assert alerts(output="text", include_resolved=False, receivers=["nobody"]) == 0
    assert "No alert matches receiver=nobody" in capsys.readouterr().out
