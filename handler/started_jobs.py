"""Check jobs diagnosis started, per member and listener: reused inside their TTL instead of starting more.

Its own module, below both `handler.diagnose` (which starts and reads the jobs) and `handler.instance`
(the warm instance that keeps them between invocations), so neither imports the other.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from handler.state.base import StoreUnavailable


class JobMemo(Protocol):
    """Somewhere shared to keep started job ids: the state store, when one is configured."""

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Keep a value for `ttl` seconds."""
        ...

    def recall(self, key: str) -> str | None:
        """A kept value, or None."""
        ...


class StartedJobs:
    """Check jobs started per (member, listener), reused for `ttl` seconds instead of starting more.

    Kept in memory (it survives between warm invocations of one instance) and, when a state store
    is given, in the store too, so every instance reuses the job. A store that fails costs only
    the sharing.
    """

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        """Start empty."""
        self._jobs: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._wall_clock = wall_clock

    def clear(self) -> None:
        """Forget every job kept in memory (the store's copies stay), as a fresh instance starts."""
        with self._lock:
            self._jobs.clear()

    def recall(self, member_id: str, listener_id: str, ttl: float, memo: JobMemo | None = None) -> str | None:
        """The job started for this member and listener less than `ttl` seconds ago, if any."""
        with self._lock:
            entry = self._jobs.get((member_id, listener_id))
        if entry is not None and self._wall_clock() - entry[1] < ttl:
            return entry[0]
        if memo is None:
            return None
        try:
            # An empty value is a tombstone left by `forget`: the job it named is gone.
            return memo.recall(_memo_key(member_id, listener_id)) or None
        except StoreUnavailable:
            return None

    def remember(
        self, member_id: str, listener_id: str, job_id: str, ttl: float, memo: JobMemo | None = None
    ) -> None:
        """Note that a job was just started for this member and listener."""
        with self._lock:
            self._jobs[(member_id, listener_id)] = (job_id, self._wall_clock())
        if memo is not None:
            with contextlib.suppress(StoreUnavailable):
                memo.remember(_memo_key(member_id, listener_id), job_id, ttl)

    def forget(self, member_id: str, listener_id: str, memo: JobMemo | None = None) -> None:
        """Drop a job that ELB no longer knows, here and in the store (an empty value, soon expired)."""
        with self._lock:
            self._jobs.pop((member_id, listener_id), None)
        if memo is not None:
            with contextlib.suppress(StoreUnavailable):
                memo.remember(_memo_key(member_id, listener_id), "", FORGET_SECONDS)


# A forgotten job's tombstone lives this long: enough to outlast any in-flight recall of it.
FORGET_SECONDS = 60.0


def _memo_key(member_id: str, listener_id: str) -> str:
    return f"diagnosis-job:{member_id}:{listener_id}"
