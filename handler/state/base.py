"""The state-store port: what the lifecycle needs from a store, and the one error every store raises."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from handler.acks import Ack
from handler.history import Episode, HistoryBounds
from handler.lifecycle import AlertState
from handler.silences import Silence
from handler.text import clean, clip

DEFAULT_RETENTION = 30 * 86400.0
"""A state not written for this long is dropped by the store (a pool that is no longer watched)."""


class StoreUnavailable(Exception):  # noqa: N818 - the name says what the caller needs to know
    """The store cannot be used right now (down, locked, unwritable). The message carries no secret."""

    def __init__(self, message: str) -> None:
        """Keep the message; it is what the log line and the result say."""
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Loaded:
    """What `load` read: the usable states by fingerprint, and one warning per row it had to ignore."""

    states: dict[str, AlertState] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Leased:
    """What `lease` did: the fingerprints whose lease it took, and the states it read after taking them."""

    taken: tuple[str, ...] = ()
    loaded: Loaded = field(default_factory=Loaded)
    # `settle` wrote the run's states in the lease's own transaction: no lease was taken, none to save.
    settled: bool = False


Settle = Callable[[Loaded], Mapping[str, AlertState] | None]
"""A quiet run's decision, made inside `lease`: the states to write when the run needs no lease, or None."""


class StateStore(Protocol):
    """Where alert states live between invocations. Every method raises StoreUnavailable, nothing else."""

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The states of these scopes; corrupt or old-schema rows are skipped and reported in `warnings`."""
        ...

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """Write these states, then give back `owner`'s leases on `release`: one transaction or round trip.

        Each state replaces the one with the same fingerprint. A lease another invocation took over
        after expiry is left alone.
        """
        ...

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """Take the leases nobody holds, then read `scopes`: one transaction or round trip.

        A lease is taken for `ttl_ms` unless someone (anyone, owner too) holds it; the states are read
        after the leases are taken, so another invocation's notification is seen. The scopes are read
        even when no lease was taken (or none asked for): that is how a run finds the stored states it
        did not observe.

        A store whose `settles` is True may instead, when every lease asked for is free, call
        `settle(loaded)` inside the same transaction: if it returns states, they are written and no
        lease is taken (`Leased.settled`). That is a quiet run (nothing to send) in one transaction
        instead of two. Other stores ignore `settle`.
        """
        ...

    def remember(self, key: str, value: str, ttl: float) -> None:
        """Keep a small value for `ttl` seconds (e.g. the check job started for a member)."""
        ...

    def recall(self, key: str) -> str | None:
        """A value kept by `remember`, or None when there is none or it expired."""
        ...

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Keep `value` under `key` for `ttl` seconds unless a value is kept there (atomic).

        None when this call kept it, else the value kept first: of two callers exactly one gets None.
        The actions' "done once" (`handler.actions`): a link acts once, a replay reads who did it.
        """
        ...

    def count(self, key: str, ttl: float) -> int:
        """Add one to the counter under `key` and return the new count (atomic).

        The first count starts the counter with a life of `ttl` seconds: the actions' limit of failed
        tokens per source address.
        """
        ...

    def all_states(self) -> Loaded:
        """Every stored state, whatever its scope (for `alerts list`); bad rows are reported in `warnings`."""
        ...

    def add_silence(self, silence: Silence) -> None:
        """Drop silences that ended `retention` seconds ago, then keep this one (replacing its id's)."""
        ...

    def silences(self) -> list[Silence]:
        """Every kept silence, active or ended, oldest end first; an unreadable one is left out."""
        ...

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End a silence at `now`; False when no silence has this id (an ended one stays ended)."""
        ...

    def acknowledge(self, ack: Ack) -> None:
        """Keep this acknowledgement, replacing the one of its fingerprint."""
        ...

    def acks(self) -> list[Ack]:
        """Every kept acknowledgement, by fingerprint; an unreadable one is left out."""
        ...

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """Drop the acknowledgements of these fingerprints; the ones there were."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """Merge each episode into the one kept with its id (`history.merge`), then drop what `bounds` drop.

        Episodes that began more than `bounds.seconds` before `now` go first, then the oldest beyond
        `bounds.count`.
        """
        ...

    def episodes(self) -> list[Episode]:
        """Every kept episode, oldest first; an unreadable one is left out."""
        ...


def encode_state(state: AlertState) -> str:
    """A state as the JSON text a store keeps."""
    text = json.dumps(state.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return clean(text)  # a lone surrogate from ELB text cannot be stored as UTF-8: U+FFFD, as everywhere


def decode_state(raw: str | bytes, fingerprint: str, scope: str, where: str) -> AlertState | str:
    """A stored row as a state, or a one-line warning saying why it is ignored."""
    try:
        state = AlertState.from_dict(json.loads(raw))
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
        return f"{where}: state of {fingerprint} in {scope} ignored: {clip(exc, 200)}"
    if state.fingerprint != fingerprint:
        return f"{where}: state of {fingerprint} in {scope} ignored: it names fingerprint {state.fingerprint}"
    return state


def loaded_from(rows: Iterable[tuple[str, str, bytes]], where: str) -> Loaded:
    """Decode stored (fingerprint, scope, body) rows: the good states, and a warning per bad row."""
    loaded = Loaded()
    for fingerprint, scope, body in rows:
        state = decode_state(body, fingerprint, scope, where)
        if isinstance(state, str):
            loaded.warnings.append(state)
        else:
            loaded.states[fingerprint] = state
    return loaded
