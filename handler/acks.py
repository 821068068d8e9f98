"""Acknowledgements: "I have it" for one firing alert, without silencing it. Pure.

An acknowledgement (`alerts ack`) names one alert by fingerprint and remembers what it acknowledged:
the episode (`first_seen`) and the reason digest the lifecycle compares (`handler.lifecycle.reason_digest`
covers kind, severity, the members' status and reason, the failed check items, so a failover or a new
reason changes it). While the alert is still that one (firing, same episode, same digest) its repeats
are held (`pipeline.acknowledge`, status `acknowledged`); once it changes or resolves the acknowledgement
no longer holds, the changed or resolved notification goes out (saying who had acknowledged it) and
the pipeline drops the acknowledgement from the store. It lives in the state store
(`StateStore.acknowledge`, `acks`, `unacknowledge`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from handler.lifecycle import AlertState
from handler.silences import MAX_COMMENT, MAX_NAME, iso

ACK_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Ack:
    """Who acknowledged which alert, when, why, and the alert as it was then (episode and digest)."""

    fingerprint: str
    by: str
    at: float
    first_seen: float
    reason_digest: str
    comment: str = ""

    def holds(self, state: AlertState | None) -> bool:
        """Whether the alert is still the one acknowledged: firing, same episode, same reason digest."""
        return (
            state is not None
            and state.state == "firing"
            and state.first_seen == self.first_seen
            and state.reason_digest == self.reason_digest
        )

    def why(self) -> str:
        """The reason `held` and `alerts list` give: "acknowledged by NAME at TIME: comment"."""
        said = f"acknowledged by {self.by} at {iso(self.at)}"
        return f"{said}: {self.comment}" if self.comment else said

    def block(self) -> dict[str, Any]:
        """The `acknowledged` block a record and `alerts list` carry."""
        return {"by": self.by, "at": iso(self.at), "comment": self.comment}

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (epoch seconds)."""
        return {
            "version": ACK_FORMAT,
            "fingerprint": self.fingerprint,
            "by": self.by,
            "at": self.at,
            "first_seen": self.first_seen,
            "reason_digest": self.reason_digest,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Ack:
        """Read the stored form; ValueError or TypeError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("an acknowledgement is not an object")
        texts: dict[str, Any] = {
            key: data.get(key) for key in ("fingerprint", "by", "reason_digest", "comment")
        }
        if not all(isinstance(value, str) for value in texts.values()) or not texts["fingerprint"]:
            raise ValueError("fingerprint, by, reason_digest and comment must be strings")
        times: dict[str, Any] = {key: data.get(key) for key in ("at", "first_seen")}
        for value in times.values():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError("at and first_seen must be numbers")
        return cls(
            fingerprint=texts["fingerprint"],
            by=texts["by"],
            at=float(times["at"]),
            first_seen=float(times["first_seen"]),
            reason_digest=texts["reason_digest"],
            comment=texts["comment"],
        )


def new_ack(state: AlertState, *, by: str, comment: str, now: float) -> Ack:
    """An acknowledgement of a firing alert as it is now; ValueError saying why it cannot be one."""
    if state.state != "firing":
        raise ValueError(f"alert {state.fingerprint} is {state.state}, not firing: nothing to acknowledge")
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"--comment is longer than {MAX_COMMENT} characters")
    name = by.strip()[:MAX_NAME] or "cli"
    return Ack(state.fingerprint, name, now, state.first_seen, state.reason_digest, comment)


def encode_ack(ack: Ack) -> str:
    """An acknowledgement as the JSON text a store keeps."""
    return json.dumps(ack.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode_acks(rows: Iterable[bytes | str]) -> list[Ack]:
    """The stored acknowledgements that can be read, by fingerprint; an unreadable row is left out."""
    found = []
    for raw in rows:
        try:
            found.append(Ack.from_dict(json.loads(raw)))
        except (ValueError, TypeError, RecursionError):
            continue
    return sorted(found, key=lambda ack: ack.fingerprint)


def holding(acks: Iterable[Ack], states: Mapping[str, AlertState]) -> dict[str, Ack]:
    """The acknowledgements that still hold their alert, by fingerprint."""
    return {ack.fingerprint: ack for ack in acks if ack.holds(states.get(ack.fingerprint))}


def told(state: AlertState) -> frozenset[str]:
    """The receivers that have a firing notification of the alert (sent, or a repeat acknowledged).

    An acknowledgement holds repeats for them only: a receiver never told (its first delivery failed,
    or it was added since) still gets the alert once.
    """
    return frozenset(
        name
        for name, entry in state.deliveries.items()
        if entry.status in {"sent", "acknowledged"} and ":firing:" in entry.key
    )


def stale(acks: Iterable[Ack], states: Mapping[str, AlertState]) -> list[Ack]:
    """The acknowledgements of these states that no longer hold: the alert changed or resolved."""
    return [ack for ack in acks if ack.fingerprint in states and not ack.holds(states[ack.fingerprint])]
