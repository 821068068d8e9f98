"""A read-only view of a store, for `--dry-run`: reads go through, every write is dropped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handler.acks import Ack
from handler.history import Episode, HistoryBounds
from handler.lifecycle import AlertState
from handler.silences import Silence
from handler.state.base import Leased, Loaded, Settle, StateStore


class DryRunStore:
    """Reads the wrapped store; writes nothing (saves, leases, memos, silences are all dropped).

    A dry run decides exactly as a real run would from the stored states and silences, so what it
    shows is what a real run would send, and the next real run still finds the store untouched.
    """

    def __init__(self, store: StateStore) -> None:
        """Wrap `store`; it stays owned (and closed) by whoever opened it."""
        self.store = store

    def __repr__(self) -> str:
        """Which store is read."""
        return f"DryRunStore({self.store!r})"

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The wrapped store's states."""
        return self.store.load(scopes)

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """Dropped: nothing is written and no lease was taken."""

    settles = False

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """Every lease granted, none written (a dry run blocks no real run); the wrapped store's states.

        `settle` is not used: a dry run writes nothing, not even a quiet run's states.
        """
        return Leased(tuple(dict.fromkeys(fingerprints)), self.store.load(scopes))

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Dropped."""

    def recall(self, key: str) -> str | None:
        """The wrapped store's value."""
        return self.store.recall(key)

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Nothing is kept (a dry run never acts)."""
        return None

    def count(self, key: str, ttl: float) -> int:
        """Nothing is counted."""
        return 0

    def all_states(self) -> Loaded:
        """The wrapped store's states."""
        return self.store.all_states()

    def add_silence(self, silence: Silence) -> None:
        """Dropped."""

    def silences(self) -> list[Silence]:
        """The wrapped store's silences."""
        return self.store.silences()

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """Nothing is changed; whether the silence exists."""
        return any(held.id == silence_id for held in self.store.silences())

    def acknowledge(self, ack: Ack) -> None:
        """Dropped."""

    def acks(self) -> list[Ack]:
        """The wrapped store's acknowledgements."""
        return self.store.acks()

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """Nothing is changed; the fingerprints that have one."""
        kept = {ack.fingerprint for ack in self.store.acks()}
        return [fp for fp in dict.fromkeys(fingerprints) if fp in kept]

    def close(self) -> None:
        """The wrapped store is closed by its owner."""

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """Dropped."""

    def episodes(self) -> list[Episode]:
        """The wrapped store's episodes."""
        return self.store.episodes()
