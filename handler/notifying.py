"""Stages decide, hold, route, pace, deliver and record, with the watcher watching itself.

The findings (`publish`) and the watcher's own problems (`handler.watcher_error`, one per component
and scope) go through the notification pipeline (`handler.pipeline`: decide against the store, hold
what a silence matches, route to the event's channels, deliver through `handler.sending`, record the
ledger). A failed store or every channel failing is only known after that pass: a second pass notifies
it. While the store is down the second pass keeps its states in the warm instance
(`handler.state.memory`), written back once the store answers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from handler import logs
from handler import watcher_error as watcher
from handler.actions.links import linker, off_because
from handler.config import request_id, resolve_project_id
from handler.domain import Notification
from handler.lifecycle import scope_of
from handler.limits import compact_record
from handler.notify import build
from handler.pipeline import ProcessResult, process
from handler.reading import Reading
from handler.receivers import audience, widen
from handler.routing import decide_routes, window_muting, with_route
from handler.sending import channel_layer
from handler.state import StateStore, StoreUnavailable
from handler.wiring import WARM, Wiring

if TYPE_CHECKING:
    from handler.receivers import Receivers
    from handler.routes import Routed
    from handler.run_context import RunContext
    from handler.state.memory import MemoryStore

# A lease outlives the platform deadline by this much: clocks of the store and of the run differ a little.
LEASE_MARGIN_SECONDS = 2.0


def lease_ms(platform_left: float) -> int:
    """A lease that lasts as long as this run may still send: to the platform's deadline, plus a margin.

    Capped at 30 s, a lease ran out while a slow channel was still retrying (the function timeout is
    60 s or more), and an invocation that started then sent the same alert again. Taken to the end of
    the platform time, no other invocation can take it while this one can still send; a run that is
    killed frees it at the moment it could no longer have sent anything anyway.
    """
    return int(max(1.0, platform_left + LEASE_MARGIN_SECONDS) * 1000)


@dataclass(frozen=True, slots=True)
class Routing:
    """Which channels an event lets each notification use: by fingerprint, else by its pool's scope."""

    by_fingerprint: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    by_scope: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)

    def allowed(self, notification: Notification) -> tuple[str, ...] | None:
        """The channels the event lets this notification use (None: every configured channel)."""
        if notification.fingerprint in self.by_fingerprint:
            return self.by_fingerprint[notification.fingerprint]
        return self.by_scope.get(scope_of(notification.to_record()))


@dataclass(frozen=True, slots=True)
class Published:
    """The run's findings as notifications, and which channels the event lets each of them use."""

    notifications: tuple[Notification, ...] = ()
    routing: Routing = field(default_factory=Routing)
    # Where each finding goes, by fingerprint (stage route; empty without a routing file).
    routes: Mapping[str, Routed] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notified:
    """What the run notified, how each delivery went, what it held back, and its de-duplication."""

    notifications: tuple[Notification, ...] = ()
    deliveries: tuple[dict[str, Any], ...] = ()
    held: tuple[dict[str, Any], ...] = ()
    undelivered: tuple[dict[str, Any], ...] = ()
    dedup: str = "off"

    def plus(self, other: ProcessResult) -> Notified:
        """What two passes of the pipeline notified: this one's, then `other`'s."""
        return Notified(
            (*self.notifications, *other.notifications),
            (*self.deliveries, *other.deliveries),
            (*self.held, *other.held),
            (*self.undelivered, *other.lost),
            self.dedup,
        )


def _observed_at(run: RunContext) -> str:
    observed = datetime.fromtimestamp(run.clock(), timezone.utc)
    return observed.isoformat(timespec="seconds").replace("+00:00", "Z")


def publish(reading: Reading, run: RunContext) -> Published:
    """Stage publish: each finding as a notification, with the channels its event allows."""
    observed_at = _observed_at(run)
    notifications: list[Notification] = []
    by_fingerprint: dict[str, tuple[str, ...] | None] = {}
    by_scope: dict[str, tuple[str, ...] | None] = {}
    for item in reading.watched:
        channels = item.placed.item.channels
        by_scope.update(dict.fromkeys(item.pool_ids, channels))
        for finding in item.findings:
            notification = build(
                finding,
                region=item.placed.region,
                project_id=item.placed.project_id,
                observed_at=observed_at,
                locale=run.settings.locale,
            )
            notifications.append(notification)
            by_fingerprint[notification.fingerprint] = channels
    return Published(tuple(notifications), Routing(by_fingerprint, by_scope))


def route_findings(
    published: Published, receivers: Receivers, tags: Mapping[str, Mapping[str, str]]
) -> Published:
    """Stage route: the run's findings with where each goes (`handler.routing`; none without routes)."""
    if receivers.routes is None:
        return published
    return replace(published, routes=decide_routes(published.notifications, receivers, tags))


def watcher_records(problems: Sequence[watcher.WatcherProblem], run: RunContext) -> list[dict[str, Any]]:
    """The watcher_error records of this run's problems (see handler.watcher_error)."""
    observed_at = _observed_at(run)
    project_id = resolve_project_id(None, run.platform, run.env) or ""
    return [
        watcher.watcher_record(
            problem,
            region=run.settings.region or "",
            project_id=project_id,
            observed_at=observed_at,
            locale=run.settings.locale,
        )
        for problem in problems
    ]


def one_pass(
    records: Sequence[Notification | Mapping[str, Any]],
    scopes: set[str],
    store: StateStore | None,
    *,
    run: RunContext,
    wiring: Wiring,
    routing: Routing,
) -> ProcessResult:
    """One pass of the notification pipeline (handler.pipeline) over records in the assessed scopes."""
    receivers = wiring.channels

    def allowed(notification: Notification) -> tuple[str, ...] | None:
        names = routing.allowed(notification)
        return None if names is None else widen(names, receivers)

    done = process(
        records,
        scopes,
        store=store,
        channels=[channel.name for channel in receivers],
        send=channel_layer(run, wiring),
        now=run.clock(),
        settings=wiring.lifecycle,
        owner=f"{request_id(run.platform) or 'local'}:{uuid.uuid4().hex}",
        log=run.log,
        lease_ms=lease_ms(run.deadline - time.monotonic()),
        allowed=allowed,
        audience=audience(wiring.receivers) if wiring.receivers.routes is not None else None,
        muting=window_muting(wiring.receivers.routes, run.clock()),
        link=linker(run.settings, run.env, wiring.store_kind, run.clock()),
    )
    return typed(done, {channel.name: channel.type for channel in receivers})


def typed(done: ProcessResult, kinds: Mapping[str, str]) -> ProcessResult:
    """Each delivery with its receiver's channel type as `channel` (the pipeline knows receivers only)."""

    def of(entry: Mapping[str, Any]) -> dict[str, Any]:
        name = str(entry.get("receiver") or entry.get("channel"))
        return {**entry, "channel": kinds.get(name, entry.get("channel")), "receiver": name}

    return replace(done, deliveries=[of(d) for d in done.deliveries], lost=[of(d) for d in done.lost])


def notify(
    published: Published,
    errors: Sequence[Mapping[str, Any]],
    reading: Reading,
    run: RunContext,
    wiring: Wiring,
) -> Notified:
    """Stages decide → hold → route → pace → deliver → record, for the findings and the watcher's own.

    The watcher's problems known before sending go in the same pass; a failed store or every channel
    failing in a second pass after it.
    """
    found, judged = watcher.elb_problems(reading.healths)
    problems = [*watcher.problems_in(errors), *found]
    findings: list[Notification | dict[str, Any]] = (
        [with_route(n.to_record(), published.routes.get(n.fingerprint)) for n in published.notifications]
        if published.routes
        else list(published.notifications)
    )
    records = [*findings, *watcher_records(problems, run)]
    scopes = {scope for item in reading.watched for scope in item.scopes}
    scopes |= {watcher.SCOPE_CONFIG, *judged}
    if reading.watched:
        scopes.add(watcher.SCOPE_SETUP)
    own = None if wiring.dry_run or wiring.store is None else run.own_states
    links_off(run, wiring)
    if wiring.store is not None:
        scopes.add(watcher.SCOPE_STORE)
        restore_own_states(own, wiring.store, run.log)
    first = one_pass(records, scopes, wiring.store, run=run, wiring=wiring, routing=published.routing)
    notified = Notified(
        tuple(first.notifications),
        tuple(first.deliveries),
        tuple(first.held),
        tuple(first.lost),
        _dedup(first, wiring),
    )
    notified = _second_pass(notified, first, own, run=run, wiring=wiring, routing=published.routing)
    for notification in notified.notifications:
        pool, check = notification.pool or {}, notification.check or {}
        with logs.bound(pool_id=pool.get("id"), job_id=check.get("job_id")):
            run.log.warning("notification", **compact_record(notification.to_record()))
    return notified


def links_off(run: RunContext, wiring: Wiring) -> None:
    """The startup warning of action links asked for (ELB_WATCH_ACTIONS_URL) but off: once per instance."""
    why = off_because(run.settings, run.env, wiring.store_kind)
    if why and WARM.first_time(f"actions.off:{why}"):
        run.log.warning("actions.off", why=why)


def _dedup(first: ProcessResult, wiring: Wiring) -> str:
    """What the result's `deduplication` says after the first pass."""
    if wiring.store is None:
        return "off"
    if not first.dedup_available:
        return "unavailable"
    # Some stored states could not be read: their findings were decided as new.
    return "partial" if first.unreadable else wiring.store_kind


def _second_pass(
    notified: Notified,
    first: ProcessResult,
    own: MemoryStore | None,
    *,
    run: RunContext,
    wiring: Wiring,
    routing: Routing,
) -> Notified:
    """The watcher's problems only the first pass could show: every channel failed, the store failed."""
    late = [
        problem
        for problem in (
            watcher.delivery_problem(first.deliveries, [c.name for c in wiring.channels]),
            watcher.store_problem(first.warnings) if wiring.store is not None else None,
        )
        if problem is not None
    ]
    # Judging delivery needs a store to remember an earlier WATCH.CHANNELS; after a store failure
    # the second pass uses the warm instance's memory rather than wait for the broken store again.
    usable = wiring.store if first.dedup_available else own
    tried = usable is not None and any(d.get("status") in {"sent", "failed"} for d in first.deliveries)
    if not late and not tried:
        return notified
    scopes = {watcher.SCOPE_DELIVERY} if tried else set()
    late_records = watcher_records(late, run)
    return notified.plus(one_pass(late_records, scopes, usable, run=run, wiring=wiring, routing=routing))


def restore_own_states(own: MemoryStore | None, store: StateStore, log: Any) -> None:
    """Write the watcher alerts kept while the store was down to the store, once it answers again.

    A state the store holds a newer version of is left alone; written, the warm copies are dropped,
    and this run's decision (the store is judged healthy when it works) resolves them there.
    """
    if own is None or not own:
        return
    kept = own.take()
    try:
        stored = store.load({state.scope for state in kept}).states
        newer = [
            s for s in kept if s.fingerprint not in stored or stored[s.fingerprint].last_seen < s.last_seen
        ]
        if newer:
            store.save(newer)
    except StoreUnavailable as exc:
        log.info("state.own_kept", reason=exc.message, states=len(kept))
        return
    own.forget(state.fingerprint for state in kept)
    log.info("state.own_restored", states=len(newer))
