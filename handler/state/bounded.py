"""A state store held to the invocation's deadline: every call gets a slice of the time left.

Wraps any StateStore. Each call runs in a daemon thread and is waited for at most its slice (the
store's own timeouts are cut to the slice too, where the store allows it). A store whose every wait
is bounded by that cut and that touches only local disk (the instance's SQLite file in the temp
directory) may run `inline`, in the caller's thread: that saves a thread hand-off per call (≈50-100
µs; two or three calls per warm run) and is bounded all the same.

The first call that fails or runs out of time abandons the store for the rest of the invocation:
later calls raise StoreUnavailable at once, so the lifecycle sends without de-duplication instead of
waiting again behind a locked file or a silent server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from handler.acks import Ack
from handler.budget import Budget
from handler.history import Episode, HistoryBounds
from handler.lifecycle import AlertState
from handler.silences import Silence
from handler.state.base import Leased, Loaded, Settle, StateStore, StoreUnavailable
from handler.threads import DeadlineExceeded, call_within

T = TypeVar("T")

# No single store call may take longer than this, however much time is left.
CALL_CAP_SECONDS = 2.0
# Below this many seconds a call is not started: it could not finish.
MIN_CALL_SECONDS = 0.05
# What a store call not started for want of time says: the budget's doing, not the store's.
NO_TIME = "no time left to"


class BoundedStore:
    """A StateStore whose every call ends within its slice of the budget's deadline."""

    def __init__(
        self,
        store: StateStore,
        budget: Budget,
        *,
        keep: float = 0.0,
        cap: float = CALL_CAP_SECONDS,
        inline: bool = False,
    ) -> None:
        """Bound `store` by `budget`'s deadline less `keep` seconds (kept for sending); `cap` per call.

        `inline` only for a store whose `limit_wait` bounds every wait and that does no network or
        remote-disk I/O: its calls then run in the caller's thread.
        """
        self.store = store
        self.budget = budget
        self.keep = keep
        self.cap = cap
        self.inline = inline and callable(getattr(store, "limit_wait", None))
        self._abandoned: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """The wrapped store."""
        return f"BoundedStore({self.store!r})"

    @property
    def abandoned(self) -> str | None:
        """Why the store was given up for this invocation, or None while it is in use."""
        return self._abandoned

    def _abandon(self, why: str) -> StoreUnavailable:
        with self._lock:
            if self._abandoned is None:
                self._abandoned = why
        return StoreUnavailable(why)

    def _call(self, what: str, work: Callable[[], T], *, refused_abandons: bool = True) -> T:
        """One store call within its slice; `refused_abandons` False: an answered error keeps the store."""
        if self._abandoned is not None:
            raise StoreUnavailable(f"{self._abandoned} (store given up for this invocation)")
        seconds = self.budget.slice(self.cap, self.keep)
        if seconds < MIN_CALL_SECONDS:
            raise self._abandon(f"{self.store!r}: {NO_TIME} {what} before the deadline")
        limit = getattr(self.store, "limit_wait", None)
        if callable(limit):
            limit(seconds)
        try:
            return work() if self.inline else call_within(seconds, work, name="state-store")
        except DeadlineExceeded:
            raise self._abandon(f"{self.store!r}: {what} got no answer within {seconds:.1f} s") from None
        except StoreUnavailable as exc:
            raise (self._abandon(exc.message) if refused_abandons else exc) from None
        except Exception as exc:  # noqa: BLE001 - a store bug is a store failure, never a crash
            why = f"{self.store!r}: {what} failed ({type(exc).__name__})"
            raise (self._abandon(why) if refused_abandons else StoreUnavailable(why)) from None

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The states of these scopes."""
        wanted = list(scopes)
        return self._call("load", lambda: self.store.load(wanted))

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """Write these states and give back these leases."""
        rows, fingerprints = list(states), list(release)
        self._call("save", lambda: self.store.save(rows, release=fingerprints, owner=owner))

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """Take the leases, then read `scopes` (or settle a quiet run: StateStore.lease)."""
        wanted, read = list(fingerprints), list(scopes)
        if settle is None:
            return self._call("lease", lambda: self.store.lease(wanted, owner, ttl_ms, read))
        return self._call("lease", lambda: self.store.lease(wanted, owner, ttl_ms, read, settle=settle))

    @property
    def settles(self) -> bool:
        """Whether the wrapped store settles quiet runs in the lease's transaction."""
        return bool(getattr(self.store, "settles", False))

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Keep a small value for `ttl` seconds."""
        self._call("remember", lambda: self.store.remember(key, value, ttl))

    def recall(self, key: str) -> str | None:
        """A kept value, or None."""
        return self._call("recall", lambda: self.store.recall(key))

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Keep a value once; who kept it first otherwise."""
        return self._call("claim", lambda: self.store.claim(key, value, ttl))

    def count(self, key: str, ttl: float) -> int:
        """Count one more under `key`."""
        return self._call("count", lambda: self.store.count(key, ttl))

    def all_states(self) -> Loaded:
        """Every stored state."""
        return self._call("all_states", self.store.all_states)

    def add_silence(self, silence: Silence) -> None:
        """Keep a silence."""
        self._call("add_silence", lambda: self.store.add_silence(silence))

    def silences(self) -> list[Silence]:
        """The silences kept."""
        return self._call("silences", self.store.silences)

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End a silence now; whether there was one."""
        return self._call("expire_silence", lambda: self.store.expire_silence(silence_id, now))

    def acknowledge(self, ack: Ack) -> None:
        """Keep an acknowledgement."""
        self._call("acknowledge", lambda: self.store.acknowledge(ack))

    def acks(self) -> list[Ack]:
        """The acknowledgements kept."""
        return self._call("acks", self.store.acks)

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """Drop these acknowledgements; the ones there were."""
        wanted = list(fingerprints)
        return self._call("unacknowledge", lambda: self.store.unacknowledge(wanted))

    def close(self) -> None:
        """The wrapped store lives across invocations: closing the bound closes nothing."""

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """Keep these episodes (merged with what is kept), within `bounds`.

        The store just saved the run's states: a refused history write (a bad row, a full table) says
        nothing of the states, so it does not give the store up for the rest of the run; no answer does.
        """
        rows = list(episodes)
        self._call(
            "record_episodes",
            lambda: self.store.record_episodes(rows, now=now, bounds=bounds),
            refused_abandons=False,
        )

    def episodes(self) -> list[Episode]:
        """The kept episodes."""
        return self._call("episodes", self.store.episodes)


def bounded(
    store: StateStore | None, budget: Budget, *, keep: float = 0.0, inline: bool = False
) -> StateStore | None:
    """`store` held to `budget`'s deadline, or None when there is no store (`inline`: see BoundedStore)."""
    return None if store is None else BoundedStore(store, budget, keep=keep, inline=inline)
