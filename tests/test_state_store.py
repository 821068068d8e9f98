"""The state-store contract, run against SQLite in a temp dir and a real redis-server on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from handler.config import ConfigError
from handler.history import FAILED_OVER, OUTAGE, Episode, HistoryBounds
from handler.lifecycle import AlertState, Delivery
from handler.silences import new_silence
from handler.state import StateStore, StoreUnavailable, open_store, shown_store_url, url_secrets
from handler.state.memory import MemoryStore
from handler.state.redis_store import RedisStore
from handler.state.sqlite_store import SqliteStore

pytest_plugins = ("tests.redis_server",)

PASSWORD = "s3cret-Redis-pass"


def state(fingerprint: str, scope: str = "pool-a", **changes: Any) -> AlertState:
    base = AlertState(
        fingerprint=fingerprint,
        scope=scope,
        state="firing",
        first_seen=1_800_000_000.0,
        last_seen=1_800_000_060.0,
        reason_digest="mabc.cdef",
        seen=2,
        last_notified=1_800_000_000.0,
        sequence=1,
        notification_key=f"{fingerprint}:firing:mabc.cdef:1",
        notification_reason="first",
        record={"fingerprint": fingerprint, "title": "[MAJOR] pool: master 主 down", "pool": {"id": scope}},
        deliveries={"chat": Delivery(f"{fingerprint}:firing:mabc.cdef:1", "sent", 1_800_000_000.0, 1)},
    )
    return replace(base, **changes)


@contextlib.contextmanager
def raw(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection, committed and closed afterwards."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


@pytest.fixture
def closing() -> Iterator[Any]:
    """Close every store a test opens, whatever happens in it."""
    opened: list[StateStore] = []

    def keep(store: Any) -> Any:
        opened.append(store)
        return store

    yield keep
    for store in opened:
        store.close()


class Backend:
    """One kind of store: how to open another handle on the same data, and how to write a raw row."""

    name = ""

    def open(self) -> StateStore:
        raise NotImplementedError

    def put_raw(self, scope: str, fingerprint: str, body: bytes) -> None:
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> StateStore:
        return SqliteStore(str(self.path))

    def put_raw(self, scope: str, fingerprint: str, body: bytes) -> None:
        store = self.open()
        store.load([])  # creates the schema
        store.close()
        with raw(self.path) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alert_state VALUES (?, ?, CAST(? AS TEXT), ?)",
                (fingerprint, scope, body, time.time()),
            )


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url

    def open(self) -> StateStore:
        store = open_store(self.url)
        assert store is not None
        return store

    def put_raw(self, scope: str, fingerprint: str, body: bytes) -> None:
        client = redis.Redis.from_url(self.url)
        client.hset(f"elb-master-watch:state:{scope}", fingerprint, body)
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "state" / "state.db")
    return RedisBackend(request.getfixturevalue("redis_url"))


@pytest.fixture
def store(backend) -> Iterator[StateStore]:
    opened = backend.open()
    yield opened
    opened.close()


# The contract


def test_saved_states_load_back_equal(store):
    saved = [state("fp-1"), state("fp-2", state="resolved", resolved_at=1_800_000_600.0, notice={"n": 1})]
    store.save(saved)
    loaded = store.load(["pool-a"])
    assert loaded.warnings == []
    assert loaded.states == {s.fingerprint: s for s in saved}


def test_saving_a_fingerprint_again_replaces_it(store):
    store.save([state("fp-1")])
    store.save([state("fp-1", seen=9)])
    assert store.load(["pool-a"]).states["fp-1"].seen == 9


def test_load_returns_only_the_scopes_asked_for(store):
    store.save([state("fp-a", "pool-a"), state("fp-b", "pool-b"), state("fp-j", "job:job-1")])
    assert set(store.load(["pool-a"]).states) == {"fp-a"}
    assert set(store.load(["pool-b", "job:job-1"]).states) == {"fp-b", "fp-j"}
    assert store.load([]).states == {}
    assert store.load(["pool-unknown"]).states == {}


def test_another_handle_on_the_same_store_sees_the_same_states(backend, store):
    store.save([state("fp-1")])
    other = backend.open()
    try:
        assert set(other.load(["pool-a"]).states) == {"fp-1"}
    finally:
        other.close()


def take(store: StateStore, fingerprint: str, owner: str, ttl_ms: int) -> bool:
    """One lease, through the batch call."""
    return store.lease([fingerprint], owner, ttl_ms).taken == (fingerprint,)


def give_back(store: StateStore, fingerprint: str, owner: str) -> None:
    """One lease given back, through a save of no states."""
    store.save([], release=[fingerprint], owner=owner)


def test_one_lease_call_takes_the_free_leases_and_rereads_the_scopes_under_them(store):
    store.save([state("fp-1"), state("fp-2"), state("fp-b", "pool-b")])
    assert take(store, "fp-2", "other-run", 5_000)
    leased = store.lease(["fp-1", "fp-2", "fp-3", "fp-1"], "run-a", 5_000, ["pool-a", "pool-b"])
    assert leased.taken == ("fp-1", "fp-3")
    assert set(leased.loaded.states) == {"fp-1", "fp-2", "fp-b"}
    nothing = store.lease(["fp-1", "fp-3"], "run-b", 5_000, ["pool-a"])
    assert nothing.taken == ()
    assert set(nothing.loaded.states) == {
        "fp-1",
        "fp-2",
    }  # read all the same: how a run finds what it did not observe
    assert store.lease([], "run-c", 5_000, ["pool-a"]).taken == ()


def test_one_save_writes_the_states_and_gives_back_only_the_owners_leases(store):
    assert store.lease(["fp-1", "fp-2"], "run-a", 5_000).taken == ("fp-1", "fp-2")
    assert take(store, "fp-3", "run-b", 5_000)
    store.save([state("fp-1", seen=4)], release=["fp-1", "fp-2", "fp-3"], owner="run-a")
    assert store.load(["pool-a"]).states["fp-1"].seen == 4
    assert store.lease(["fp-1", "fp-2", "fp-3"], "run-c", 5_000).taken == ("fp-1", "fp-2")


def test_a_quiet_run_is_settled_in_the_lease_call_without_a_lease_where_the_store_can(store):
    """SQLite decides and writes in the lease's transaction; Redis leases as always (settle unused)."""
    store.save([state("fp-1", seen=2)])
    seen_by_settle = []

    def settle(loaded):
        seen_by_settle.append(loaded.states["fp-1"].seen)
        return {"fp-1": state("fp-1", seen=3)}

    leased = store.lease(["fp-1"], "run-a", 5_000, ["pool-a"], settle=settle)
    assert leased.loaded.states["fp-1"].seen == 2
    if store.settles:
        assert (leased.settled, leased.taken, seen_by_settle) == (True, (), [2])
        assert store.load(["pool-a"]).states["fp-1"].seen == 3
        assert take(store, "fp-1", "run-b", 5_000), "the settled run left no lease behind"
    else:
        assert (leased.settled, leased.taken, seen_by_settle) == (False, ("fp-1",), [])
        assert store.load(["pool-a"]).states["fp-1"].seen == 2


def test_settle_is_not_asked_while_another_run_holds_a_lease_and_none_means_lease_as_usual(store):
    store.save([state("fp-1"), state("fp-2")])
    assert take(store, "fp-2", "other-run", 5_000)
    asked = []
    leased = store.lease(["fp-1", "fp-2"], "run-a", 5_000, ["pool-a"], settle=asked.append)
    assert (asked, leased.taken, leased.settled) == ([], ("fp-1",), False)
    declined = store.lease(["fp-3"], "run-a", 5_000, ["pool-a"], settle=lambda _loaded: None)
    assert (declined.taken, declined.settled) == (("fp-3",), False)
    assert set(declined.loaded.states) == {"fp-1", "fp-2"}


def test_a_settle_that_raises_writes_nothing_and_takes_no_lease(tmp_path, closing):
    store = closing(SqliteStore(str(tmp_path / "state.db")))
    store.save([state("fp-1", seen=2)])

    def broken(_loaded):
        raise ValueError("a bug in the decision")

    with pytest.raises(ValueError, match="a bug in the decision"):
        store.lease(["fp-1"], "run-a", 5_000, ["pool-a"], settle=broken)
    assert store.load(["pool-a"]).states["fp-1"].seen == 2
    assert take(store, "fp-1", "run-b", 5_000)


def test_a_lease_is_exclusive_even_for_its_owner_and_per_fingerprint(store):
    assert take(store, "fp-1", "run-a", 5_000)
    assert not take(store, "fp-1", "run-b", 5_000)
    assert not take(store, "fp-1", "run-a", 5_000)
    assert take(store, "fp-2", "run-b", 5_000)


def test_a_lease_expires(store):
    assert take(store, "fp-1", "run-a", 150)
    assert not take(store, "fp-1", "run-b", 150)
    time.sleep(0.3)
    assert take(store, "fp-1", "run-b", 5_000)


def test_release_only_deletes_the_owners_lease(store):
    assert take(store, "fp-1", "run-a", 5_000)
    give_back(store, "fp-1", "run-b")
    assert not take(store, "fp-1", "run-c", 5_000)
    give_back(store, "fp-1", "run-a")
    assert take(store, "fp-1", "run-c", 5_000)


def test_a_late_release_leaves_the_lease_of_whoever_took_it_over(store):
    assert take(store, "fp-1", "slow-run", 100)
    time.sleep(0.25)
    assert take(store, "fp-1", "next-run", 5_000)
    give_back(store, "fp-1", "slow-run")
    assert not take(store, "fp-1", "third-run", 5_000)


def test_corrupt_and_old_schema_rows_are_ignored_with_one_warning_each(backend, store):
    store.save([state("fp-good")])
    backend.put_raw("pool-a", "fp-text", b"not json at all")
    backend.put_raw("pool-a", "fp-bytes", b"\xff\xfe\x00garbage")
    backend.put_raw("pool-a", "fp-list", b"[1, 2, 3]")
    old = {**state("fp-old").to_dict(), "schema": 0}
    backend.put_raw("pool-a", "fp-old", json.dumps(old).encode())
    loaded = store.load(["pool-a"])
    assert set(loaded.states) == {"fp-good"}
    assert len(loaded.warnings) == 4
    for fingerprint in ("fp-text", "fp-bytes", "fp-list", "fp-old"):
        assert sum(fingerprint in line for line in loaded.warnings) == 1
    assert any("schema 0, expected 1" in line for line in loaded.warnings)
    store.save([state("fp-old")])  # a good state overwrites the bad row
    assert set(store.load(["pool-a"]).states) == {"fp-good", "fp-old"}


# Unavailable stores


def test_sqlite_in_a_place_that_cannot_be_written_is_unavailable(tmp_path, closing):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = closing(SqliteStore(str(blocker / "state.db")))
    for call in (
        lambda: store.load(["p"]),
        lambda: store.save([state("fp")]),
        lambda: take(store, "f", "o", 1),
    ):
        with pytest.raises(StoreUnavailable, match=r"sqlite .*a-file/state\.db"):
            call()


def test_sqlite_locked_by_another_writer_is_unavailable_after_the_busy_timeout(tmp_path, closing):
    path = tmp_path / "state.db"
    store = closing(SqliteStore(str(path), busy_timeout=0.1))
    store.save([state("fp-1")])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert set(store.load(["pool-a"]).states) == {"fp-1"}  # WAL: readers are not blocked
        with pytest.raises(StoreUnavailable, match="locked"):
            store.save([state("fp-2")])
        with pytest.raises(StoreUnavailable, match="locked"):
            take(store, "fp-1", "run-a", 1000)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert take(store, "fp-1", "run-a", 1000)


def test_sqlite_file_of_a_newer_schema_is_refused_not_rewritten(tmp_path, closing):
    path = tmp_path / "state.db"
    with raw(path) as conn:
        conn.execute("PRAGMA user_version=7")
    with pytest.raises(StoreUnavailable, match="schema version 7"):
        closing(SqliteStore(str(path))).load(["p"])
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7


# Corrupt files are set aside (issue 20): a damaged store must not turn de-duplication off for good.

GARBAGE = b"this is no sqlite file " * 400


def _aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


def _checkpointed(path: Path) -> None:
    """Everything of the WAL copied into the main file, as SQLite does every 1000 pages by itself."""
    with raw(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_sqlite_file_overwritten_with_garbage_is_set_aside_once_and_a_fresh_store_starts(tmp_path, closing):
    path = tmp_path / "state.db"
    store = closing(SqliteStore(str(path)))
    store.save([state("fp-1")])
    _checkpointed(path)
    path.write_bytes(GARBAGE)  # the warm connection still has the file open
    with pytest.raises(
        StoreUnavailable, match=r"^state store was corrupt: set aside as .*started afresh"
    ) as err:
        store.load(["pool-a"])
    [aside] = _aside(path)
    assert re.fullmatch(r"state\.db\.corrupt-\d{8}T\d{6}Z", aside.name), "UTC time like 20261203T221500Z"
    assert str(aside) in err.value.message
    assert aside.read_bytes() == GARBAGE, "the damaged file is kept for a post-mortem, untouched"
    assert store.take_set_aside() == str(aside)
    assert store.take_set_aside() is None, "said once"
    # The same call already made a fresh store: the next one works, empty, and de-duplicates again.
    assert store.load(["pool-a"]).states == {}
    store.save([state("fp-2")])
    assert set(closing(SqliteStore(str(path))).load(["pool-a"]).states) == {"fp-2"}
    assert len(_aside(path)) == 1


def test_sqlite_file_with_a_torn_page_is_found_by_quick_check_on_open(tmp_path, closing):
    path = tmp_path / "state.db"
    closing(SqliteStore(str(path))).save([state(f"fp-{n}") for n in range(50)])
    _checkpointed(path)
    with path.open("r+b") as file:  # the header stays good: only quick_check reads page 2
        file.seek(4096)
        file.write(GARBAGE[:4096])
    store = closing(SqliteStore(str(path)))
    with pytest.raises(StoreUnavailable, match=r"^state store was corrupt: .*quick_check"):
        store.save([state("fp-new")])
    assert len(_aside(path)) == 1
    store.save([state("fp-new")])
    assert set(store.load(["pool-a"]).states) == {"fp-new"}


def test_sqlite_corrupt_file_takes_its_wal_and_shm_along(tmp_path, closing):
    path = tmp_path / "state.db"
    for end, body in (("", GARBAGE), ("-wal", b"stale wal " * 100), ("-shm", b"stale shm " * 100)):
        Path(f"{path}{end}").write_bytes(body)
    store = closing(SqliteStore(str(path)))
    with pytest.raises(StoreUnavailable, match="state store was corrupt"):
        take(store, "fp-1", "run-a", 1000)
    [aside] = _aside(path)
    suffix = aside.name.removeprefix("state.db")
    assert Path(f"{path}-wal{suffix}").read_bytes() == b"stale wal " * 100, "same suffix as the file"
    assert Path(f"{path}-shm{suffix}").is_file()  # SQLite itself rewrites the shared-memory index
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").read_bytes() != b"stale wal " * 100
    assert take(store, "fp-1", "run-a", 1000), "the fresh store replays no stale WAL"


def test_sqlite_corrupt_file_set_aside_twice_in_one_second_keeps_both(tmp_path, closing):
    path = tmp_path / "state.db"
    store = closing(SqliteStore(str(path)))
    for _ in range(2):
        path.write_bytes(GARBAGE)
        with pytest.raises(StoreUnavailable, match="state store was corrupt"):
            store.load(["p"])
        store.close()
    assert len(_aside(path)) == 2
    assert all(aside.read_bytes() == GARBAGE for aside in _aside(path))


def test_sqlite_corrupt_file_another_store_already_replaced_is_not_moved_again(tmp_path, closing):
    path = tmp_path / "state.db"
    first, second = closing(SqliteStore(str(path))), closing(SqliteStore(str(path)))
    first.save([state("fp-1")])
    assert set(second.load(["pool-a"]).states) == {"fp-1"}
    _checkpointed(path)
    path.write_bytes(GARBAGE)
    with pytest.raises(StoreUnavailable, match="state store was corrupt"):
        second.load(["pool-a"])
    second.save([state("fp-2")])  # the fresh file, already in use by the other store
    with pytest.raises(StoreUnavailable, match="the file was replaced meanwhile"):
        first.load(["pool-a"])
    assert len(_aside(path)) == 1
    assert first.take_set_aside() is None
    assert set(first.load(["pool-a"]).states) == {"fp-2"}, "it moved over to the fresh file, untouched"


def test_sqlite_locked_or_unwritable_files_are_not_set_aside(tmp_path, closing):
    path = tmp_path / "state.db"
    store = closing(SqliteStore(str(path), busy_timeout=0.1))
    store.save([state("fp-1")])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match=r"^sqlite .*locked"):
            store.save([state("fp-2")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable, match=r"^sqlite .*failed"):
        closing(SqliteStore(str(blocker / "state.db"))).load(["p"])
    assert list(tmp_path.glob("*corrupt*")) == []
    assert set(store.load(["pool-a"]).states) == {"fp-1"}
    assert store.take_set_aside() is None


def _first_use_together(stores: list[SqliteStore]) -> list[str]:
    start = threading.Barrier(len(stores))
    problems: list[str] = []

    def first_use(store: SqliteStore) -> None:
        start.wait()
        try:
            store.load(["pool-a"])
        except StoreUnavailable as exc:
            problems.append(exc.message)

    threads = [threading.Thread(target=first_use, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return problems


def test_sqlite_files_opened_by_two_invocations_at_once_both_work(tmp_path, closing):
    # Switching a new file to WAL answers "locked" at once instead of waiting; the store must wait.
    for attempt in range(20):
        path = str(tmp_path / f"state-{attempt}.db")
        assert _first_use_together([closing(SqliteStore(path)), closing(SqliteStore(path))]) == []


def test_sqlite_uses_wal_mode(tmp_path, closing):
    path = tmp_path / "state.db"
    closing(SqliteStore(str(path))).save([state("fp-1")])
    with raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_redis_that_is_gone_is_unavailable_quickly_and_never_shows_the_password(private_redis, closing):
    with private_redis(password=PASSWORD) as server:
        store = closing(open_store(server.url))
        assert store is not None
        store.save([state("fp-1")])
        assert set(store.load(["pool-a"]).states) == {"fp-1"}
        server.stop()
        started = time.monotonic()
        for call in (
            lambda: store.load(["pool-a"]),
            lambda: store.save([state("fp-2")]),
            lambda: take(store, "fp-1", "run-a", 1000),
            lambda: give_back(store, "fp-1", "run-a"),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert f"127.0.0.1:{server.port}/0" in caught.value.message
            assert PASSWORD not in caught.value.message
        assert time.monotonic() - started < 4


def test_redis_with_a_wrong_password_is_unavailable_without_echoing_it(private_redis, closing):
    with private_redis(password=PASSWORD) as server:
        wrong = "wrong-password-123"
        store = closing(open_store(f"redis://:{wrong}@127.0.0.1:{server.port}/0"))
        assert store is not None
        with pytest.raises(StoreUnavailable) as caught:
            store.load(["pool-a"])
        assert wrong not in str(caught.value)
        assert PASSWORD not in str(caught.value)


def test_redis_keys_use_the_prefix_and_expire(redis_url):
    store = open_store(f"{redis_url}?key_prefix=team-a:")
    assert isinstance(store, RedisStore)
    store.save([state("fp-1")])
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.exists("team-a:state:pool-a")
        assert 0 < client.ttl("team-a:state:pool-a") <= 30 * 86400
        assert take(store, "fp-1", "run-a", 5000)
        assert client.get("team-a:lease:fp-1") == b"run-a"
        assert 0 < client.pttl("team-a:lease:fp-1") <= 5000
    finally:
        client.close()
        store.close()


def test_sqlite_drops_states_nobody_wrote_for_the_retention(tmp_path, closing):
    store = closing(SqliteStore(str(tmp_path / "state.db"), retention=0.05))
    store.save([state("fp-old")])
    time.sleep(0.1)
    store.save([state("fp-new")])
    assert set(store.load(["pool-a"]).states) == {"fp-new"}


def test_sqlite_scans_for_expired_rows_at_most_every_ten_minutes(tmp_path, closing):
    """The retention sweep scans the table: once per store per SWEEP_SECONDS, not on every save."""
    path = tmp_path / "state.db"
    store = closing(SqliteStore(str(path), retention=1000.0))
    store.save([state("fp-1")])  # the first save sweeps
    other = sqlite3.connect(path, isolation_level=None)
    try:
        old = json.dumps(state("fp-old").to_dict())
        other.execute(
            "INSERT INTO alert_state (fingerprint, scope, body, updated_at) VALUES (?, ?, ?, ?)",
            ("fp-old", "pool-a", old, time.time() - 5000),
        )
    finally:
        other.close()
    store.save([state("fp-2")])
    assert set(store.load(["pool-a"]).states) == {"fp-1", "fp-2", "fp-old"}  # not swept again yet
    fresh = closing(SqliteStore(str(path), retention=1000.0))
    fresh.save([state("fp-3")])  # a new store (a new instance) sweeps on its first save
    assert set(fresh.load(["pool-a"]).states) == {"fp-1", "fp-2", "fp-3"}


# ELB_WATCH_STATE


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_state_url_means_no_store(value):
    assert open_store(value) is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///srv/elb/state.db", "/srv/elb/state.db"),
        ("sqlite:////srv/elb/state.db", "/srv/elb/state.db"),
        ("sqlite:state.db", "state.db"),
        ("sqlite:./data/state.db", "./data/state.db"),
        ("SQLITE:///srv/with%20space.db", "/srv/with space.db"),
    ],
)
def test_sqlite_urls(url, path, closing):
    store = closing(open_store(url))
    assert isinstance(store, SqliteStore)
    assert store.path == path


def test_redis_url_parts(closing):
    store = closing(
        open_store(f"rediss://user:{PASSWORD}@dcs.example.internal:6380/3?key_prefix=x:&timeout=0.5")
    )
    assert isinstance(store, RedisStore)
    assert store.label == "rediss dcs.example.internal:6380/3"
    assert store.prefix == "x:"
    assert PASSWORD not in repr(store)
    default = closing(open_store("redis://127.0.0.1"))
    assert isinstance(default, RedisStore)
    assert default.label == "redis 127.0.0.1:6379/0"
    assert default.prefix == "elb-master-watch:"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"redis://:{PASSWORD}@cache:99999/0", "invalid port"),
        (f"redis://:{PASSWORD}@:6379/0", "no host"),
        (f"redis://:{PASSWORD}@cache:6379/zero", "must be a number"),
        (f"redis://:{PASSWORD}@cache:6379/0?prefix=x", "unknown option 'prefix'"),
        (f"redis://:{PASSWORD}@cache:6379/0?timeout=0", "timeout"),
        (f"redis://:{PASSWORD}@cache:6379/0?ssl_ca_certs=/ca.pem", "only rediss"),
        (f"memcached://:{PASSWORD}@cache:11211", "must be instance, off, or start with"),
        ("sqlite://host/state.db", "host part"),
        ("sqlite:///", "names no file"),
        ("sqlite:///tmp/state.db?mode=ro", "takes no options"),
    ],
)
def test_bad_state_urls_are_config_errors_that_hide_the_password(url, problem):
    with pytest.raises(ConfigError, match=problem) as caught:
        open_store(url)
    message = str(caught.value)
    assert message.startswith("ELB_WATCH_STATE=")
    assert PASSWORD not in message


def test_redact_url_and_url_secrets():
    url = "redis://user:p%40ss-word-long@cache:6379/0"
    assert shown_store_url(url) == "redis://user:***@cache:6379/0"
    assert shown_store_url("redis://only-a-token-here@cache") == "redis://***@cache"
    assert shown_store_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    assert url_secrets(url) == ("p%40ss-word-long", "p@ss-word-long")
    assert url_secrets("redis://:short@cache") == ()
    assert url_secrets(None) == ()


def test_a_redis_url_without_the_redis_package_says_to_install_the_extra():
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from handler.state import open_store\n"
        "try:\n    open_store('redis://cache:6379/0')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("ConfigError ")
    assert "pip install 'elb-master-watch[redis]'" in done.stdout


def test_importing_the_lifecycle_and_the_state_package_loads_no_store_client():
    code = (
        "import sys, handler.lifecycle, handler.state\n"
        "print(','.join(m for m in ('redis', 'sqlite3', 'structlog') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_redis_server_fixture_is_a_real_server(redis_server):
    client = redis.Redis(port=redis_server.port)
    try:
        assert client.ping()
        assert client.info("server")["tcp_port"] == redis_server.port
    finally:
        client.close()


def test_memo_keeps_a_value_until_it_expires(store):
    assert store.recall("diagnosis-job:m:l") is None
    store.remember("diagnosis-job:m:l", "job-1", ttl=60)
    assert store.recall("diagnosis-job:m:l") == "job-1"
    store.remember("diagnosis-job:m:l", "job-2", ttl=60)
    assert store.recall("diagnosis-job:m:l") == "job-2"
    store.remember("short", "gone-soon", ttl=0.05)
    time.sleep(0.2)
    assert store.recall("short") is None


def test_all_states_lists_every_scope_and_reports_bad_rows(backend, store):
    store.save([state("fp-a", "pool-a"), state("fp-b", "pool-b"), state("fp-j", "job:job-1")])
    backend.put_raw("pool-c", "fp-bad", b"{not json")
    listed = store.all_states()
    assert set(listed.states) == {"fp-a", "fp-b", "fp-j"}
    assert listed.states["fp-j"].scope == "job:job-1"
    assert len(listed.warnings) == 1
    assert "fp-bad" in listed.warnings[0]


def test_silences_are_kept_listed_and_expired(backend, store):
    assert store.silences() == []
    now = time.time()
    pool = new_silence({"pool": "pool-a"}, now=now, duration=3600, comment="maintenance 主")
    finding = new_silence({"fingerprint": "fp-1"}, now=now, duration=60)
    store.add_silence(pool)
    store.add_silence(finding)
    assert store.silences() == [finding, pool]  # oldest end first
    other = backend.open()
    try:
        assert other.expire_silence(pool.id, now + 5) is True
        assert other.expire_silence("no-such-silence", now + 5) is False
    finally:
        other.close()
    by_id = {silence.id: silence for silence in store.silences()}
    assert by_id[pool.id].ends_at == now + 5
    assert by_id[pool.id].comment == "maintenance 主"
    assert not by_id[pool.id].active(now + 6)
    assert by_id[finding.id].active(now + 6)
    assert store.expire_silence(pool.id, now + 100) is True  # already ended: stays ended when it ended
    assert {s.id: s for s in store.silences()}[pool.id].ends_at == now + 5


@pytest.fixture(params=["sqlite", "redis", "memory"])
def ack_store(request, tmp_path) -> Iterator[StateStore]:
    """Every adapter that keeps acknowledgements: SQLite, Redis and the instance's memory store."""
    from handler.state.memory import MemoryStore  # noqa: PLC0415

    if request.param == "memory":
        opened: StateStore = MemoryStore()
    elif request.param == "sqlite":
        opened = SqliteBackend(tmp_path / "state" / "state.db").open()
    else:
        opened = RedisBackend(request.getfixturevalue("redis_url")).open()
    yield opened
    opened.close()


def test_stores_keep_replace_list_and_drop_acknowledgements(ack_store):
    from handler.acks import Ack  # noqa: PLC0415

    now = time.time()
    ack_store.save([state("fp-1"), state("fp-2")])
    assert ack_store.acks() == []
    ack_store.acknowledge(Ack("fp-1", "bob", now, 100.0, "m1.c", "on it 主"))
    eve = Ack("fp-2", "eve", now + 1, 100.0, "m1.c")
    ack_store.acknowledge(eve)
    alice = Ack("fp-1", "alice", now + 2, 100.0, "m1.c")
    ack_store.acknowledge(alice)  # replaces bob's
    assert ack_store.acks() == [alice, eve]
    assert ack_store.unacknowledge(["fp-1", "fp-9"]) == ["fp-1"]
    assert ack_store.acks() == [eve]
    assert ack_store.unacknowledge([]) == []


def test_an_old_acknowledgement_of_an_alert_no_longer_kept_is_dropped_when_another_is_kept(store):
    from handler.acks import Ack  # noqa: PLC0415

    store.save([state("fp-live")])
    store.acknowledge(Ack("fp-gone", "bob", time.time() - 40 * 86400, 1.0, "m1.c"))
    live = Ack("fp-live", "eve", time.time(), 1.0, "m1.c")
    store.acknowledge(live)
    assert store.acks() == [live]


def test_a_matcher_silence_and_its_update_are_kept(backend, store):
    from dataclasses import replace  # noqa: PLC0415

    from handler.matchers import parse_matchers  # noqa: PLC0415

    now = time.time()
    held = new_silence(now=now, duration=60, matchers=parse_matchers(["pool_name=pay-*"]), created_by="al")
    store.add_silence(held)
    longer = replace(held, ends_at=now + 7200, comment="longer")
    store.add_silence(longer)  # `silence update` writes it again under its id
    assert store.silences() == [longer]


def test_silences_that_ended_before_the_retention_are_dropped(backend, store):
    now = time.time()
    old = new_silence({"pool": "pool-a"}, now=now - 40 * 86400, duration=60)
    store.add_silence(old)
    assert [s.id for s in store.silences()] == [old.id]
    fresh = new_silence({"pool": "pool-b"}, now=now, duration=60)
    store.add_silence(fresh)
    assert [s.id for s in store.silences()] == [fresh.id]


def test_the_default_instance_store_is_one_file_per_user_of_the_machine():
    from handler.state.url import instance_store_url  # noqa: PLC0415

    # A fixed name in the shared temp dir let every user of a jump host resolve the others' alerts.
    assert instance_store_url().endswith(f"/elb-master-watch-state-{os.getuid()}.db")


# ---- the history (issue 24 item 4): every store keeps episodes, merged and bounded -------------------

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


@pytest.fixture(params=["memory", "sqlite", "redis"])
def history_store(request, tmp_path) -> Iterator[StateStore]:
    if request.param == "memory":
        opened: StateStore = MemoryStore()
    elif request.param == "sqlite":
        opened = SqliteStore(str(tmp_path / "state.db"))
    else:
        found = open_store(request.getfixturevalue("redis_url"))
        assert found is not None
        opened = found
    yield opened
    opened.close()


# claim and count: the actions' "done once" and their limit of failed tokens per source address


@pytest.fixture(params=["sqlite", "redis", "memory"])
def any_store(request, tmp_path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore()
        return
    opened: Any = (
        SqliteStore(str(tmp_path / "claims.db"))
        if request.param == "sqlite"
        else RedisBackend(request.getfixturevalue("redis_url")).open()
    )
    yield opened
    opened.close()


def test_recorded_episodes_list_back_equal_oldest_first(history_store):
    later, earlier = episode(2), episode(1)
    history_store.record_episodes([later, earlier], now=NOW, bounds=HistoryBounds())
    assert history_store.episodes() == [earlier, later]


def test_an_episode_recorded_again_is_merged_never_forgetting_what_was_known(history_store):
    first = episode(1, notified_at=NOW - 3000, silenced_by=({"id": "s-1", "by": "ops", "comment": "x"},))
    history_store.record_episodes([first], now=NOW, bounds=HistoryBounds())
    worse = replace(
        first,
        notified_at=None,
        failover=OUTAGE,
        subject={**first.subject, "severity": "critical"},
        cause={
            "failed_groups": ["acl"],
            "failed_items": [{"group": "acl", "name": "acl_deny"}],
            "reason_code": None,
        },
        silenced_by=(),
    )
    history_store.record_episodes([worse], now=NOW, bounds=HistoryBounds())
    back = replace(worse, failover=FAILED_OVER, resolved_at=NOW - 600, subject=first.subject)
    history_store.record_episodes([back], now=NOW, bounds=HistoryBounds())
    (kept,) = history_store.episodes()
    assert kept.notified_at == NOW - 3000
    assert kept.failover == OUTAGE  # the worst it went through
    assert kept.subject["severity"] == "critical"
    assert kept.cause == {
        "failed_groups": ["acl"],
        "failed_items": [{"group": "acl", "name": "acl_deny"}],
        "reason_code": "CONNECT_FAILED",
    }
    assert [entry["id"] for entry in kept.silenced_by] == ["s-1"]
    assert kept.resolved_at == NOW - 600


def test_the_store_keeps_at_most_the_count_dropping_the_oldest_first(history_store):
    history_store.record_episodes([episode(i) for i in range(5)], now=NOW, bounds=HistoryBounds(count=3))
    assert [e.fingerprint for e in history_store.episodes()] == ["fp-00002", "fp-00003", "fp-00004"]
    history_store.record_episodes([episode(9)], now=NOW, bounds=HistoryBounds(count=3))
    assert [e.fingerprint for e in history_store.episodes()] == ["fp-00003", "fp-00004", "fp-00009"]


def test_the_store_drops_episodes_that_began_before_the_days_kept(history_store):
    old = episode(1, began=NOW - 91 * DAY)
    recent = episode(2, began=NOW - 89 * DAY)
    history_store.record_episodes([old, recent], now=NOW, bounds=HistoryBounds())
    assert history_store.episodes() == [recent]
    history_store.record_episodes([episode(3)], now=NOW + 2 * DAY, bounds=HistoryBounds())
    assert [e.fingerprint for e in history_store.episodes()] == ["fp-00003"]


def test_ten_thousand_episodes_are_kept_and_the_next_one_drops_the_oldest(history_store):
    bounds = HistoryBounds()  # 90 days or 10,000 episodes: the defaults
    many = [episode(i, began=NOW - 10_001 + i) for i in range(10_000)]
    started = time.perf_counter()
    history_store.record_episodes(many, now=NOW, bounds=bounds)
    history_store.record_episodes([episode(10_000, began=NOW)], now=NOW, bounds=bounds)
    elapsed = time.perf_counter() - started
    kept = history_store.episodes()
    assert len(kept) == 10_000
    assert kept[0].fingerprint == "fp-00001"
    assert kept[-1].fingerprint == "fp-10000"
    assert elapsed < 10, f"writing 10,001 episodes took {elapsed:.1f} s"


def test_a_second_handle_sees_the_same_history(tmp_path, redis_url, closing):
    for url in (f"sqlite:///{tmp_path / 'shared.db'}", redis_url):
        one, two = open_store(url), open_store(url)
        assert one is not None
        assert two is not None
        one.record_episodes([episode(1)], now=NOW, bounds=HistoryBounds())
        assert two.episodes() == [episode(1)]
        one.close()
        two.close()


def test_an_unreadable_episode_row_is_left_out(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.hset("elb-master-watch:episodes", mapping={"bad": b"{not json", "old": json.dumps({"schema": 0})})
    client.close()
    store = open_store(redis_url)
    assert store is not None
    store.record_episodes([episode(1)], now=NOW, bounds=HistoryBounds())
    assert store.episodes() == [episode(1)]
    store.close()


def test_a_claim_is_kept_once_and_a_second_claim_reads_the_first(any_store):
    assert any_store.claim("done:t1", "Li Lei|1800000000", ttl=60) is None
    assert any_store.claim("done:t1", "Han Meimei|1800000001", ttl=60) == "Li Lei|1800000000"
    assert any_store.claim("done:t2", "Han Meimei|1800000001", ttl=60) is None


def test_a_claim_expires(any_store):
    assert any_store.claim("short", "first", ttl=0.05) is None
    time.sleep(0.2)
    assert any_store.claim("short", "second", ttl=60) is None
    assert any_store.claim("short", "third", ttl=60) == "second"


def test_of_many_racing_claims_exactly_one_wins(any_store):
    winners: list[str] = []
    lock = threading.Lock()

    def race(name: str) -> None:
        if any_store.claim("raced", name, ttl=60) is None:
            with lock:
                winners.append(name)

    threads = [threading.Thread(target=race, args=(f"n{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_count_adds_one_per_call_and_restarts_after_its_life(any_store):
    assert [any_store.count("fail:10.0.0.1", ttl=0.3) for _ in range(3)] == [1, 2, 3]
    assert any_store.count("fail:10.0.0.2", ttl=0.3) == 1
    time.sleep(0.5)
    assert any_store.count("fail:10.0.0.1", ttl=60) == 1
