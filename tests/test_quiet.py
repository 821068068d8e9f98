"""Matchers, silences by matcher, silence update, acknowledgements: the rules one by one (issue 22).

The CLI runs in-process (`handler.cli.main`) over a real SQLite store; the stores' ack contract is
in tests/test_state_store.py (SQLite, a real redis-server, the instance's memory store).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handler.acks import decode_acks, encode_ack, new_ack
from handler.channels.digest import build
from handler.cli import main
from handler.config import parse_duration
from handler.lifecycle import AlertState
from handler.matchers import MAX_PATTERN, MatcherError, match_all, parse_matcher, parse_matchers
from handler.silences import decode_silences, encode_silence, new_silence
from tests.builders import pool_records

pytest_plugins = ("tests.redis_server",)

RECORD = pool_records()[0]  # pool "pool-1", master_failed; the builders name it web-master-1


def record(**pool: Any) -> dict[str, Any]:
    return {**RECORD, "pool": {**RECORD["pool"], **pool}}


# -- matchers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pool_name", "hit"),
    [
        ("pool_name=pay-*", "pay-api", True),  # = is a glob on pool_name, as in routes
        ("pool_name=pay-*", "web-api", False),
        ("pool_name!=pay-*", "web-api", True),
        ("pool_name!=pay-*", "pay-api", False),
        ("pool_name=~pay-.*", "pay-api", True),
        ("pool_name=~pay", "pay-api", False),  # regular expressions are anchored, like amtool
        ("pool_name=~.*api", "pay-api", True),
        ("pool_name!~pay-.*", "pay-api", False),
        ("pool_name!~pay-.*", "web-api", True),
    ],
)
def test_matcher_operators_follow_amtool(text, pool_name, hit):
    assert match_all(parse_matchers([text]), record(name=pool_name)) is hit


@pytest.mark.parametrize("pattern", ["(pay|web)-.*", "(ab)+", "(?:a{1,3})+", ".*-api-.*", "[a-z]+-[0-9]{2}"])
def test_ordinary_regular_expressions_are_taken(pattern):
    assert str(parse_matcher(f"pool_name=~{pattern}")) == f"pool_name=~{pattern}"


def test_equality_is_exact_on_keys_that_are_not_globs():
    sev = RECORD["severity"]
    assert match_all(parse_matchers([f"severity={sev}"]), RECORD)
    assert not match_all(parse_matchers([f"severity={sev[:-1]}*"]), RECORD)


def test_several_matchers_are_anded():
    both = parse_matchers(["pool_name=pay-*", f"severity={RECORD['severity']}"])
    assert match_all(both, record(name="pay-api"))
    assert not match_all(both, record(name="web-api"))
    assert not match_all(parse_matchers(["pool_name=pay-*", "severity=info"]), record(name="pay-api"))


def test_a_key_with_several_values_matches_when_one_does_and_negation_when_none_does():
    two = record(loadbalancer_ids=["lb-a", "lb-b"])
    assert match_all(parse_matchers(["loadbalancer_id=lb-b"]), two)
    assert not match_all(parse_matchers(["loadbalancer_id!=lb-b"]), two)
    assert match_all(parse_matchers(["loadbalancer_id!=lb-c"]), two)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colour=red", "unknown key 'colour'"),
        ("tag=team", "unknown key 'tag'"),
        ("pool_name", "is not KEY=VALUE"),
        ("pool_name=", "the value is empty"),
        ("pool_name=~pay-(", "not a regular expression"),
        ("pool_name=~" + "a" * (MAX_PATTERN + 1), f"longer than {MAX_PATTERN}"),
        ("pool_name=~(a+)+", "a repeat inside a repeat"),
        ("pool_name!~(x|.*y){2,}", "a repeat inside a repeat"),
    ],
)
def test_a_bad_matcher_is_refused_naming_it(text, problem):
    with pytest.raises(MatcherError, match=problem.replace("(", r"\(")):
        parse_matcher(text)


# -- silences ---------------------------------------------------------------------------------------


def test_durations_take_days_and_weeks():
    assert parse_duration("1d") == 86400
    assert parse_duration("1w") == 7 * 86400
    assert parse_duration("1d12h") == 36 * 3600
    assert parse_duration("2w3d4h5m6s") == 2 * 604800 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6


def test_a_first_version_silence_row_still_decodes_and_matches():
    old = json.dumps(
        {"id": "s-1", "matcher": {"pool": "pool-1"}, "starts_at": 0, "ends_at": 4e9, "comment": "old"}
    )
    [silence] = decode_silences([old])
    assert silence.matches(RECORD)
    assert not silence.matches(record(id="pool-2"))
    assert silence.created_by == ""
    assert silence.mentions(parse_matchers(["pool_id=pool-1"]))


def test_a_matcher_silence_round_trips_through_its_stored_form():
    silence = new_silence(
        now=0,
        duration=3600,
        matchers=parse_matchers(["pool_name=pay-*", "severity!=info"]),
        created_by="alice",
    )
    [back] = decode_silences([encode_silence(silence)])
    assert back == silence
    assert back.describe() == "pool_name=pay-*, severity!=info"
    assert back.public(1)["matchers"] == ["pool_name=pay-*", "severity!=info"]
    assert back.public(1)["created_by"] == "alice"
    assert back.matches(record(name="pay-api"))
    assert not back.matches(record(name="web-api"))


def test_a_stored_silence_with_a_broken_matcher_is_left_out():
    bad = {**new_silence({"pool": "p"}, now=0, duration=60).to_dict(), "matcher": {}}
    bad["matchers"] = [{"key": "pool_name", "op": "=~", "value": "("}]
    assert decode_silences([json.dumps(bad)]) == []


def test_silence_list_match_finds_silences_that_name_the_value():
    pay = new_silence(now=0, duration=60, matchers=parse_matchers(["pool_name=pay-*"]))
    assert pay.mentions(parse_matchers(["pool_name=pay-*"]))
    assert pay.mentions(parse_matchers(["pool_name=~pay.*"]))
    assert not pay.mentions(parse_matchers(["severity=critical"]))


# -- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def store_env(monkeypatch, tmp_path):
    for name in ("ELB_WATCH_ROUTES", "ELB_WATCH_SLACK_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    return tmp_path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_silence_add_by_matcher_for_a_day_and_list_it(store_env, capsys):
    status, out, _ = run_cli(
        capsys,
        "silence",
        "add",
        "--match",
        "pool_name=pay-*",
        "--match",
        "severity=critical",
        "--for",
        "1d",
        "--comment",
        "db migration",
        "--by",
        "alice",
    )
    assert status == 0
    silence_id = out.strip()
    status, out, _ = run_cli(capsys, "silence", "list", "-o", "json", "--match", "pool_name=pay-*")
    [shown] = json.loads(out)
    assert shown["id"] == silence_id
    assert shown["matchers"] == ["pool_name=pay-*", "severity=critical"]
    assert shown["created_by"] == "alice"
    ends = time.mktime(time.strptime(shown["ends_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 86400 - 120 < ends - time.time() <= 86400
    assert json.loads(run_cli(capsys, "silence", "list", "-o", "json", "--match", "severity=info")[1]) == []
    status, out, _ = run_cli(capsys, "silence", "list", "-o", "text")
    assert "alice" in out
    assert "pool_name=pay-*, severity=critical" in out


def test_silence_add_defaults_created_by_to_the_os_user(store_env, capsys):
    run_cli(capsys, "silence", "add", "--pool", "pool-1", "--for", "1w")
    [shown] = json.loads(run_cli(capsys, "silence", "list", "-o", "json")[1])
    assert shown["created_by"]


@pytest.mark.parametrize("bad", ["colour=red", "pool_name=~(", "pool_name"])
def test_a_bad_matcher_exits_2_naming_it(store_env, capsys, bad):
    status, out, err = run_cli(capsys, "silence", "add", "--match", bad, "--for", "1h")
    assert status == 2
    assert out == ""
    assert repr(bad) in err or bad in err
    assert run_cli(capsys, "alerts", "list", "--match", bad)[0] == 2
    assert run_cli(capsys, "silence", "list", "--match", bad)[0] == 2


def test_silence_add_refuses_more_than_90_days(store_env, capsys):
    status, _, err = run_cli(capsys, "silence", "add", "--pool", "p", "--for", "13w")
    assert status == 64
    assert "90 days" in err


def test_silence_update_extends_and_recomments_and_refuses_an_ended_or_unknown_one(store_env, capsys):
    silence_id = run_cli(capsys, "silence", "add", "--pool", "pool-1", "--for", "30m")[1].strip()
    status, out, _ = run_cli(capsys, "silence", "update", silence_id, "--for", "1d", "--comment", "longer")
    assert status == 0
    assert out.strip() == silence_id
    [shown] = json.loads(run_cli(capsys, "silence", "list", "-o", "json")[1])
    assert shown["comment"] == "longer"
    assert shown["matcher"] == {"pool": "pool-1"}
    ends = time.mktime(time.strptime(shown["ends_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert ends - time.time() > 86400 - 120
    status, _, _ = run_cli(capsys, "silence", "update", silence_id, "--until", "2099-01-01T00:00:00Z")
    assert status == 64  # beyond 90 days
    assert run_cli(capsys, "silence", "update", silence_id)[0] == 64  # nothing to update
    assert run_cli(capsys, "silence", "expire", silence_id)[0] == 0
    status, _, err = run_cli(capsys, "silence", "update", silence_id, "--for", "1h")
    assert status == 1
    assert "ended" in err
    status, _, err = run_cli(capsys, "silence", "update", "no-such-id", "--for", "1h")
    assert status == 1
    assert "no silence 'no-such-id'" in err


def test_silence_expire_twice_exits_1_and_says_it_had_ended(store_env, capsys):
    silence_id = run_cli(capsys, "silence", "add", "--match", "kind=master_failed", "--for", "1d12h")[
        1
    ].strip()
    assert run_cli(capsys, "silence", "expire", silence_id)[0] == 0
    status, _, err = run_cli(capsys, "silence", "expire", silence_id)
    assert status == 1
    assert "had already ended" in err


@pytest.mark.parametrize(
    "args",
    [
        ("silence", "add", "--match", "severity=info", "--pool", "p", "--for", "1h"),
        ("silence", "update", "x", "--for", "1h", "--until", "2030-01-01T00:00:00Z"),
        ("alerts", "ack", "fp", "--match", "severity=info"),
        ("alerts", "ack"),
    ],
)
def test_conflicting_or_missing_names_are_usage_errors(store_env, capsys, args):
    try:
        status = main(list(args))
    except SystemExit as exited:  # argparse's own checks
        status = exited.code
    assert status == 64
    assert capsys.readouterr().err


def test_every_new_command_help_shows_an_example_the_variables_and_exit_codes(capsys):
    for words in (
        ("silence", "add"),
        ("silence", "update"),
        ("silence", "list"),
        ("alerts", "ack"),
        ("alerts", "unack"),
        ("alerts", "list"),
    ):
        with pytest.raises(SystemExit):
            main([*words, "--help"])
        text = capsys.readouterr().out
        assert "example:" in text
        assert "ELB_WATCH_STATE" in text
        assert "exit status:" in text
        assert "--match" in text or words == ("silence", "update"), words


# -- acknowledgements -------------------------------------------------------------------------------


def firing(fingerprint: str = "fp-1", digest: str = "m1.c") -> AlertState:
    return AlertState(
        fingerprint=fingerprint,
        scope="pool-1",
        state="firing",
        first_seen=100.0,
        last_seen=200.0,
        reason_digest=digest,
        record=dict(RECORD, fingerprint=fingerprint),
    )


def test_an_ack_holds_until_the_reason_changes_or_the_alert_resolves_or_refires():
    ack = new_ack(firing(), by="bob", comment="on it", now=300.0)
    assert ack.holds(firing())
    assert not ack.holds(firing(digest="m2.c"))  # changed: reason, severity or failover state
    assert not ack.holds(changed(firing(), state="resolved"))
    assert not ack.holds(changed(firing(), first_seen=999.0))  # a new episode
    assert ack.why() == "acknowledged by bob at 1970-01-01T00:05:00Z: on it"
    [back] = decode_acks([encode_ack(ack)])
    assert back == ack


def changed(alert: AlertState, **changes: Any) -> AlertState:
    from dataclasses import replace  # noqa: PLC0415

    return replace(alert, **changes)


def test_only_a_firing_alert_can_be_acknowledged():
    with pytest.raises(ValueError, match="not firing"):
        new_ack(changed(firing(), state="pending"), by="x", comment="", now=0)


def test_a_digest_line_says_who_had_acknowledged_the_alert():
    acked = {**RECORD, "acknowledged": {"by": "bob", "at": "2027-01-01T00:00:00Z", "comment": ""}}
    others = [dict(RECORD, fingerprint=f"fp-{n}") for n in range(3)]
    [digest] = build([acked, *others])
    lines = [item.text for item in digest.message.items]
    assert sum("acknowledged by bob" in line for line in lines) == 1
    [zh] = build([acked, *others], locale="zh")
    assert any("已由 bob 确认" in item.text for item in zh.message.items)


# -- the acknowledge stage against real stores ------------------------------------------------------


def test_an_ack_holds_repeats_for_told_receivers_but_one_never_told_still_gets_it_once(state_url):
    from handler.acking import acknowledge  # noqa: PLC0415
    from handler.lifecycle import LifecycleSettings  # noqa: PLC0415
    from tests.builders import ACL_PORT, Channels, at, opened, run  # noqa: PLC0415

    store, channels = opened(state_url), Channels()
    settings = LifecycleSettings(repeat_interval=600)
    records = pool_records(failures=ACL_PORT)
    channels.failing = {"email"}
    run(store, channels, 0, records, settings=settings)
    ack = acknowledge(store, records[0]["fingerprint"], by="bob", comment="", now=at(1))
    assert ack.by == "bob"
    channels.failing = set()
    caught_up = run(store, channels, 2, records, settings=settings)  # email was never told: it gets it
    assert channels.sent("email") == [(2, "first")]
    assert [n.reason for n in caught_up.notifications] == ["first"]
    repeat = run(store, channels, 12, records, settings=settings)  # after the repeat interval: held
    assert channels.sent("chat") == [(0, "first")]
    assert channels.sent("email") == [(2, "first")]
    assert repeat.notifications == []
    [held] = [entry for entry in repeat.held if entry.get("acknowledged_by")]
    assert sorted(held["receivers"]) == ["chat", "email"]
    assert {d["status"] for d in repeat.deliveries} == {"acknowledged"}
    quiet = run(store, channels, 13, records, settings=settings)  # acknowledged settles: nothing owed
    assert quiet.deliveries == []


def test_acknowledge_refuses_an_unknown_alert(state_url):
    from handler.acking import acknowledge  # noqa: PLC0415
    from tests.builders import opened  # noqa: PLC0415

    with pytest.raises(LookupError, match="no alert 'nope'"):
        acknowledge(opened(state_url), "nope", by="x", now=0)
