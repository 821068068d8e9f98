"""What an action link does, through the same store commands the CLI uses, and the announcement of it.

Each action is one function over the store; `ACTS` maps an action name to it. Silences are the CLI's
(`silence add`: `handler.silences.new_silence`, `StateStore.add_silence`), with `created_by` the typed
name and the comment; an acknowledgement is `alerts ack`'s (`handler.acking.acknowledge`), by the typed
name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from handler import wording
from handler.silences import MAX_SILENCE_SECONDS, Silence, iso, new_silence
from handler.state import StateStore


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: its wording key (did_*) and the silence it made, if any."""

    did: str
    silence: Silence | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """One action to carry out: on which alert, by whom, why, when, and the id its silence gets."""

    fingerprint: str
    name: str
    comment: str
    now: float
    silence_id: str


def _silencer(seconds: float, *, until_resolved: bool = False) -> Callable[[StateStore, Order], Done]:
    def silence(store: StateStore, order: Order) -> Done:
        made = new_silence(
            {"fingerprint": order.fingerprint},
            now=order.now,
            duration=seconds,
            comment=order.comment,
            created_by=order.name,
            until_resolved=until_resolved,
            silence_id=order.silence_id,
        )
        store.add_silence(made)
        return Done("", made)

    return silence


def acknowledge(store: StateStore, order: Order) -> Done:
    """Acknowledge the alert: `alerts ack`'s store command; its repeats stop until it changes or resolves."""
    from handler.acking import acknowledge as ack  # noqa: PLC0415 - only when a link acknowledges

    ack(store, order.fingerprint, by=order.name, comment=order.comment, now=order.now)
    return Done("")


def done_before(action: str, store: StateStore, order: Order) -> bool:
    """Whether an earlier request of this link got as far as the store (a replay, not a retry)."""
    if action == "ack":
        return any(kept.fingerprint == order.fingerprint and kept.by == order.name for kept in store.acks())
    return any(held.id == order.silence_id for held in store.silences())


ACTS: dict[str, Callable[[StateStore, Order], Done]] = {
    "silence_1h": _silencer(3600.0),
    "silence_4h": _silencer(4 * 3600.0),
    "silence_resolved": _silencer(MAX_SILENCE_SECONDS, until_resolved=True),
    "ack": acknowledge,
}


def perform(action: str, store: StateStore, order: Order) -> Done:
    """Carry out one action (raises StoreUnavailable when the store fails)."""
    done = ACTS[action](store, order)
    return Done(f"did_{action}", done.silence)


def announcement(record: Mapping[str, Any], done: Done, order: Order, locale: str) -> dict[str, Any]:
    """The message telling the alert's receivers what a link did ("… silenced for 1h by Li Lei via link")."""
    say = wording.actions(locale)
    did = say[done.did]
    lines = [say["announce_text"].format(did=did, name=order.name, at=iso(order.now))]
    if done.silence is not None:
        until = iso(done.silence.ends_at) if not done.silence.until_resolved else say["did_silence_resolved"]
        lines.append(say["announce_until"].format(id=done.silence.id, until=until))
    if order.comment:
        lines.append(say["announce_comment"].format(comment=order.comment))
    return {
        "status": "firing",
        "severity": "info",
        "kind": "action",
        "fingerprint": f"{order.fingerprint}-{done.did}",
        "title": say["announce"].format(
            alert=record.get("title") or order.fingerprint, did=did, name=order.name
        ),
        "text": "\n".join(lines),
        "pool": record.get("pool"),
        "master": record.get("master"),
        "standby": record.get("standby"),
        "check": None,
        "region": record.get("region") or "",
        "project_id": record.get("project_id") or "",
        "observed_at": iso(order.now),
        "action": {
            "did": done.did,
            "by": order.name,
            "silence_id": done.silence.id if done.silence else None,
        },
    }
