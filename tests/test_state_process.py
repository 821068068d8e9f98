"""One lifecycle run against a real store: the scripted hour, catch-ups, concurrency and a failing store."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from structlog.testing import CapturingLogger, capture_logs

from handler import logs
from handler.lifecycle import LifecycleSettings
from handler.pipeline import BUSY, process
from handler.state import StateStore
from tests.builders import (
    ACL_PORT,
    CHANNELS,
    POOL,
    SG_SOURCE,
    Channels,
    at,
    events,
    opened,
    pool_records,
    run,
)

pytest_plugins = ("tests.redis_server",)


def scripted(minute: int, change_at: int | None = None) -> list[dict[str, Any]]:
    """The issue's hour: healthy until 5, failed from 5, back ONLINE at 20 and 22 only, recovered from 40.

    With `change_at`, the member check finds a second failed item from that minute on.
    """
    if minute < 5 or minute in {20, 22} or minute >= 40:
        return []
    failures = {**ACL_PORT, **SG_SOURCE} if change_at is not None and minute >= change_at else ACL_PORT
    return pool_records(failures=failures, minute=minute)


def test_the_scripted_hour_notifies_first_and_resolved_once_per_channel(state_url):
    store, channels = opened(state_url), Channels()
    results = [run(store, channels, minute, scripted(minute)) for minute in range(60)]
    expected = [(5, "first"), (41, "resolved")]
    assert channels.sent("chat") == expected
    assert channels.sent("email") == expected
    assert channels.calls == 2
    assert all(result.dedup_available for result in results)
    assert [n.title for n in results[41].notifications] == [
        "[RESOLVED] web-pool: master web-master-1 is back ONLINE after 35 min"
    ]
    assert results[6].notifications == []
    assert results[6].held[0]["why"] == "already notified"
    store.close()


def test_the_scripted_hour_with_a_repeat_interval_and_a_new_failed_item(state_url):
    store, channels = opened(state_url), Channels()
    settings = LifecycleSettings(repeat_interval=20 * 60)
    for minute in range(60):
        run(store, channels, minute, scripted(minute, change_at=30), settings=settings)
    expected = [(5, "first"), (25, "repeat"), (30, "changed"), (41, "resolved")]
    assert channels.sent("chat") == expected
    assert channels.sent("email") == expected
    store.close()


def test_a_channel_failing_at_minute_5_catches_up_at_minute_6_without_duplicating_the_other(state_url):
    store, channels = opened(state_url), Channels()
    for minute in range(60):
        channels.failing = {"chat"} if minute == 5 else set()
        result = run(store, channels, minute, scripted(minute))
        if minute == 6:
            assert [d["channel"] for d in result.deliveries] == ["chat"]
            assert result.notifications[0].reason == "first"
    assert channels.sent("chat") == [(6, "first"), (41, "resolved")]
    assert channels.sent("email") == [(5, "first"), (41, "resolved")]
    store.close()


@pytest.mark.parametrize("shared", [False, True], ids=["two-handles", "one-handle"])
def test_two_concurrent_runs_send_each_notification_once(state_url, shared):
    first, second = opened(state_url), opened(state_url)
    stores = (first, first if shared else second)
    channels = Channels()
    done = [threading.Event(), threading.Event()]
    results: list[Any] = [None, None]
    start = threading.Barrier(2)

    def invocation(index: int) -> None:
        # Whoever holds the lease keeps it until the other invocation has finished deciding.
        mine = Channels()
        mine.on_send = lambda: done[1 - index].wait(timeout=5)
        mine.got = channels.got
        start.wait()
        try:
            results[index] = run(stores[index], mine, 5, scripted(5), owner=f"invocation-{index}")
        finally:
            done[index].set()

    threads = [threading.Thread(target=invocation, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(channel for _, _, channel, _ in channels.got) == ["chat", "email"]
    # The loser decided while the winner held the lease, so it skipped both channels and said why.
    skipped = [
        (d["channel"], d["error"])
        for result in results
        for d in result.deliveries
        if d["status"] == "skipped"
    ]
    assert skipped == [("chat", BUSY), ("email", BUSY)]
    assert sorted(len(result.notifications) for result in results) == [0, 1]
    # The next minute nobody sends again.
    again = Channels()
    run(first, again, 6, scripted(6))
    assert again.got == []
    first.close()
    second.close()


class OtherRunsFirst:
    """A store that lets another whole invocation run between this one's first read and its lease."""

    def __init__(self, store: StateStore, other: Any) -> None:
        self.store, self.other = store, other

    def load(self, scopes: Any) -> Any:
        return self.store.load(scopes)

    def save(self, states: Any, *, release: Any = (), owner: str = "") -> None:
        self.store.save(states, release=release, owner=owner)

    def lease(self, fingerprints: Any, owner: str, ttl_ms: int, scopes: Any = ()) -> Any:
        if self.other is not None:
            other, self.other = self.other, None
            other()
        return self.store.lease(fingerprints, owner, ttl_ms, scopes)

    def close(self) -> None:
        self.store.close()


def test_a_run_that_was_overtaken_rereads_under_the_lease_and_sends_nothing(state_url):
    store, channels = opened(state_url), Channels()
    other_store = opened(state_url)
    late = OtherRunsFirst(store, lambda: run(other_store, channels, 5, scripted(5), owner="fast"))
    result = run(late, channels, 5, scripted(5), owner="slow")
    assert channels.sent("chat") == [(5, "first")]
    assert channels.sent("email") == [(5, "first")]
    assert result.notifications == []
    assert result.deliveries == []
    assert result.held[0]["why"] == "already notified"
    store.close()
    other_store.close()


def test_a_lease_held_elsewhere_skips_the_notification_and_says_why(state_url):
    store, channels = opened(state_url), Channels()
    fingerprint = scripted(5)[0]["fingerprint"]
    assert store.lease([fingerprint], "the-other-invocation", 60_000).taken == (fingerprint,)
    result = run(store, channels, 5, scripted(5))
    assert channels.got == []
    assert result.notifications == []
    assert [(d["channel"], d["status"], d["error"]) for d in result.deliveries] == [
        ("chat", "skipped", BUSY),
        ("email", "skipped", BUSY),
    ]
    assert result.held[0]["why"] == BUSY
    store.save([], release=[fingerprint], owner="the-other-invocation")
    run(store, channels, 6, scripted(6))
    assert channels.sent("chat") == [(6, "first")]
    store.close()


def test_redis_killed_between_runs_still_sends_and_says_dedup_was_unavailable(private_redis):
    with private_redis() as server:
        store, channels = opened(server.url), Channels()
        run(store, channels, 5, scripted(5))
        server.stop()
        log = CapturingLogger()
        result = run(store, channels, 6, scripted(6), log=log)
    assert not result.dedup_available
    assert channels.sent("chat") == [(5, "first"), (6, "first")]
    assert channels.sent("email") == [(5, "first"), (6, "first")]
    assert [n.fingerprint for n in result.notifications] == [scripted(6)[0]["fingerprint"]]
    assert events(log, "warning") == ["dedup.unavailable"]
    assert result.warnings[0].startswith("de-duplication unavailable: redis 127.0.0.1:")


def test_redis_killed_while_sending_keeps_what_was_sent_and_says_dedup_was_unavailable(private_redis):
    with private_redis() as server:
        store, channels = opened(server.url), Channels()
        channels.on_send = server.stop
        log = CapturingLogger()
        result = run(store, channels, 5, scripted(5), log=log)
    assert not result.dedup_available
    assert channels.sent("chat") == [(5, "first")]
    assert channels.sent("email") == [(5, "first")]
    assert [d["status"] for d in result.deliveries] == ["sent", "sent"]
    assert events(log, "warning") == ["dedup.unavailable"]
    assert "were not recorded" in result.warnings[0]


def test_an_unusable_sqlite_file_falls_back_to_sending_everything(tmp_path):
    (tmp_path / "a-file").write_text("")
    store, channels, log = opened(f"sqlite://{tmp_path}/a-file/state.db"), Channels(), CapturingLogger()
    result = run(store, channels, 5, scripted(5), log=log)
    assert not result.dedup_available
    assert channels.sent("chat") == [(5, "first")]
    assert len(events(log, "warning")) == 1


def test_without_a_store_every_finding_goes_to_every_channel_every_run():
    channels, log = Channels(), CapturingLogger()
    for minute in (5, 6):
        result = run(None, channels, minute, scripted(minute), log=log)
        assert not result.dedup_available
        assert result.notifications[0].reason == "first"
    assert channels.sent("chat") == [(5, "first"), (6, "first")]
    assert events(log, "warning") == ["dedup.unavailable", "dedup.unavailable"]
    assert "ELB_WATCH_STATE=off" in log.calls[0].kwargs["reason"]


def test_with_no_channels_send_is_never_called_and_records_come_back_once(state_url):
    store, channels = opened(state_url), Channels()
    reasons = []
    for minute in range(60):
        result = run(store, channels, minute, scripted(minute), names=())
        reasons.extend((minute, n.reason) for n in result.notifications)
    assert channels.calls == 0
    assert reasons == [(5, "first"), (41, "resolved")]
    store.close()


def test_corrupt_rows_are_logged_once_and_the_run_goes_on(tmp_path):
    url = f"sqlite://{tmp_path}/state.db"
    store, channels, log = opened(url), Channels(), CapturingLogger()
    run(store, channels, 5, scripted(5))
    conn = sqlite3.connect(tmp_path / "state.db")
    with conn:
        conn.execute("INSERT INTO alert_state VALUES ('fp-bad', ?, '{broken', 0)", (POOL,))
    conn.close()
    result = run(store, channels, 6, scripted(6), log=log)
    assert result.dedup_available
    assert events(log, "warning") == ["state.row_ignored"]
    assert "fp-bad" in result.warnings[0]
    assert channels.sent("chat") == [(5, "first")]


def test_a_channel_layer_that_crashes_counts_as_failed_and_is_retried(state_url):
    store, channels = opened(state_url), Channels()

    def broken(pairs: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    log = CapturingLogger()
    result = process(
        scripted(5), {POOL}, store=store, channels=CHANNELS, send=broken, now=at(5),
        settings=LifecycleSettings(), owner="run-5", log=log,
    )  # fmt: skip
    assert [d["status"] for d in result.deliveries] == ["failed", "failed"]
    assert events(log, "error") == ["channels.crashed"]
    run(store, channels, 6, scripted(6))
    assert channels.sent("chat") == [(6, "first")]
    store.close()


def test_the_real_logger_gets_one_warning_when_there_is_no_store():
    channels = Channels()
    with capture_logs() as lines:
        run(None, channels, 5, scripted(5), log=logs.logger())
    assert [(line["log_level"], line["event"]) for line in lines] == [("warning", "dedup.unavailable")]
    assert lines[0]["notifications"] == 1


def test_an_unreadable_stored_state_makes_deduplication_partial_not_on(simulator, monkeypatch, tmp_path):
    # The stored state of the demo finding is garbage: the run must not claim full de-duplication.
    from handler.app import invoke  # noqa: PLC0415 - end to end through the handler
    from tests.support import DEMO_POOL, PlatformContext  # noqa: PLC0415

    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    first = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert first["deduplication"] == "on"
    [record] = first["notifications"]
    conn = sqlite3.connect(tmp_path / "state.db")
    with conn:
        garbage = "UPDATE alert_state SET body = '{broken' WHERE fingerprint = ?"
        conn.execute(garbage, (record["fingerprint"],))
    conn.close()
    second = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert second["deduplication"] == "partial"
    assert [n["notification_reason"] for n in second["notifications"]] == ["first"]


def test_a_recovery_another_invocation_holds_waits_for_its_lease_then_goes_out_once(state_url):
    """A stored finding the run did not observe (recovering) takes its own lease before it may change."""
    store, channels = opened(state_url), Channels()
    for minute in range(5, 40):
        run(store, channels, minute, scripted(minute))
    fingerprint = scripted(5)[0]["fingerprint"]
    assert store.lease([fingerprint], "the-other-invocation", 60_000).taken == (fingerprint,)
    for minute in (40, 41, 42):
        result = run(store, channels, minute, [])
        assert result.held[0]["why"] == BUSY
        assert result.notifications == []
    store.save([], release=[fingerprint], owner="the-other-invocation")
    results = [run(store, channels, minute, []) for minute in (43, 44, 45)]
    assert [n.reason for n in results[1].notifications] == ["resolved"]
    assert channels.sent("chat") == [(5, "first"), (44, "resolved")]
    assert results[2].notifications == []
    store.close()


def test_a_quiet_run_settles_in_one_call_and_decides_as_a_leasing_run_does(state_url, tmp_path):
    """SQLite settles the quiet minutes inside the lease call; Redis leases and saves: same outcomes."""
    store, channels = opened(state_url), Channels()
    results = [run(store, channels, minute, scripted(minute)) for minute in range(5, 9)]
    assert channels.sent("chat") == [(5, "first")]
    for quiet in results[1:]:
        assert quiet.notifications == []
        assert quiet.deliveries == []
        assert [held["why"] for held in quiet.held] == ["already notified"]
        assert quiet.dedup_available
    [stored] = store.load([POOL]).states.values()
    assert stored.seen == 4
    assert stored.last_seen == at(8)
    # No lease outlives a run, settled or not: the next run takes it at once.
    assert store.lease([stored.fingerprint], "next-run", 5_000).taken == (stored.fingerprint,)
    if state_url.startswith("sqlite://"):
        with sqlite3.connect(state_url.removeprefix("sqlite://")) as conn:
            assert conn.execute("SELECT owner FROM lease").fetchall() == [("next-run",)]
    store.close()
