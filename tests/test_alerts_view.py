"""`alerts list` read in a hurry: most severe and oldest first, relative times, 100 columns, filters."""

from __future__ import annotations

from handler.alerts_view import WIDTH, AlertFilter, ago, render, sort_key
from handler.silences import iso

NOW = 1_800_000_000.0


def row(fingerprint, severity, since, **extra):
    base = {
        "fingerprint": fingerprint,
        "state": "firing",
        "kind": "master_failed",
        "severity": severity,
        "pool": {"id": "p-" + fingerprint, "name": "pool-" + fingerprint},
        "member": "member-" + fingerprint,
        "since": iso(NOW - since),
        "last_notified": iso(NOW - since),
        "pending_channels": [],
        "silenced_by": None,
        "silenced_until": None,
        "title": "t",
    }
    return {**base, **extra}


def test_sorted_by_severity_then_oldest_first():
    rows = [
        row("a", "info", 50),
        row("b", "major", 10),
        row("c", "critical", 5),
        row("d", "major", 900),
        row("e", "warning", 3),
        row("f", "critical", 5),  # equal times: by fingerprint, never by chance
    ]
    assert [r["fingerprint"] for r in sorted(rows, key=sort_key)] == ["c", "f", "d", "b", "e", "a"]


def test_relative_times():
    assert ago(iso(NOW - 42), NOW) == "42s ago"
    assert ago(iso(NOW - 12 * 60 - 5), NOW) == "12m ago"
    assert ago(iso(NOW - 2 * 3600 - 5 * 60), NOW) == "2h05m ago"
    assert ago(iso(NOW - 3 * 86400 - 4 * 3600), NOW) == "3d04h ago"
    assert ago(None, NOW) == "-"


def test_every_line_fits_100_columns_the_widest_facts_last():
    long_name = "pool-with-a-very-long-name-" + "x" * 200
    rows = [
        row("a" * 16, "critical", 7200, pool={"id": "p", "name": long_name}),
        row(
            "b" * 16,
            "major",
            60,
            silenced_by="2d2a6c9e-8a43-4f43-b0f7-1f5b2a1e9c11",
            silenced_until=iso(NOW + 5400),
            pending_channels=["smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams"],
            last_notified=None,
        ),
    ]
    text = render(rows, NOW)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert lines[0].split()[:6] == ["SEVERITY", "STATE", "SINCE", "NOTIFIED", "FINGERPRINT", "KIND"]
    assert lines[1].split()[:4] == ["critical", "firing", "2h00m", "ago"]
    assert lines[1].endswith("…")  # the long pool name, last, is cut to fit
    assert lines[2].split()[:5] == ["major", "firing", "1m", "ago", "never"]
    assert lines[3] == (
        f"    silenced by 2d2a6c9e-8a43-4f43-b0f7-1f5b2a1e9c11 until {iso(NOW + 5400)} (1h30m left)"
    )
    assert lines[4].startswith("    still owed to: smn, feishu, dingtalk")


def test_the_filter_narrows_by_severity_and_keeps_resolved_out_unless_asked():
    rows = [row("a", "critical", 1), row("b", "major", 1), row("c", "info", 1, state="resolved")]
    assert [r["fingerprint"] for r in rows if AlertFilter().wanted(r)] == ["a", "b"]
    only = AlertFilter(severities=frozenset({"critical", "info"}), include_resolved=True)
    assert [r["fingerprint"] for r in rows if only.wanted(r)] == ["a", "c"]


def test_an_acknowledged_alert_says_who_and_when_below_its_row():
    acked = row("a", "critical", 600, acknowledged={"by": "bob", "at": iso(NOW - 300), "comment": "on it"})
    text = render([acked, row("b", "major", 60, acknowledged=None)], NOW)
    assert "    acknowledged by bob 5m ago: on it" in text.splitlines()
    assert text.count("acknowledged by") == 1


def test_filters_by_receiver_routed_or_in_the_ledger_and_by_matcher():
    from handler.matchers import parse_matchers  # noqa: PLC0415

    mine = row("a", "critical", 60, receivers=["oncall"])
    owed = row("b", "critical", 60, receivers=[])
    shown = AlertFilter(receivers=frozenset({"oncall"}))
    assert shown.wanted(mine)
    assert not shown.wanted(owed)
    assert shown.wanted(owed, {}, {"oncall": object()})  # its ledger names the receiver
    pay = AlertFilter(matchers=parse_matchers(["pool_name=pay-*"]))
    assert pay.wanted(mine, {"pool": {"name": "pay-api"}})
    assert not pay.wanted(mine, {"pool": {"name": "web-api"}})
