"""Episodes: one per firing of an alert, from first seen to resolved, kept for `alerts history`. Pure.

An episode is one fingerprint's firing, from the run that first saw it to the run that saw it gone
(a fingerprint that resolves and fires again starts a new episode: its `first_seen` differs). The
record stage (`handler.pipeline.chronicle`) makes one `Episode` per state it saved this run; the store
merges it with what it kept of the same episode (`merge`): the first notification, the worst failover
state, every cause and every silence seen, and the end. The store keeps at most `HistoryBounds`:
episodes that began more than `seconds` ago, then the oldest beyond `count`, are dropped first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from handler.text import clean


class Silence(Protocol):
    """What an episode keeps of the silence holding it: `handler.silences.Silence` (no import: no cycle)."""

    @property
    def id(self) -> str:
        """The silence id."""

    @property
    def created_by(self) -> str:
        """Who created it."""

    @property
    def comment(self) -> str:
        """Why."""


class StoredAlert(Protocol):
    """What an episode is read from: `handler.lifecycle.AlertState` (which imports this module)."""

    @property
    def fingerprint(self) -> str:
        """The alert's fingerprint."""

    @property
    def state(self) -> str:
        """pending, firing or resolved."""

    @property
    def first_seen(self) -> float:
        """When this firing began."""

    @property
    def absent_since(self) -> float | None:
        """The first run that did not see it."""

    @property
    def resolved_at(self) -> float | None:
        """The run that resolved it."""

    @property
    def record(self) -> dict[str, Any]:
        """The last firing record."""


EPISODE_SCHEMA = 1
"""Version of the stored episode JSON; rows of another version are left out of the history."""

FAILED_OVER = "failed_over"
"""The master is down and the standby serves: traffic failed over."""
OUTAGE = "outage"
"""Nothing serves: the master is down and there is no healthy standby (or no member is up)."""
NO_FAILOVER = "none"
"""The master kept serving (a warning: no health check, standby down, a failed check job...)."""
FAILOVER_STATES = (NO_FAILOVER, FAILED_OVER, OUTAGE)
"""Least to most serious: an episode keeps the worst it went through."""
SEVERITIES = ("info", "warning", "major", "critical")
"""Least to most severe: an episode keeps the worst severity it fired with."""

DEFAULT_HISTORY_DAYS = 90
DEFAULT_HISTORY_MAX = 10_000


@dataclass(frozen=True, slots=True)
class HistoryBounds:
    """How much history a store keeps (`ELB_WATCH_HISTORY_DAYS`, `ELB_WATCH_HISTORY_MAX`)."""

    seconds: float = DEFAULT_HISTORY_DAYS * 86400.0
    count: int = DEFAULT_HISTORY_MAX


@dataclass(frozen=True, slots=True)
class Episode:
    """One firing of one alert: what it was about, when it began, was notified and ended, and why.

    `subject`: the match fields of the pool and finding (`pool` block with id, name, loadbalancer_ids,
    listener_ids; `region`, `project_id`, `kind`, `severity`). `cause`: `failed_groups`, `failed_items`
    ([{group, name}]) and the master's `reason_code`. `silenced_by`: [{id, by, comment}] of every
    silence that held it. `resolved_at`: when it was first seen gone (the resolved notice's end).
    """

    fingerprint: str
    first_seen: float
    subject: Mapping[str, Any] = field(default_factory=dict)
    notified_at: float | None = None
    failover: str = NO_FAILOVER
    cause: Mapping[str, Any] = field(default_factory=dict)
    silenced_by: tuple[Mapping[str, Any], ...] = ()
    acknowledged_by: str | None = None
    resolved_at: float | None = None

    @property
    def id(self) -> str:
        """The episode's key: its fingerprint and the second it was first seen."""
        return f"{self.fingerprint}@{int(self.first_seen)}"

    @property
    def pool_id(self) -> str:
        """The pool it is about ("" for a pool-less alert: a check job alone, the watcher itself)."""
        pool = self.subject.get("pool")
        return str(pool.get("id") or "") if isinstance(pool, Mapping) else ""

    @property
    def duration(self) -> float | None:
        """Seconds from first seen to resolved (None while it is open)."""
        return None if self.resolved_at is None else max(0.0, self.resolved_at - self.first_seen)

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (epoch seconds), with its `schema` version."""
        return {
            "schema": EPISODE_SCHEMA,
            "fingerprint": self.fingerprint,
            "first_seen": self.first_seen,
            "subject": dict(self.subject),
            "notified_at": self.notified_at,
            "failover": self.failover,
            "cause": dict(self.cause),
            "silenced_by": [dict(entry) for entry in self.silenced_by],
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Episode:
        """Read the stored form; ValueError or TypeError when it is not one."""
        if not isinstance(data, dict) or data.get("schema") != EPISODE_SCHEMA:
            raise ValueError("not an episode of this schema")
        fingerprint, subject, cause = data.get("fingerprint"), data.get("subject"), data.get("cause")
        if not isinstance(fingerprint, str) or not isinstance(subject, dict) or not isinstance(cause, dict):
            raise TypeError("fingerprint, subject or cause is malformed")
        failover = data.get("failover")
        silenced = data.get("silenced_by")
        acknowledged = data.get("acknowledged_by")
        if failover not in FAILOVER_STATES or not isinstance(silenced, list):
            raise ValueError("failover or silenced_by is malformed")
        return cls(
            fingerprint=fingerprint,
            first_seen=_time(data.get("first_seen")),
            subject=subject,
            notified_at=_optional_time(data.get("notified_at")),
            failover=str(failover),
            cause=cause,
            silenced_by=tuple(entry for entry in silenced if isinstance(entry, dict)),
            acknowledged_by=acknowledged if isinstance(acknowledged, str) else None,
            resolved_at=_optional_time(data.get("resolved_at")),
        )


def _time(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("a time is not a number")
    return float(value)


def _optional_time(value: Any) -> float | None:
    return None if value is None else _time(value)


def encode_episode(episode: Episode) -> str:
    """An episode as the JSON text a store keeps."""
    text = json.dumps(episode.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return clean(text)


def decode_episodes(rows: Iterable[bytes | str]) -> list[Episode]:
    """The stored episodes that can be read, oldest first; an unreadable row is left out."""
    found = []
    for raw in rows:
        try:
            found.append(Episode.from_dict(json.loads(raw)))
        except (ValueError, TypeError, RecursionError):
            continue
    return sorted(found, key=lambda episode: (episode.first_seen, episode.fingerprint))


def failover_state(record: Mapping[str, Any]) -> str:
    """Whether a firing record says traffic failed over, nothing serves, or the master still serves."""
    kind, standby = record.get("kind"), record.get("standby")
    if kind == "master_failed":
        serving = isinstance(standby, Mapping) and standby.get("operating_status") == "ONLINE"
        return FAILED_OVER if serving else OUTAGE
    if kind == "no_master" and record.get("severity") == "critical":
        return OUTAGE
    return NO_FAILOVER


def cause_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The diagnosis of a record: the failed groups and items of its check, the master's reason code."""
    raw_check, raw_master = record.get("check"), record.get("master")
    check: Mapping[str, Any] = raw_check if isinstance(raw_check, Mapping) else {}
    master: Mapping[str, Any] = raw_master if isinstance(raw_master, Mapping) else {}
    items = [
        {"group": str(item.get("group") or ""), "name": str(item.get("name") or "")}
        for item in check.get("failed_items") or ()
        if isinstance(item, Mapping)
    ]
    return {
        "failed_groups": [str(group) for group in check.get("failed_groups") or ()],
        "failed_items": items,
        "reason_code": master.get("reason_code") or None,
    }


def subject_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """What an episode keeps of its record to be listed and matched: the pool and the finding's kind."""
    pool = record.get("pool")
    block = None
    if isinstance(pool, Mapping):
        keys = ("id", "name", "loadbalancer_ids", "listener_ids", "enterprise_project_id")
        block = {key: pool[key] for key in keys if key in pool}
    return {
        "pool": block,
        "region": record.get("region"),
        "project_id": record.get("project_id"),
        "kind": record.get("kind"),
        "severity": record.get("firing_severity") or record.get("severity"),
    }


def episode_of(
    state: StoredAlert, *, now: float, sent: bool, silence: Silence | None = None, acked_by: str = ""
) -> Episode | None:
    """The episode a saved state is in, as this run sees it; None for a state that never fired.

    `sent`: a receiver got the firing notification this run. `silence`: the one holding it now.
    `acked_by`: who acknowledged this episode of the alert, as far as this run knows.
    """
    if state.state == "pending":
        return None
    record = state.record
    silenced: tuple[Mapping[str, Any], ...] = ()
    if silence is not None:
        silenced = ({"id": silence.id, "by": silence.created_by, "comment": silence.comment},)
    resolved = state.absent_since if state.absent_since is not None else state.resolved_at
    return Episode(
        fingerprint=state.fingerprint,
        first_seen=state.first_seen,
        subject=subject_of(record),
        notified_at=now if sent and state.state == "firing" else None,
        failover=failover_state(record),
        cause=cause_of(record),
        silenced_by=silenced,
        acknowledged_by=acked_by or None,
        resolved_at=resolved if state.state == "resolved" else None,
    )


def _union(first: Iterable[Any], second: Iterable[Any]) -> list[Any]:
    kept: list[Any] = []
    for item in (*first, *second):
        if item not in kept:
            kept.append(item)
    return kept


def _worst(first: Any, second: Any, order: tuple[str, ...]) -> Any:
    rank = {name: index for index, name in enumerate(order)}
    return second if rank.get(second, -1) > rank.get(first, -1) else first


def merge(kept: Episode | None, seen: Episode) -> Episode:
    """An episode as kept, with this run's view of it added: nothing known is ever forgotten.

    The first notification, the worst failover state and severity, every cause and silence, the
    latest acknowledgement and the end.
    """
    if kept is None:
        return seen
    times = [t for t in (kept.notified_at, seen.notified_at) if t is not None]
    severity = _worst(kept.subject.get("severity"), seen.subject.get("severity"), SEVERITIES)
    cause = {
        "failed_groups": _union(kept.cause.get("failed_groups") or (), seen.cause.get("failed_groups") or ()),
        "failed_items": _union(kept.cause.get("failed_items") or (), seen.cause.get("failed_items") or ()),
        "reason_code": seen.cause.get("reason_code") or kept.cause.get("reason_code"),
    }
    ids = {str(entry.get("id")) for entry in kept.silenced_by}
    return Episode(
        fingerprint=seen.fingerprint,
        first_seen=min(kept.first_seen, seen.first_seen),
        subject={**seen.subject, "severity": severity},
        notified_at=min(times) if times else None,
        failover=_worst(kept.failover, seen.failover, FAILOVER_STATES),
        cause=cause,
        silenced_by=(*kept.silenced_by, *(s for s in seen.silenced_by if str(s.get("id")) not in ids)),
        acknowledged_by=seen.acknowledged_by or kept.acknowledged_by,
        resolved_at=seen.resolved_at if seen.resolved_at is not None else kept.resolved_at,
    )


def dropped(first_seen: Mapping[str, float], now: float, bounds: HistoryBounds) -> list[str]:
    """Which episodes (by id, with when each began) a store drops: too old, then the oldest over the count."""
    cutoff = now - bounds.seconds
    old = [key for key, began in first_seen.items() if began < cutoff]
    rest = sorted((began, key) for key, began in first_seen.items() if began >= cutoff)
    over = len(rest) - bounds.count
    return [*old, *(key for _, key in rest[: max(0, over)])]
