"""The embedded store: one SQLite file (WAL mode), standard library only."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from handler.acks import Ack, decode_acks, encode_ack
from handler.history import Episode, HistoryBounds, decode_episodes, encode_episode, merge
from handler.lifecycle import AlertState
from handler.silences import Silence, decode_silences, encode_silence
from handler.state.base import (
    DEFAULT_RETENTION,
    Leased,
    Loaded,
    Settle,
    StoreUnavailable,
    encode_state,
    loaded_from,
)

SCHEMA_VERSION = 1
"""`PRAGMA user_version` of the file; a file of another version is refused, never rewritten."""

_TABLES = (
    """CREATE TABLE IF NOT EXISTS alert_state (
        fingerprint TEXT PRIMARY KEY, scope TEXT NOT NULL, body TEXT NOT NULL, updated_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS alert_state_scope ON alert_state (scope)",
    """CREATE TABLE IF NOT EXISTS lease (
        fingerprint TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS memo (
        key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS silence (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at REAL NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS ack (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS episode (
        id TEXT PRIMARY KEY, first_seen REAL NOT NULL, body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS episode_first_seen ON episode (first_seen)",
)
_CHUNK = 500  # stays under SQLite's host-parameter limit on old builds (999)
SWEEP_SECONDS = 600.0  # how often a store drops states past their retention and expired leases

T = TypeVar("T")

# SQLITE_CORRUPT and SQLITE_NOTADB (primary codes): the file itself is damaged. Locked, busy,
# read-only, full or unopenable files are other codes and keep their own handling.
_CORRUPT_CODES = frozenset({11, 26})
_CORRUPT_TEXTS = ("file is not a database", "database disk image is malformed")
_COMPANIONS = ("", "-wal", "-shm")  # a stale -wal must not be replayed into the fresh file


def is_corrupt(exc: BaseException) -> bool:
    """Whether a sqlite3 error says the file is damaged (not merely locked, busy or unwritable)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _CORRUPT_CODES:
        return True
    return any(text in str(exc) for text in _CORRUPT_TEXTS)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def set_aside_file(path: str, stamp: str) -> str:
    """Rename `path` to `<path>.corrupt-<stamp>`, and its -wal and -shm (when present) with the same suffix.

    An earlier set-aside of the same second is never overwritten (`-2`, `-3`... are added). Returns
    the main file's new path.
    """
    suffix, n = f".corrupt-{stamp}", 1
    while any(os.path.lexists(f"{path}{end}{suffix}") for end in _COMPANIONS):
        n += 1
        suffix = f".corrupt-{stamp}-{n}"
    for end in _COMPANIONS:
        if os.path.lexists(path + end):
            os.replace(path + end, f"{path}{end}{suffix}")
    return path + suffix


def _check(conn: sqlite3.Connection) -> None:
    """Raise the corruption error when `PRAGMA quick_check` finds the file damaged (once per connection).

    A page torn in the middle of the file is otherwise only found by the query that reads it, or
    never, while the header still reads as a good (version 0, empty) store.
    """
    rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    found = [bytes(row[0]).decode("utf-8", "replace") for row in rows]
    if found != ["ok"]:
        raise sqlite3.DatabaseError(
            f"database disk image is malformed: quick_check: {'; '.join(found)[:200]}"
        )


def _rows(states: Iterable[AlertState]) -> list[tuple[str, str, str]]:
    """(fingerprint, scope, body) rows of states, as the alert_state table keeps them."""
    return [(state.fingerprint, state.scope, encode_state(state)) for state in states]


class SqliteStore:
    """States as JSON rows keyed by fingerprint; a lease is a row (owner, expiry) taken in BEGIN IMMEDIATE.

    One connection per store, guarded by a lock, so a store shared by threads is safe. Nothing is
    opened until the first call: a bad path shows up as StoreUnavailable there, not at import.
    """

    def __init__(self, path: str, *, busy_timeout: float = 2.0, retention: float = DEFAULT_RETENTION) -> None:
        """A store in the file at `path`; `busy_timeout` bounds every wait for another writer."""
        self.path = path
        self.busy_timeout = busy_timeout
        self.retention = retention
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._limit: float | None = None
        self._busy_ms: int | None = None  # what the connection's busy_timeout is set to
        self._swept_at: float | None = None  # when states past their retention were last dropped
        self._opened: tuple[int, int] | None = None  # the file the connection has open (device, inode)
        self.set_aside: str | None = None  # where the last corrupt file went, until `take_set_aside`

    def limit_wait(self, seconds: float) -> None:
        """Cut every wait for another writer (busy timeout, WAL switch) to `seconds` from now on."""
        self._limit = max(0.0, seconds)

    def _wait(self) -> float:
        """Seconds any one wait for a lock may take: the busy timeout, cut to the caller's limit."""
        return self.busy_timeout if self._limit is None else min(self.busy_timeout, self._limit)

    def __repr__(self) -> str:
        """Where the store is."""
        return f"SqliteStore({self.path!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._wait(), isolation_level=None, check_same_thread=False)
        try:
            conn.text_factory = bytes  # a row that is not UTF-8 is reported, not fatal for the whole load
            self._wal(conn)
            _check(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version in {0, SCHEMA_VERSION}:
                for statement in _TABLES:  # every one IF NOT EXISTS: a table added later appears too
                    conn.execute(statement)
            if version == 0:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
            if version not in {0, SCHEMA_VERSION}:
                raise StoreUnavailable(
                    f"sqlite {self.path}: schema version {version}, this version reads {SCHEMA_VERSION}; "
                    "point ELB_WATCH_STATE at another file"
                )
        except BaseException as exc:
            if is_corrupt(exc):  # closed once set aside: closing deletes the -wal and -shm by name
                self._conn, self._opened = conn, None
            else:
                conn.close()
            raise
        self._conn, self._busy_ms, self._opened = conn, None, _identity(self.path)
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, waiting up to the busy timeout: the switch answers "locked" at once, unhandled."""
        deadline = time.monotonic() + self._wait()
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
            else:
                return

    def _run(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        # A call abandoned by an earlier invocation may still hold the connection: wait for it no
        # longer than for another writer.
        if not self._lock.acquire(timeout=self._wait()):
            raise StoreUnavailable(
                f"sqlite {self.path}: {what} waited {self._wait():.1f} s for an earlier call"
            )
        try:
            conn = self._connect()
            busy_ms = int(self._wait() * 1000)
            if busy_ms != self._busy_ms:
                conn.execute(f"PRAGMA busy_timeout={busy_ms}")
                self._busy_ms = busy_ms
            try:
                return work(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            if is_corrupt(exc):
                raise self._start_afresh(what, exc) from None
            raise StoreUnavailable(f"sqlite {self.path}: {what} failed: {exc}") from None
        finally:
            self._lock.release()

    def _start_afresh(self, what: str, exc: BaseException) -> StoreUnavailable:
        """Set the corrupt file aside, open a fresh one in its place; the error the failed call raises.

        That call's run goes without de-duplication and says so once; the next call finds a working
        store. A file another store (process) already set aside and replaced is not moved again.
        """
        conn, opened = self._conn, self._opened
        self._conn, self._busy_ms, self._opened = None, None, None
        aside = None
        try:
            if opened is None or _identity(self.path) == opened:
                # Renamed while still open (POSIX allows it): closing the last connection deletes
                # the -wal and -shm by name, and they belong with the damaged file.
                aside = set_aside_file(self.path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        except OSError as again:
            return StoreUnavailable(
                f"sqlite {self.path}: {what} failed: {exc}; setting it aside failed: {again}"
            )
        finally:
            if conn is not None:
                conn.close()
        try:
            self._connect()
        except (sqlite3.Error, OSError, StoreUnavailable) as again:
            self._drop()  # a fresh file found corrupt too (another process wrote it)
            why = again.message if isinstance(again, StoreUnavailable) else str(again)
            return StoreUnavailable(
                f"sqlite {self.path}: {what} failed: {exc}; starting afresh failed: {why}"
            )
        if aside is None:
            return StoreUnavailable(
                f"sqlite {self.path}: {what} failed: {exc}; the file was replaced meanwhile"
            )
        self.set_aside = aside
        return StoreUnavailable(
            f"state store was corrupt: set aside as {aside}, started afresh ({what}: {exc})"
        )

    def _drop(self) -> None:
        """Close the connection, if any, without the lock (the caller holds it)."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._busy_ms, self._opened = None, None, None

    def take_set_aside(self) -> str | None:
        """Where the last corrupt file was set aside, once: the next call says None until another one is."""
        aside, self.set_aside = self.set_aside, None
        return aside

    @staticmethod
    def _select(conn: sqlite3.Connection, scopes: Iterable[str]) -> list[tuple[bytes, bytes, bytes]]:
        wanted = sorted(set(scopes))
        rows: list[tuple[bytes, bytes, bytes]] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT fingerprint, scope, CAST(body AS BLOB) FROM alert_state WHERE scope IN ({marks})"  # noqa: S608 - only "?" marks are interpolated
            rows.extend(conn.execute(query, chunk).fetchall())
        return rows

    def _loaded(self, rows: list[tuple[bytes, bytes, bytes]]) -> Loaded:
        decoded = (
            (
                bytes(raw_fp).decode("utf-8", "replace"),
                bytes(raw_scope).decode("utf-8", "replace"),
                bytes(body),
            )
            for raw_fp, raw_scope, body in rows
        )
        return loaded_from(decoded, f"sqlite {self.path}")

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The states of these scopes; bad rows become warnings."""
        wanted = list(scopes)
        return self._loaded(self._run("load", lambda conn: self._select(conn, wanted)))

    def _write(self, conn: sqlite3.Connection, rows: list[tuple[str, str, str]], now: float) -> None:
        """Upsert state rows and, at most every SWEEP_SECONDS, drop what is past its retention."""
        if rows:
            upsert = "INSERT OR REPLACE INTO alert_state (fingerprint, scope, body, updated_at) VALUES "
            conn.executemany(upsert + "(?,?,?,?)", [(*row, now) for row in rows])
        # Both deletes scan their table: a fleet of 10,000 pools would pay that on every run, so
        # they run at most every SWEEP_SECONDS (or every retention, if shorter) per store.
        if self._swept_at is None or now - self._swept_at >= min(SWEEP_SECONDS, self.retention):
            conn.execute("DELETE FROM alert_state WHERE updated_at < ?", (now - self.retention,))
            conn.execute("DELETE FROM lease WHERE expires_at < ?", (now,))
            self._swept_at = now

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """Write the states, give back the leases, drop states unwritten for `retention`: one transaction."""
        rows = _rows(states)
        released = [(fingerprint, owner) for fingerprint in dict.fromkeys(release)]

        def work(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("DELETE FROM lease WHERE fingerprint = ? AND owner = ?", released)
            self._write(conn, rows, now)
            conn.execute("COMMIT")

        if rows or released:
            self._run("save", work)

    # A quiet run decides and writes inside the lease's transaction (see StateStore.lease).
    settles = True

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """Take every lease nobody holds, then read `scopes`, in one transaction.

        With `settle` and every lease free, the states it returns are written in that transaction
        instead, and no lease is taken: the write lock held meanwhile keeps every other run out.
        """
        wanted = list(dict.fromkeys(fingerprints))
        read = list(scopes)

        def work(conn: sqlite3.Connection) -> Leased:
            conn.execute("BEGIN IMMEDIATE")
            now = time.time()
            taken = []
            for fingerprint in wanted:
                row = conn.execute(
                    "SELECT expires_at FROM lease WHERE fingerprint = ?", (fingerprint,)
                ).fetchone()
                if row is None or row[0] <= now:
                    taken.append(fingerprint)
            loaded = self._loaded(self._select(conn, read))
            if settle is not None and len(taken) == len(wanted):
                states = settle(loaded)
                if states is not None:
                    rows = [
                        (state.fingerprint, state.scope, encode_state(state)) for state in states.values()
                    ]
                    self._write(conn, rows, now)
                    conn.execute("COMMIT")
                    return Leased((), loaded, settled=True)
            conn.executemany(
                "INSERT OR REPLACE INTO lease (fingerprint, owner, expires_at) VALUES (?, ?, ?)",
                [(fingerprint, owner, now + ttl_ms / 1000) for fingerprint in taken],
            )
            conn.execute("COMMIT")
            return Leased(tuple(taken), loaded)

        if not wanted:
            return Leased((), self.load(read)) if read else Leased()  # no write lock for a plain read
        return self._run("lease", work)

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Keep `value` under `key` for `ttl` seconds."""
        self._run(
            "remember",
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO memo (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, time.time() + ttl),
            ).close(),
        )

    def recall(self, key: str) -> str | None:
        """The value kept under `key`, unless it expired."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT value FROM memo WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
            return None if row is None else bytes(row[0]).decode("utf-8", "replace")

        return self._run("recall", work)

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Keep `value` under `key` unless an unexpired value is there (one BEGIN IMMEDIATE transaction)."""

        def work(conn: sqlite3.Connection) -> str | None:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT value FROM memo WHERE key = ? AND expires_at > ?", (f"claim:{key}", now)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT OR REPLACE INTO memo (key, value, expires_at) VALUES (?, ?, ?)",
                    (f"claim:{key}", value, now + ttl),
                )
            conn.execute("COMMIT")
            return None if row is None else bytes(row[0]).decode("utf-8", "replace")

        return self._run("claim", work)

    def count(self, key: str, ttl: float) -> int:
        """Add one to the counter under `key` (a memo row whose value is the count)."""

        def work(conn: sqlite3.Connection) -> int:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT value, expires_at FROM memo WHERE key = ? AND expires_at > ?", (f"count:{key}", now)
            ).fetchone()
            text = bytes(row[0]).decode("ascii", "replace") if row is not None else "0"
            counted = (int(text) if text.isdigit() else 0) + 1
            expires = float(row[1]) if row is not None else now + ttl
            conn.execute(
                "INSERT OR REPLACE INTO memo (key, value, expires_at) VALUES (?, ?, ?)",
                (f"count:{key}", str(counted), expires),
            )
            conn.execute("COMMIT")
            return counted

        return self._run("count", work)

    def all_states(self) -> Loaded:
        """Every stored state; bad rows become warnings."""
        rows = self._run(
            "list",
            lambda conn: conn.execute(
                "SELECT fingerprint, scope, CAST(body AS BLOB) FROM alert_state ORDER BY scope, fingerprint"
            ).fetchall(),
        )
        decoded = (
            (bytes(fp).decode("utf-8", "replace"), bytes(scope).decode("utf-8", "replace"), bytes(body))
            for fp, scope, body in rows
        )
        return loaded_from(decoded, f"sqlite {self.path}")

    def add_silence(self, silence: Silence) -> None:
        """Drop silences that ended `retention` seconds ago, then insert or replace this one."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM silence WHERE ends_at < ?", (time.time() - self.retention,))
            conn.execute(
                "INSERT OR REPLACE INTO silence (id, body, ends_at) VALUES (?, ?, ?)",
                (silence.id, encode_silence(silence), silence.ends_at),
            )
            conn.execute("COMMIT")

        self._run("add silence", work)

    def silences(self) -> list[Silence]:
        """Every silence row that can be read."""
        rows = self._run(
            "list silences", lambda conn: conn.execute("SELECT CAST(body AS BLOB) FROM silence").fetchall()
        )
        return decode_silences(bytes(row[0]) for row in rows)

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """Set the silence's end to `now` unless it ended earlier."""

        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            query = "SELECT CAST(body AS BLOB) FROM silence WHERE id = ?"
            row = conn.execute(query, (silence_id,)).fetchone()
            found = decode_silences([bytes(row[0])]) if row is not None else []
            if not found:
                conn.execute("ROLLBACK")
                return False
            silence = found[0]
            if silence.ends_at > now:
                ended = replace(silence, ends_at=now)
                conn.execute(
                    "UPDATE silence SET body = ?, ends_at = ? WHERE id = ?",
                    (encode_silence(ended), now, silence_id),
                )
            conn.execute("COMMIT")
            return True

        return self._run("expire silence", work)

    def acknowledge(self, ack: Ack) -> None:
        """Insert or replace the fingerprint's acknowledgement; drop those of alerts no longer stored."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM ack WHERE fingerprint NOT IN (SELECT fingerprint FROM alert_state)")
            conn.execute(
                "INSERT OR REPLACE INTO ack (fingerprint, body) VALUES (?, ?)",
                (ack.fingerprint, encode_ack(ack)),
            )
            conn.execute("COMMIT")

        self._run("acknowledge", work)

    def acks(self) -> list[Ack]:
        """Every acknowledgement row that can be read."""
        rows = self._run(
            "list acknowledgements",
            lambda conn: conn.execute("SELECT CAST(body AS BLOB) FROM ack").fetchall(),
        )
        return decode_acks(bytes(row[0]) for row in rows)

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """Delete these acknowledgements; the ones there were."""
        wanted = list(dict.fromkeys(fingerprints))

        def work(conn: sqlite3.Connection) -> list[str]:
            conn.execute("BEGIN IMMEDIATE")
            gone = [
                fp for fp in wanted if conn.execute("DELETE FROM ack WHERE fingerprint = ?", (fp,)).rowcount
            ]
            conn.execute("COMMIT")
            return gone

        return self._run("unacknowledge", work) if wanted else []

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """Merge each episode into its row, drop the old and the oldest over the count, in one transaction."""
        seen = {episode.id: episode for episode in episodes}

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            kept: dict[str, Episode] = {}
            ids = list(seen)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT CAST(body AS BLOB) FROM episode WHERE id IN ({marks})"  # noqa: S608 - only "?" marks are interpolated
                kept.update(
                    (e.id, e) for e in decode_episodes(bytes(row[0]) for row in conn.execute(query, chunk))
                )
            rows = [(key, e.first_seen, encode_episode(merge(kept.get(key), e))) for key, e in seen.items()]
            conn.executemany("INSERT OR REPLACE INTO episode (id, first_seen, body) VALUES (?, ?, ?)", rows)
            conn.execute("DELETE FROM episode WHERE first_seen < ?", (now - bounds.seconds,))
            if any(key not in kept for key in seen):  # only a new episode can take it over the count
                conn.execute(
                    "DELETE FROM episode WHERE id IN (SELECT id FROM episode ORDER BY first_seen, id "
                    "LIMIT max(0, (SELECT COUNT(*) FROM episode) - ?))",
                    (bounds.count,),
                )
            conn.execute("COMMIT")

        if seen:
            self._run("record episodes", work)

    def episodes(self) -> list[Episode]:
        """Every episode row that can be read, oldest first."""
        rows = self._run(
            "list episodes", lambda conn: conn.execute("SELECT CAST(body AS BLOB) FROM episode").fetchall()
        )
        return decode_episodes(bytes(row[0]) for row in rows)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._busy_ms = None
