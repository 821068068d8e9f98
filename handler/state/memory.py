"""A state store in the warm instance's memory: the watcher's own alerts while the store is down.

When the configured store fails, the watcher still sends `WATCH.STATE` (and `WATCH.CHANNELS`), but
could not write that it did: every run would page again, and once the store came back nothing said so.
These states are kept here instead, de-duplicated like any other, and written to the store once it
answers again (`handler.invocation`), so the next run there resolves them: one "works again" per channel.
The episodes of those alerts' history are kept here too (the history contract of every store).
Nothing else is kept here; per-instance memory is no substitute for a shared store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

from handler.acks import Ack
from handler.history import Episode, HistoryBounds, dropped, merge
from handler.lifecycle import AlertState
from handler.silences import Silence
from handler.state.base import Leased, Loaded, Settle


class MemoryStore:
    """A StateStore in one process's memory (never raises StoreUnavailable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._clock = clock
        self._states: dict[str, AlertState] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._kept: dict[str, tuple[str, float]] = {}  # claims and counts: (value, expires at)
        self._acks: dict[str, Ack] = {}
        self._episodes: dict[str, Episode] = {}

    def __repr__(self) -> str:
        """What the log says about it."""
        return f"MemoryStore({len(self._states)} states)"

    def __bool__(self) -> bool:
        """True while it holds a state."""
        with self._lock:
            return bool(self._states)

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The states of these scopes."""
        wanted = set(scopes)
        with self._lock:
            return Loaded({fp: state for fp, state in self._states.items() if state.scope in wanted})

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """Keep these states, then give back `owner`'s leases on `release`."""
        with self._lock:
            self._states.update((state.fingerprint, state) for state in states)
            for fingerprint in release:
                if self._leases.get(fingerprint, ("", 0.0))[0] == owner:
                    del self._leases[fingerprint]

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """Take the leases nobody holds, then read `scopes` (this store never settles a quiet run)."""
        now = self._clock()
        taken: list[str] = []
        with self._lock:
            for fingerprint in fingerprints:
                holder = self._leases.get(fingerprint)
                if holder is None or holder[1] <= now:
                    self._leases[fingerprint] = (owner, now + ttl_ms / 1000)
                    taken.append(fingerprint)
        return Leased(tuple(taken), self.load(scopes))

    def take(self) -> list[AlertState]:
        """Every state kept, by fingerprint order (to write them to the store once it is back)."""
        with self._lock:
            return [self._states[fp] for fp in sorted(self._states)]

    def forget(self, fingerprints: Iterable[str]) -> None:
        """Drop these states: the store has them now."""
        with self._lock:
            for fingerprint in fingerprints:
                self._states.pop(fingerprint, None)

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Not kept: the diagnosis memo lives in the real store only."""

    def recall(self, key: str) -> str | None:
        """Nothing is remembered here."""
        return None

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Keep `value` under `key` unless an unexpired value is there; that value otherwise."""
        name, now = f"claim:{key}", self._clock()
        with self._lock:
            kept = self._kept.get(name)
            if kept is not None and kept[1] > now:
                return kept[0]
            self._kept[name] = (value, now + ttl)
            return None

    def count(self, key: str, ttl: float) -> int:
        """Add one to the counter under `key`; its life starts with its first count."""
        name, now = f"count:{key}", self._clock()
        with self._lock:
            kept = self._kept.get(name)
            value, expires = (int(kept[0]), kept[1]) if kept is not None and kept[1] > now else (0, now + ttl)
            self._kept[name] = (str(value + 1), expires)
            return value + 1

    def all_states(self) -> Loaded:
        """Every state kept."""
        with self._lock:
            return Loaded(dict(self._states))

    def add_silence(self, silence: Silence) -> None:
        """Not kept: silences live in the real store only."""

    def silences(self) -> list[Silence]:
        """None: silences live in the real store only."""
        return []

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """No silences here."""
        return False

    def acknowledge(self, ack: Ack) -> None:
        """Keep an acknowledgement (of the watcher's own alerts, the ones kept here)."""
        with self._lock:
            self._acks[ack.fingerprint] = ack

    def acks(self) -> list[Ack]:
        """The acknowledgements kept, by fingerprint."""
        with self._lock:
            return sorted(self._acks.values(), key=lambda ack: ack.fingerprint)

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """Drop these acknowledgements; the ones there were."""
        with self._lock:
            return [fp for fp in dict.fromkeys(fingerprints) if self._acks.pop(fp, None) is not None]

    def close(self) -> None:
        """Nothing to release."""

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """Merge each episode into the one kept, then drop what `bounds` drop."""
        with self._lock:
            for episode in episodes:
                self._episodes[episode.id] = merge(self._episodes.get(episode.id), episode)
            began = {key: episode.first_seen for key, episode in self._episodes.items()}
            for key in dropped(began, now, bounds):
                del self._episodes[key]

    def episodes(self) -> list[Episode]:
        """Every kept episode, oldest first."""
        with self._lock:
            return sorted(
                self._episodes.values(), key=lambda episode: (episode.first_seen, episode.fingerprint)
            )
