"""Alert lifecycle: when a finding fires, changes, repeats and resolves, and which channel still needs it.

Pure: no I/O and no clock reads; `now` (epoch seconds) is passed in. Alertmanager's semantics (fire
after N sightings, resolve after N absences, repeat interval), plus a notification when the reason
changes while firing, plus a per-channel delivery ledger so a channel that failed catches up on the
next run and a channel that got a notification never gets it twice.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, cast

from handler.wording import phrases

STATE_SCHEMA = 1
"""Version of the stored `AlertState` JSON; rows of another version are ignored with a warning."""

State = Literal["pending", "firing", "resolved"]
STATES: tuple[State, ...] = ("pending", "firing", "resolved")
NotificationReason = Literal["first", "changed", "repeat", "resolved"]
NOTIFICATION_REASONS: tuple[NotificationReason, ...] = ("first", "changed", "repeat", "resolved")
DONE = frozenset({"sent", "acknowledged"})
"""Delivery statuses that settle a channel for a notification: what was sent, and a repeat held because
someone acknowledged the alert (`handler.acks`: the receiver has it). Skipped (narrowed out by an event),
throttled, deferred (out of time or rate-limit slots) and failed are all still owed."""

_MEMBER_KINDS = frozenset({"master_failed", "master_unknown", "no_monitor", "standby_failed"})


DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    """`ELB_WATCH_REPEAT_INTERVAL`, `ELB_WATCH_FIRE_AFTER` and `ELB_WATCH_RESOLVE_AFTER`."""

    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    fire_after: int = 1
    resolve_after: int = 2
    # The language of the resolved notices this module writes (ELB_WATCH_LOCALE, read by handler.config).
    locale: str = "en"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one channel last did with a notification: which one (`key`), how it went, when, how often."""

    key: str
    status: str
    at: float
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"key": self.key, "status": self.status, "at": self.at, "attempts": self.attempts}

    @classmethod
    def from_dict(cls, data: Any) -> Delivery:
        """Read the JSON form; ValueError or TypeError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("a delivery is not an object")
        return cls(
            key=_typed(data, "key", str),
            status=_typed(data, "status", str),
            at=_number(data, "at"),
            attempts=_typed(data, "attempts", int),
        )


def _typed(data: Mapping[str, Any], key: str, kind: type[Any], *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key} is not a {kind.__name__}")
    return value


def _number(data: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} is not a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the store keeps per fingerprint between runs."""

    fingerprint: str
    scope: str
    state: State
    first_seen: float
    last_seen: float
    reason_digest: str
    seen: int = 0
    absent: int = 0
    absent_since: float | None = None
    resolved_at: float | None = None
    last_notified: float | None = None
    sequence: int = 0
    notification_key: str | None = None
    notification_reason: NotificationReason | None = None
    record: dict[str, Any] = field(default_factory=dict)
    notice: dict[str, Any] | None = None
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with its `schema` version."""
        return {
            "schema": STATE_SCHEMA,
            "fingerprint": self.fingerprint,
            "scope": self.scope,
            "state": self.state,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "reason_digest": self.reason_digest,
            "seen": self.seen,
            "absent": self.absent,
            "absent_since": self.absent_since,
            "resolved_at": self.resolved_at,
            "last_notified": self.last_notified,
            "sequence": self.sequence,
            "notification_key": self.notification_key,
            "notification_reason": self.notification_reason,
            "record": self.record,
            "notice": self.notice,
            "deliveries": {name: item.to_dict() for name, item in self.deliveries.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> AlertState:
        """Read the JSON form; ValueError or TypeError (saying why) for another schema or a malformed row."""
        if not isinstance(data, dict):
            raise TypeError("the row is not a JSON object")
        schema = data.get("schema")
        if schema != STATE_SCHEMA:
            raise ValueError(f"schema {schema!r}, expected {STATE_SCHEMA}")
        state = data.get("state")
        if state not in STATES:
            raise ValueError(f"state {state!r} is not one of {', '.join(STATES)}")
        reason = data.get("notification_reason")
        if reason is not None and reason not in NOTIFICATION_REASONS:
            raise ValueError(f"notification_reason {reason!r} is unknown")
        deliveries = _typed(data, "deliveries", dict)
        notice = data.get("notice")
        if notice is not None and not isinstance(notice, dict):
            raise ValueError("notice is not an object")
        return cls(
            fingerprint=_typed(data, "fingerprint", str),
            scope=_typed(data, "scope", str),
            state=cast("State", state),
            first_seen=_number(data, "first_seen"),
            last_seen=_number(data, "last_seen"),
            reason_digest=_typed(data, "reason_digest", str),
            seen=_typed(data, "seen", int),
            absent=_typed(data, "absent", int),
            absent_since=_number(data, "absent_since", optional=True),
            resolved_at=_number(data, "resolved_at", optional=True),
            last_notified=_number(data, "last_notified", optional=True),
            sequence=_typed(data, "sequence", int),
            notification_key=_typed(data, "notification_key", str, optional=True),
            notification_reason=cast("NotificationReason | None", reason),
            record=_typed(data, "record", dict),
            notice=notice,
            deliveries={str(name): Delivery.from_dict(item) for name, item in deliveries.items()},
        )


def job_scope(job_id: str) -> str:
    """The scope of a record about a check job that belongs to no pool."""
    return f"job:{job_id}"


def scope_of(record: Mapping[str, Any]) -> str:
    """The scope a record is assessed in: its pool id; "job:<job_id>" for a check_failed finding.

    A check_failed finding comes from reading its check job, so only a run that read that job again
    may count it absent: a run that read the pool alone (a timer without the job id) must not
    resolve it. A record with neither pool nor job has a scope of its own that is never assessed.
    """
    watcher = record.get("watcher")
    if record.get("kind") == "watcher_error" and isinstance(watcher, Mapping) and watcher.get("scope"):
        return str(watcher["scope"])
    check = record.get("check")
    job_id = check.get("job_id") if isinstance(check, Mapping) else None
    if record.get("kind") == "check_failed" and job_id:
        return job_scope(str(job_id))
    pool = record.get("pool")
    if isinstance(pool, Mapping) and pool.get("id"):
        return str(pool["id"])
    if job_id:
        return job_scope(str(job_id))
    return f"fingerprint:{record.get('fingerprint', '')}"


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _member_reason(block: Any) -> list[Any] | None:
    if not isinstance(block, Mapping):
        return None
    keys = ("operating_status", "reason_code", "expected_response", "healthcheck_response")
    return [block.get(key) for key in keys]


def _watcher_reason(block: Any) -> list[Any] | None:
    """A watcher_error's reason: its code and HTTP status (another code of one component is a change)."""
    return [block.get("code"), block.get("status")] if isinstance(block, Mapping) else None


def reason_digest(record: Mapping[str, Any]) -> str:
    """A digest of the structured reason, never of free text: "m<hash>.c<hash>" (".c" part empty if no check).

    The member part covers kind, severity and the master's and standby's operating status, reason code
    and expected/actual health-check response (a watcher_error's code and status); the check part
    covers the sorted failed items (group + name), failed groups and incomplete groups. A record
    without a check block has an empty check part, which `merge_digest` reads as "no news about the
    check", not as "the check changed".
    """
    member = _hash(
        [
            record.get("kind"),
            record.get("severity"),
            _member_reason(record.get("master")),
            _member_reason(record.get("standby")),
            *([_watcher_reason(record.get("watcher"))] if record.get("kind") == "watcher_error" else []),
        ]
    )
    check = record.get("check")
    if not isinstance(check, Mapping):
        return f"m{member}.c"
    items = sorted(
        (str(item.get("group")), str(item.get("name")))
        for item in check.get("failed_items") or ()
        if isinstance(item, Mapping)
    )
    groups = sorted(str(group) for group in check.get("failed_groups") or ())
    incomplete = sorted(str(group) for group in check.get("incomplete_groups") or ())
    return f"m{member}.c{_hash([items, groups, incomplete])}"


def merge_digest(previous: str, current: str) -> str:
    """The current digest, keeping the previous check part when this record carries no check."""
    member, _, check = current.partition(".c")
    if not check:
        check = previous.partition(".c")[2]
    return f"{member}.c{check}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def format_duration(seconds: float) -> str:
    """How long something lasted, for people: "45 s", "12 min", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0.0, seconds)
    if seconds < 59.5:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _short_id(value: Any) -> str:
    return str(value).split("-", maxsplit=1)[0] if value else "?"


def _pool_label(pool: Any) -> str:
    if not isinstance(pool, Mapping):
        return "?"
    return str(pool.get("name") or _short_id(pool.get("id")))


def _member_label(block: Mapping[str, Any]) -> str:
    return str(block.get("name") or block.get("address") or _short_id(block.get("id")))


def _current_status(member_id: Any, scope_records: Iterable[Mapping[str, Any]]) -> str | None:
    """A member's operating status as another record of this run reports it, if one does."""
    for other in scope_records:
        for role in ("master", "standby"):
            block = other.get(role)
            if isinstance(block, Mapping) and member_id and block.get("id") == member_id:
                return str(block.get("operating_status") or "") or None
    return None


def _where_line(record: Mapping[str, Any], say: Mapping[str, str]) -> str:
    region, project = record.get("region") or "?", record.get("project_id") or "?"
    pool = record.get("pool")
    if isinstance(pool, Mapping):
        return say["pool_line"].format(
            name=pool.get("name") or "?",
            id=pool.get("id"),
            protocol=pool.get("protocol") or "?",
            region=region,
            project=project,
        )
    return say["region_line"].format(region=region, project=project)


Wording = Mapping[str, str]
Said = tuple[str, list[str]]
"""A resolved notice's title and its first lines."""


def _member_resolved(
    record: Mapping[str, Any], values: dict[str, Any], say: Wording, scope_records: Any
) -> Said:
    """A member finding gone: back ONLINE, or in another state now; a health check added back."""
    kind = str(record.get("kind") or "")
    role = "standby" if kind == "standby_failed" else "master"
    block: Mapping[str, Any] = record[role]
    values.update(
        name=_member_label(block),
        was=str(block.get("operating_status") or "failed"),
        status=_current_status(block.get("id"), scope_records) or "ONLINE",
        address=(
            f"{block.get('address')}:{block.get('protocol_port')}"
            if block.get("address")
            else block.get("id")
        ),
        code=f" ({block['reason_code']})" if block.get("reason_code") else "",
        role=say[f"role_{role}"],
        Role=say[role.capitalize()],
    )
    if kind == "no_monitor":
        return say["r_monitor_title"].format(**values), [
            say["r_monitor_line"].format(**values),
            say["r_monitor_span"].format(**values),
        ]
    which = "back" if values["status"] == "ONLINE" else "other"
    return say[f"r_{which}_title"].format(**values), [
        say[f"r_{which}_line"].format(**values),
        say["r_was"].format(**values),
    ]


def _watcher_resolved(record: Mapping[str, Any], values: dict[str, Any], say: Wording) -> Said:
    """The watcher works again: its component's last code is gone."""
    watcher = record.get("watcher")
    values["code"] = watcher.get("code") if isinstance(watcher, Mapping) else "?"
    return say["r_watcher_title"].format(**values), [say["r_watcher_line"].format(**values)]


def _check_resolved(record: Mapping[str, Any], values: dict[str, Any], say: Wording) -> Said:
    """A failed check job gone: the items that failed."""
    raw_check = record.get("check")
    check: Mapping[str, Any] = raw_check if isinstance(raw_check, Mapping) else {}
    member = say["check_member"].format(member=_short_id(check.get("member_id")))
    subject = values["pool"] if isinstance(record.get("pool"), Mapping) else member
    items = [str(item.get("name")) for item in check.get("failed_items") or () if isinstance(item, Mapping)]
    lines = [say["r_check_line"].format(**values)]
    if items:
        lines.append(say["r_check_items"].format(items=", ".join(items)))
    return say["r_check_title"].format(subject=subject, **values), lines


def _resolved_text(
    record: Mapping[str, Any], values: dict[str, Any], say: Wording, scope_records: Any
) -> Said:
    """The title and first lines of a resolved notice, by the kind of finding that is gone."""
    kind = str(record.get("kind") or "")
    role = "standby" if kind == "standby_failed" else "master"
    if kind in _MEMBER_KINDS and isinstance(record.get(role), Mapping):
        return _member_resolved(record, values, say, scope_records)
    if kind == "no_master":
        return say["r_master_title"].format(**values), [say["r_master_line"].format(**values)]
    if kind == "watcher_error":
        return _watcher_resolved(record, values, say)
    return _check_resolved(record, values, say)


def resolved_record(
    record: Mapping[str, Any],
    *,
    first_seen: float,
    back_at: float,
    last_seen: float,
    now: float,
    checks: int,
    scope_records: Sequence[Mapping[str, Any]] = (),
    locale: str = "en",
) -> dict[str, Any]:
    """The `resolved` record for a finding that is gone: same fingerprint and blocks, severity info.

    `firing_severity` keeps the severity it fired with, so a consumer matching by labels finds it.

    `back_at` is the first run without the finding; the outage lasted from `first_seen` to it.
    `scope_records` are this run's other records for the same scope: they tell whether the member
    is ONLINE now or in another bad state (e.g. OFFLINE became UNKNOWN). Human text in `locale`.
    """
    say = phrases(locale)
    lasted = format_duration(back_at - first_seen)
    values: dict[str, Any] = {
        "tag": f"[{say['resolved']}]",
        "pool": _pool_label(record.get("pool")),
        "lasted": lasted,
        "span": say["span"].format(start=_iso(first_seen), end=_iso(back_at), lasted=lasted),
    }
    title, lines = _resolved_text(record, values, say, scope_records)
    lines.append(say["r_confirmed"].format(checks=checks, last_seen=_iso(last_seen)))
    lines.append(_where_line(record, say))
    return {
        **record,
        "status": "resolved",
        "severity": "info",
        # What it fired with: the generic webhook's labels stay those of the firing alert.
        "firing_severity": record.get("firing_severity") or record.get("severity"),
        "title": title,
        "text": "\n".join(lines),
        "observed_at": _iso(now),
        "notification_reason": "resolved",
    }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification to send this run: the record (with `notification_reason`) and who still needs it.

    `new` is true for a notification made this run (first/changed/repeat/resolved), false for a
    catch-up of an earlier one to channels that have not got it. `channels` may be empty (none
    configured): a new notification still goes to the result and the log.
    """

    fingerprint: str
    scope: str
    key: str
    record: dict[str, Any]
    channels: tuple[str, ...]
    new: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """What one run decided: the states that changed (to save), what to send, and what was held back."""

    states: dict[str, AlertState]
    outgoing: list[Outgoing]
    held: list[dict[str, Any]]


def delivered(state: AlertState, channel: str) -> bool:
    """Whether a channel already has the state's current notification (it was sent there)."""
    entry = state.deliveries.get(channel)
    return entry is not None and entry.key == state.notification_key and entry.status in DONE


def pending_channels(
    state: AlertState, channels: Sequence[str], now: float, settings: LifecycleSettings
) -> tuple[str, ...]:
    """Channels that still need the current notification; none once it is older than the repeat interval."""
    if state.state == "pending" or state.notification_key is None or state.last_notified is None:
        return ()
    if now - state.last_notified >= settings.repeat_interval:
        return ()
    return tuple(channel for channel in channels if not delivered(state, channel))


def _notify(state: AlertState, reason: NotificationReason, now: float, notice: dict[str, Any]) -> AlertState:
    sequence = state.sequence + 1
    key = f"{state.fingerprint}:{state.state}:{state.reason_digest}:{sequence}"
    return replace(
        state,
        sequence=sequence,
        notification_key=key,
        notification_reason=reason,
        last_notified=now,
        notice={**notice, "notification_reason": reason},
    )


def _present(
    prev: AlertState | None, record: dict[str, Any], fingerprint: str, now: float, settings: LifecycleSettings
) -> tuple[AlertState, NotificationReason | None]:
    """The next state of a fingerprint observed this run, and the reason to notify, if any."""
    scope = scope_of(record)
    digest = reason_digest(record)
    if prev is None or prev.state == "resolved" or (prev.state == "pending" and prev.seen == 0):
        episode = AlertState(
            fingerprint=fingerprint,
            scope=scope,
            state="pending",
            first_seen=now,
            last_seen=now,
            reason_digest=digest,
            seen=1,
            record=record,
            sequence=prev.sequence if prev else 0,
            deliveries=dict(prev.deliveries) if prev else {},
        )
        if settings.fire_after <= 1:
            return _notify(replace(episode, state="firing"), "first", now, record), "first"
        return episode, None
    merged = merge_digest(prev.reason_digest, digest)
    state = replace(
        prev,
        scope=scope,
        last_seen=now,
        seen=prev.seen + 1,
        absent=0,
        absent_since=None,
        reason_digest=merged,
        record=record,
    )
    if state.state == "pending":
        if state.seen >= settings.fire_after:
            return _notify(replace(state, state="firing"), "first", now, record), "first"
        return state, None
    if merged != prev.reason_digest:
        return _notify(state, "changed", now, record), "changed"
    last = prev.last_notified if prev.last_notified is not None else prev.first_seen
    if now - last >= settings.repeat_interval:
        return _notify(state, "repeat", now, record), "repeat"
    return state, None


def _absent(
    prev: AlertState, now: float, settings: LifecycleSettings, scope_records: Sequence[dict[str, Any]]
) -> tuple[AlertState, NotificationReason | None]:
    """The next state of a fingerprint not observed in a scope that was assessed this run."""
    if prev.state == "resolved":
        return prev, None
    if prev.state == "pending":
        return (prev if prev.seen == 0 else replace(prev, seen=0)), None
    since = prev.absent_since if prev.absent_since is not None else now
    state = replace(prev, seen=0, absent=prev.absent + 1, absent_since=since)
    # A watcher_error (scope "watcher:...") resolves on the first run that judged it and did not see it:
    # a run that authenticated, read its settings or delivered is proof, not a flapping health check.
    needed = 1 if prev.scope.startswith("watcher:") else settings.resolve_after
    if state.absent < needed:
        return state, None
    notice = resolved_record(
        prev.record,
        first_seen=prev.first_seen,
        back_at=since,
        last_seen=prev.last_seen,
        now=now,
        checks=state.absent,
        scope_records=scope_records,
        locale=settings.locale,
    )
    resolved = replace(state, state="resolved", resolved_at=now)
    return _notify(resolved, "resolved", now, notice), "resolved"


NEVER_TOLD = frozenset({"muted", "silenced"})
"""Ledger statuses that say a time interval or a silence kept the firing notification from a receiver."""


def every_receiver(
    channels: tuple[str, ...],
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[str, ...]]:
    """Every notification to every channel, but a resolved notice to none that was never told it fired.

    The audience without a routing file.
    """

    def to(record: Mapping[str, Any], ledger: Mapping[str, Any]) -> tuple[str, ...]:
        if record.get("status") != "resolved":
            return channels
        return tuple(name for name in channels if getattr(ledger.get(name), "status", None) not in NEVER_TOLD)

    return to


def receivers_of(
    state: AlertState, audience: Callable[[Mapping[str, Any], Mapping[str, Any]], Sequence[str]]
) -> Sequence[str]:
    """Who gets the state's notification: asked with its notice when resolved, else its record."""
    about = state.notice if state.state == "resolved" and state.notice else state.record
    return audience(about or {}, state.deliveries)


def decide(
    previous: Mapping[str, AlertState],
    records: Sequence[dict[str, Any]],
    assessed_scopes: Collection[str],
    *,
    now: float,
    settings: LifecycleSettings,
    channels: Sequence[str] | Callable[[Mapping[str, Any], Mapping[str, Any]], Sequence[str]],
    only: Collection[str] | None = None,
) -> Decision:
    """Decide this run: new states, the notifications to send (and to whom), and the records held back.

    `previous` holds the stored states of the scopes looked at; `assessed_scopes` the scopes whose
    ELB reads succeeded this run (a scope with a record counts as assessed). A fingerprint in a scope
    that was not assessed is left exactly as it was. `only` restricts the decision to some fingerprints
    (the ones this invocation holds a lease on); the other records still serve as context. `channels`:
    the receivers, or who gets a record given its ledger (`receivers.audience`).
    """
    audience = channels if callable(channels) else every_receiver(tuple(channels))
    observed: dict[str, dict[str, Any]] = {}
    for record in records:
        observed.setdefault(str(record.get("fingerprint", "")), record)
    scopes = set(assessed_scopes) | {scope_of(record) for record in observed.values()}
    by_scope: dict[str, list[dict[str, Any]]] = {}
    for record in observed.values():
        by_scope.setdefault(scope_of(record), []).append(record)
    states: dict[str, AlertState] = {}
    outgoing: list[Outgoing] = []
    held: list[dict[str, Any]] = []
    order = [*observed, *sorted(fp for fp in previous if fp not in observed)]
    for fingerprint in order:
        if only is not None and fingerprint not in only:
            continue
        prev = previous.get(fingerprint)
        current = observed.get(fingerprint)
        if current is not None:
            state, reason = _present(prev, current, fingerprint, now, settings)
        elif prev is not None and prev.scope in scopes:
            state, reason = _absent(prev, now, settings, by_scope.get(prev.scope, []))
        else:
            continue
        if state != prev:
            states[fingerprint] = state
        waiting = pending_channels(state, receivers_of(state, audience), now, settings)
        if reason is not None or waiting:
            # A catch-up of a finding still firing carries this run's observation; otherwise the notice.
            if current is not None and state.state == "firing":
                notice = {**current, "notification_reason": state.notification_reason}
            else:
                notice = dict(state.notice or {})
            key = state.notification_key or ""
            outgoing.append(Outgoing(fingerprint, state.scope, key, notice, waiting, new=reason is not None))
        elif current is not None:
            why = (
                f"pending: seen {state.seen} of {settings.fire_after}"
                if state.state == "pending"
                else "already notified"
            )
            held.append({"fingerprint": fingerprint, "scope": state.scope, "state": state.state, "why": why})
    return Decision(states, outgoing, held)


def record_deliveries(
    state: AlertState, key: str, deliveries: Iterable[Mapping[str, Any]], now: float
) -> AlertState:
    """The state with this run's deliveries of notification `key` written to its ledger."""
    ledger = dict(state.deliveries)
    for delivery in deliveries:
        # The ledger is per receiver (several may share a channel type); without routes each channel
        # is a receiver named after its type.
        channel = str(delivery.get("receiver") or delivery.get("channel", ""))
        earlier = ledger.get(channel)
        attempts = delivery.get("attempts")
        count = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 1
        if earlier is not None and earlier.key == key:
            count += earlier.attempts
        ledger[channel] = Delivery(key, str(delivery.get("status", "failed")), now, count)
    return replace(state, deliveries=ledger)
