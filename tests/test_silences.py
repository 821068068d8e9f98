"""The silence stage of the pipeline against real stores: held, still owed, notified once it ends."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import CapturingLogger

from handler.lifecycle import LifecycleSettings
from handler.silences import MAX_SILENCE_SECONDS, Silence, new_silence, silencing
from handler.state.base import StoreUnavailable
from tests.builders import (
    ACL_PORT,
    POOL,
    Channels,
    at,
    events,
    opened,
    pool_records,
    run,
)

# The same store fixtures as the lifecycle tests: SQLite in a temp dir and a real redis-server.


pytest_plugins = ("tests.redis_server",)


def failing(minute: int) -> list[dict[str, Any]]:
    return pool_records(failures=ACL_PORT, minute=minute)


def silence(store: Any, matcher: dict[str, str], start: float, minutes: float) -> Silence:
    held = new_silence(matcher, now=at(start), duration=minutes * 60)
    store.add_silence(held)
    return held


def test_a_silenced_finding_is_held_then_notified_once_the_silence_ends(state_url):
    store, channels = opened(state_url), Channels()
    held = silence(store, {"pool": POOL}, 0, 30)
    results = [run(store, channels, minute, failing(minute)) for minute in range(0, 45, 5)]
    # Minutes 0..25 are silenced: nothing sent, the held entry names the silence and its end.
    assert channels.got == [(30, "first", "chat", "sent"), (30, "first", "email", "sent")]
    first = results[0]
    assert first.notifications == []
    [entry] = first.held
    assert entry["silence_id"] == held.id
    assert entry["state"] == "firing"
    assert entry["silenced_until"] == "2027-01-15T08:30:00Z"
    assert {d["status"] for d in first.deliveries} == {"silenced"}
    # While silenced, every run holds it (it stays owed), after the end it goes once, then never again.
    assert all(r.held and r.held[0]["silence_id"] == held.id for r in results[1:6])
    assert [n.reason for n in results[6].notifications] == ["first"]
    assert results[7].notifications == []
    assert store.load([POOL]).states[first.held[0]["fingerprint"]].state == "firing"


def test_a_silence_longer_than_the_repeat_interval_ends_in_a_repeat(state_url):
    store, channels = opened(state_url), Channels()
    settings = LifecycleSettings(repeat_interval=600)
    silence(store, {"pool": POOL}, 0, 20)
    for minute in (0, 5, 15, 25):
        run(store, channels, minute, failing(minute), settings=settings)
    assert channels.sent("chat") == [(25, "repeat")]


def test_an_expired_silence_releases_at_the_next_run_and_other_pools_are_not_held(state_url):
    store, channels = opened(state_url), Channels()
    other = silence(store, {"pool": "another-pool"}, 0, 60)
    mine = silence(store, {"fingerprint": failing(0)[0]["fingerprint"]}, 0, 60)
    run(store, channels, 0, failing(0))
    assert channels.got == []
    assert store.expire_silence(mine.id, at(1)) is True
    run(store, channels, 2, failing(2))
    assert channels.sent("chat") == [(2, "first")]
    assert silencing(store.silences(), failing(3)[0], at(3)) is None
    assert other.active(at(3))


def test_a_resolved_finding_under_a_silence_is_held_too(state_url):
    store, channels = opened(state_url), Channels()
    run(store, channels, 0, failing(0))
    silence(store, {"pool": POOL}, 1, 30)
    results = [run(store, channels, minute, []) for minute in (2, 3)]
    assert channels.sent("chat") == [(0, "first")]
    assert results[1].held[0]["state"] == "resolved"


class NoSilences:
    """A store whose silences cannot be read: nothing is held, the run says why once."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def silences(self) -> list[Silence]:
        raise StoreUnavailable("silences table unreadable")


def test_unreadable_silences_hold_nothing_and_warn(state_url):
    store, channels, log = opened(state_url), Channels(), CapturingLogger()
    silence(store, {"pool": POOL}, 0, 30)
    result = run(NoSilences(store), channels, 0, failing(0), log=log)
    assert channels.sent("chat") == [(0, "first")]
    assert result.warnings == [
        "silences unavailable, nothing is held by a silence this run: silences table unreadable"
    ]
    assert "silences.unavailable" in events(log, "warning")


@pytest.mark.parametrize(
    ("matcher", "duration", "problem"),
    [
        ({}, 60, "exactly one matcher"),
        ({"pool": "p", "fingerprint": "f"}, 60, "exactly one matcher"),
        ({"pool": "p"}, 0, "--for must be"),
        ({"pool": "p"}, MAX_SILENCE_SECONDS + 1, "--for must be"),
    ],
)
def test_bad_silences_are_refused(matcher, duration, problem):
    with pytest.raises(ValueError, match=problem):
        new_silence(matcher, now=0, duration=duration)
