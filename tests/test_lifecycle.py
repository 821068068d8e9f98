"""The alert lifecycle's rules, decided in pure code with a clock the test controls."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from handler.config import ConfigError, load_lifecycle_settings, parse_duration
from handler.lifecycle import (
    AlertState,
    Delivery,
    LifecycleSettings,
    decide,
    format_duration,
    merge_digest,
    reason_digest,
    record_deliveries,
    scope_of,
)
from tests.builders import ACL_PORT, POOL, SG_SOURCE, at, pool_records

CHANNELS = ("chat", "email")


class Ledger:
    """Runs `decide` minute by minute with an in-memory store and channels that do what they are told."""

    def __init__(
        self, settings: LifecycleSettings | None = None, channels: tuple[str, ...] = CHANNELS
    ) -> None:
        self.settings = settings or LifecycleSettings()
        self.channels = channels
        self.states: dict[str, AlertState] = {}
        self.got: list[tuple[float, str, str]] = []

    def run(
        self,
        minute: float,
        records: list[dict[str, Any]],
        scopes: tuple[str, ...] = (POOL,),
        failing: tuple[str, ...] = (),
        status: str = "failed",
    ) -> Any:
        now = at(minute)
        decision = decide(
            self.states, records, scopes, now=now, settings=self.settings, channels=self.channels
        )
        self.states.update(decision.states)
        for item in decision.outgoing:
            deliveries = [
                {"channel": channel, "status": status if channel in failing else "sent", "attempts": 1}
                for channel in item.channels
            ]
            base = self.states[item.fingerprint]
            self.states[item.fingerprint] = record_deliveries(base, item.key, deliveries, now)
            self.got.extend(
                (minute, item.record["notification_reason"], channel)
                for channel in item.channels
                if channel not in failing
            )
        return decision


# Settings


def test_lifecycle_settings_default_to_alertmanager_like_values():
    assert load_lifecycle_settings({}) == LifecycleSettings(
        repeat_interval=4 * 3600, fire_after=1, resolve_after=2
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4h", 14400),
        ("30m", 1800),
        ("90s", 90),
        ("1h30m", 5400),
        ("3600", 3600),
        (" 2H ", 7200),
        ("1.5h", 5400),
    ],
)
def test_repeat_interval_accepts_durations_and_plain_seconds(text, seconds):
    assert parse_duration(text) == seconds
    assert load_lifecycle_settings({"ELB_WATCH_REPEAT_INTERVAL": text}).repeat_interval == seconds


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ELB_WATCH_REPEAT_INTERVAL", "soon"),
        ("ELB_WATCH_REPEAT_INTERVAL", "nan"),
        ("ELB_WATCH_REPEAT_INTERVAL", "inf"),
        ("ELB_WATCH_REPEAT_INTERVAL", "-5m"),
        ("ELB_WATCH_REPEAT_INTERVAL", "10s"),
        ("ELB_WATCH_REPEAT_INTERVAL", "1e3"),
        ("ELB_WATCH_FIRE_AFTER", "0"),
        ("ELB_WATCH_FIRE_AFTER", "1.5"),
        ("ELB_WATCH_FIRE_AFTER", "two"),
        ("ELB_WATCH_RESOLVE_AFTER", "101"),
        ("ELB_WATCH_RESOLVE_AFTER", "-1"),
    ],
)
def test_bad_lifecycle_settings_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_lifecycle_settings({name: value})


# Scope and reason digest


def test_scope_is_the_pool_id_or_the_job_for_a_record_without_pool():
    (record,) = pool_records(failures=ACL_PORT)
    assert scope_of(record) == POOL  # the master's failure, with the check job riding in it
    job_only = {**record, "pool": None, "check": {"job_id": "job-9"}}
    assert scope_of(job_only) == "job:job-9"


def test_a_check_failed_finding_is_scoped_to_its_job_so_a_pool_only_run_cannot_resolve_it():
    (record,) = pool_records(master="ONLINE", failures=ACL_PORT)
    assert record["kind"] == "check_failed"
    assert record["pool"]["id"] == POOL
    job = f"job:{record['check']['job_id']}"
    assert scope_of(record) == job
    ledger = Ledger()
    ledger.run(0, [record], scopes=(POOL, job))
    for minute in (1, 2, 3):
        assert not ledger.run(minute, [], scopes=(POOL,)).outgoing  # the timer reads only the pool
    assert not ledger.run(4, [], scopes=(POOL, job)).outgoing
    assert [o.record["notification_reason"] for o in ledger.run(5, [], scopes=(job,)).outgoing] == [
        "resolved"
    ]


def test_reason_digest_ignores_free_text_and_observation_time():
    (record,) = pool_records(failures=ACL_PORT)
    reworded = {
        **record,
        "title": "something else",
        "text": "other words",
        "observed_at": "later",
        "master": {**record["master"], "reason": "reworded reason", "failed_listeners": ["lsn-2"]},
    }
    reworded["check"] = {**record["check"], "job_id": "another-job", "finished": 3}
    assert reason_digest(reworded) == reason_digest(record)


def test_reason_digest_changes_with_reason_code_response_and_failed_items():
    (base,) = pool_records(failures=ACL_PORT)
    (other_code,) = pool_records(code="CONNECT_TIMEOUT", failures=ACL_PORT)
    (other_response,) = pool_records(got="502", failures=ACL_PORT)
    (more_items,) = pool_records(failures={**ACL_PORT, **SG_SOURCE})
    digests = {reason_digest(r) for r in (base, other_code, other_response, more_items)}
    assert len(digests) == 4


def test_reason_digest_does_not_depend_on_the_order_of_failed_items():
    (record,) = pool_records(failures={**ACL_PORT, **SG_SOURCE})
    flipped = {**record, "check": {**record["check"], "failed_items": record["check"]["failed_items"][::-1]}}
    assert reason_digest(flipped) == reason_digest(record)


def test_a_record_without_check_keeps_the_known_check_part():
    (with_check,) = pool_records(failures=ACL_PORT)
    (without,) = pool_records()
    known = reason_digest(with_check)
    assert reason_digest(without).endswith(".c")
    assert merge_digest(known, reason_digest(without)) == known
    (other,) = pool_records(failures=SG_SOURCE)
    assert merge_digest(known, reason_digest(other)) == reason_digest(other)


# State serialisation


def test_alert_state_survives_a_json_round_trip():
    (record,) = pool_records()
    state = AlertState(
        fingerprint=record["fingerprint"],
        scope=POOL,
        state="firing",
        first_seen=at(5),
        last_seen=at(9),
        reason_digest=reason_digest(record),
        seen=5,
        last_notified=at(5),
        sequence=1,
        notification_key="k:1",
        notification_reason="first",
        record=record,
        notice={**record, "notification_reason": "first"},
        deliveries={"chat": Delivery("k:1", "sent", at(5), 2)},
    )
    data = json.loads(json.dumps(state.to_dict()))
    assert data["schema"] == 1
    assert AlertState.from_dict(data) == state


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schema": 0}, "schema 0"),
        ({"state": "exploded"}, "state"),
        ({"seen": "many"}, "seen"),
        ({"first_seen": None}, "first_seen"),
        ({"deliveries": {"chat": {"key": "k"}}}, "status"),
        ({"notification_reason": "because"}, "notification_reason"),
    ],
)
def test_alert_state_rejects_other_schemas_and_malformed_rows(change, problem):
    state = AlertState("fp", POOL, "firing", at(0), at(0), "m.c", seen=1)
    with pytest.raises((ValueError, TypeError), match=problem):
        AlertState.from_dict({**state.to_dict(), **change})


# Firing


def test_a_new_finding_fires_at_once_to_every_channel():
    ledger = Ledger()
    decision = ledger.run(5, pool_records())
    (item,) = decision.outgoing
    assert item.new
    assert item.channels == CHANNELS
    assert item.record["notification_reason"] == "first"
    assert item.record["status"] == "firing"
    assert ledger.states[item.fingerprint].state == "firing"


def test_fire_after_waits_for_consecutive_sightings_and_an_absence_starts_over():
    ledger = Ledger(LifecycleSettings(fire_after=3))
    assert not ledger.run(1, pool_records()).outgoing
    second = ledger.run(2, pool_records())
    assert not second.outgoing
    assert second.held[0]["why"] == "pending: seen 2 of 3"
    ledger.run(3, [])  # gone for a run: the count starts over
    assert not ledger.run(4, pool_records()).outgoing
    assert not ledger.run(5, pool_records()).outgoing
    assert [(o.record["notification_reason"]) for o in ledger.run(6, pool_records()).outgoing] == ["first"]
    assert ledger.got == [(6, "first", "chat"), (6, "first", "email")]


def test_a_firing_finding_that_was_notified_is_held_back():
    ledger = Ledger()
    ledger.run(5, pool_records())
    decision = ledger.run(6, pool_records())
    assert decision.outgoing == []
    assert decision.held[0]["why"] == "already notified"


def test_a_new_reason_code_while_firing_notifies_changed():
    ledger = Ledger()
    ledger.run(5, pool_records())
    assert not ledger.run(6, pool_records()).outgoing
    (item,) = ledger.run(7, pool_records(code="CONNECT_TIMEOUT")).outgoing
    assert item.record["notification_reason"] == "changed"
    assert not ledger.run(8, pool_records(code="CONNECT_TIMEOUT")).outgoing


def test_new_failed_items_notify_changed_but_a_check_that_is_no_longer_attached_does_not():
    ledger = Ledger()
    ledger.run(5, pool_records(failures=ACL_PORT))
    assert not ledger.run(6, pool_records()).outgoing  # the check job is not part of this run
    assert not ledger.run(7, pool_records(failures=ACL_PORT)).outgoing
    (item,) = ledger.run(8, pool_records(failures={**ACL_PORT, **SG_SOURCE})).outgoing
    assert item.record["notification_reason"] == "changed"


def test_repeat_after_the_interval_since_the_last_notification():
    ledger = Ledger(LifecycleSettings(repeat_interval=30 * 60))
    ledger.run(0, pool_records())
    assert not ledger.run(29, pool_records()).outgoing
    (item,) = ledger.run(30, pool_records()).outgoing
    assert item.record["notification_reason"] == "repeat"
    assert not ledger.run(31, pool_records()).outgoing
    ledger.run(45, pool_records(code="CONNECT_TIMEOUT"))  # changed: the repeat clock restarts
    assert not ledger.run(74, pool_records(code="CONNECT_TIMEOUT")).outgoing
    assert [
        o.record["notification_reason"] for o in ledger.run(75, pool_records(code="CONNECT_TIMEOUT")).outgoing
    ] == ["repeat"]
    assert [reason for _, reason, channel in ledger.got if channel == "chat"] == [
        "first",
        "repeat",
        "changed",
        "repeat",
    ]


# Resolving


def test_resolve_after_consecutive_absences_with_a_resolved_record():
    ledger = Ledger()
    (record,) = pool_records(failures=ACL_PORT)
    ledger.run(5, [record])
    assert not ledger.run(40, []).outgoing
    (item,) = ledger.run(41, []).outgoing
    resolved = item.record
    assert resolved["notification_reason"] == "resolved"
    assert resolved["status"] == "resolved"
    assert resolved["severity"] == "info"
    assert resolved["title"] == "[RESOLVED] web-pool: master web-master-1 is back ONLINE after 35 min"
    assert resolved["text"].splitlines() == [
        "Master web-master-1 (172.16.0.210:80) is back ONLINE.",
        "It was OFFLINE (RESPONSE_MISMATCH) from 2027-01-15T08:05:00Z to 2027-01-15T08:40:00Z, 35 min.",
        "Confirmed by 2 consecutive checks without it; last seen at 2027-01-15T08:05:00Z.",
        "Pool web-pool (pool-1), TCP, region cn-north-4, project proj-1.",
    ]
    for key in ("fingerprint", "kind", "pool", "master", "standby", "check", "region", "project_id"):
        assert resolved[key] == record[key]
    assert resolved["observed_at"] == "2027-01-15T08:41:00Z"
    assert ledger.states[record["fingerprint"]].state == "resolved"
    assert not ledger.run(42, []).outgoing


def test_a_flapping_master_neither_resolves_nor_notifies_again():
    ledger = Ledger()
    ledger.run(5, pool_records())
    for minute, records in ((20, []), (21, pool_records()), (22, []), (23, pool_records())):
        assert not ledger.run(minute, records).outgoing, minute
    assert ledger.states[pool_records()[0]["fingerprint"]].state == "firing"


def test_a_pool_that_was_not_assessed_neither_resolves_nor_counts_as_absent():
    ledger = Ledger()
    (record,) = pool_records()
    ledger.run(5, [record])
    before = ledger.states[record["fingerprint"]]
    for minute in range(6, 12):
        decision = ledger.run(minute, [], scopes=())  # the pool's API call failed every time
        assert decision.outgoing == []
        assert decision.states == {}
    assert ledger.states[record["fingerprint"]] == before
    assert not ledger.run(12, []).outgoing  # assessed again: first absence
    assert [o.record["notification_reason"] for o in ledger.run(13, []).outgoing] == ["resolved"]


def test_a_resolved_finding_that_fires_again_is_a_new_episode():
    ledger = Ledger()
    (record,) = pool_records()
    ledger.run(5, [record])
    first_key = ledger.states[record["fingerprint"]].notification_key
    ledger.run(6, [])
    ledger.run(7, [])
    (item,) = ledger.run(8, pool_records()).outgoing
    assert item.record["notification_reason"] == "first"
    assert item.channels == CHANNELS
    assert item.key != first_key
    assert ledger.states[record["fingerprint"]].first_seen == at(8)
    assert [(m, r) for m, r, c in ledger.got if c == "chat"] == [(5, "first"), (7, "resolved"), (8, "first")]


def test_resolved_title_says_what_the_master_is_now_when_it_is_not_online():
    ledger = Ledger()
    ledger.run(5, pool_records())
    ledger.run(6, pool_records(master="UNKNOWN"))  # master_unknown fires; master_failed is absent
    decision = ledger.run(7, pool_records(master="UNKNOWN"))
    resolved = [o.record for o in decision.outgoing if o.record["notification_reason"] == "resolved"]
    assert resolved[0]["title"] == (
        "[RESOLVED] web-pool: master web-master-1 is no longer OFFLINE after 1 min (now UNKNOWN)"
    )


def test_resolved_titles_for_standby_and_job_findings():
    ledger = Ledger()
    ledger.run(0, pool_records(master="ONLINE", standby="OFFLINE"))
    ledger.run(12, [])
    (item,) = ledger.run(13, []).outgoing
    assert item.record["title"] == "[RESOLVED] web-pool: standby web-standby-1 is back ONLINE after 12 min"

    (record,) = pool_records(master="ONLINE", failures=ACL_PORT)
    job_only = {**record, "pool": None, "check": {**record["check"], "job_id": "job-9"}}
    jobs = Ledger()
    jobs.run(0, [job_only], scopes=("job:job-9",))
    jobs.run(3, [], scopes=("job:job-9",))
    (item,) = jobs.run(4, [], scopes=("job:job-9",)).outgoing
    assert item.record["title"] == "[RESOLVED] member m: the member check problems are gone after 3 min"


# Delivery ledger


def test_a_channel_that_failed_gets_the_notification_on_the_next_run_and_the_other_does_not():
    ledger = Ledger()
    ledger.run(5, pool_records(), failing=("chat",))
    (item,) = ledger.run(6, pool_records()).outgoing
    assert not item.new
    assert item.channels == ("chat",)
    assert item.record["notification_reason"] == "first"
    assert item.record["observed_at"] == "minute 0"  # this run's observation, not a stale copy
    assert not ledger.run(7, pool_records()).outgoing
    assert ledger.got == [(5, "first", "email"), (6, "first", "chat")]
    assert ledger.states[item.fingerprint].deliveries["chat"].attempts == 2


def test_a_failed_resolution_is_retried_without_the_finding_being_observed():
    ledger = Ledger()
    ledger.run(5, pool_records())
    ledger.run(6, [])
    ledger.run(7, [], failing=("email",))
    (item,) = ledger.run(8, []).outgoing
    assert item.channels == ("email",)
    assert item.record["notification_reason"] == "resolved"
    assert item.record["observed_at"] == "2027-01-15T08:07:00Z"  # the resolution as made at minute 7


@pytest.mark.parametrize("status", ["skipped", "throttled", "deferred", "failed"])
def test_only_sent_settles_a_channel_every_other_status_stays_owed(status):
    ledger = Ledger()
    ledger.run(5, pool_records(), failing=("chat",), status=status)
    [item] = ledger.run(6, pool_records()).outgoing
    assert item.channels == ("chat",)
    assert not item.new  # a catch-up of the same notification, not a new one
    assert not ledger.run(7, pool_records()).outgoing  # sent at minute 6: settled


def test_a_channel_added_later_gets_the_current_notification():
    ledger = Ledger(channels=("chat",))
    ledger.run(5, pool_records())
    ledger.channels = ("chat", "email")
    (item,) = ledger.run(6, pool_records()).outgoing
    assert item.channels == ("email",)


def test_catch_ups_stop_after_the_repeat_interval():
    ledger = Ledger(LifecycleSettings(repeat_interval=600))
    ledger.run(0, pool_records())
    ledger.run(1, [])
    ledger.run(2, [], failing=("chat",))  # resolved; chat fails
    for minute in range(3, 12):
        ledger.run(minute, [], failing=("chat",))
    assert not ledger.run(12, []).outgoing  # ten minutes after the resolution: given up
    assert [m for m, r, c in ledger.got if c == "email"] == [0, 2]


def test_with_no_channels_new_notifications_are_still_decided_once():
    ledger = Ledger(channels=())
    (item,) = ledger.run(5, pool_records()).outgoing
    assert item.channels == ()
    assert item.record["notification_reason"] == "first"
    assert not ledger.run(6, pool_records()).outgoing
    ledger.run(7, [])
    assert [o.record["notification_reason"] for o in ledger.run(8, []).outgoing] == ["resolved"]


def test_record_deliveries_counts_attempts_per_notification():
    state = AlertState("fp", POOL, "firing", at(0), at(0), "m.c", notification_key="k1")
    state = record_deliveries(state, "k1", [{"channel": "chat", "status": "failed", "attempts": 3}], at(0))
    state = record_deliveries(state, "k1", [{"channel": "chat", "status": "sent", "attempts": 1}], at(1))
    assert state.deliveries["chat"] == Delivery("k1", "sent", at(1), 4)
    state = record_deliveries(
        replace(state, notification_key="k2"), "k2", [{"channel": "chat", "status": "sent"}], 9
    )
    assert state.deliveries["chat"] == Delivery("k2", "sent", 9, 1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (60, "1 min"), (720, "12 min"), (2100, "35 min"), (7500, "2 h 5 min"), (3 * 86400, "3 d")],
)
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert format_duration(seconds) == text
