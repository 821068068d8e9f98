"""The notification pipeline of one invocation, as named stages over the run's records.

    decide   the lifecycle (`handler.lifecycle`, pure) against the store: load, lease, re-read, decide
             (first / changed / repeat / resolved, flap control, catch-ups of what is still owed)
    silence  what an active silence (`handler.silences`, kept in the store) matches is held: listed in
             `held` with the silence id and its end, recorded `silenced` (so it stays owed and goes
             out once the silence ends, if still firing), never sent; a receiver it kept the alert
             from gets no resolved notice for it (as with mute)
    acknowledge  a repeat (or catch-up) of an alert someone acknowledged (`handler.acks`) and that has
             not changed since is held: recorded `acknowledged` (settled), listed in `held` with who;
             a changed or resolved notification carries the `acknowledged` block and drops the ack
    link     the action links (`handler.actions.links`) of each firing notification sent, bound to
             its alert's sequence: only the copies sent carry them
    mute     what a route muted now by a time interval (`handler.windows`) routes is held for that
             route's receivers: `muted`, owed, listed in `held` with the window and its end; a receiver
             that was never told of the alert gets no resolved notice for it
    route    which of the due channels this event may use; the others stay owed (`skipped`)
    deliver  the channel layer (`Send`): group into digests, pace to each service's limits, send
    record   the per-channel ledger: only `sent` settles a channel; save, release the leases
    chronicle  each saved state's episode (`handler.history`) merged into the store's history; a
             store that fails here is a warning, the alerts are sent and recorded already

It never raises for a store problem: without a usable store every observed finding is sent to every
channel, the result says de-duplication was unavailable, and what was not sent is listed as lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handler.acks import Ack, holding, stale, told
from handler.domain import Notification
from handler.history import Episode, episode_of
from handler.lifecycle import NEVER_TOLD as UNTOLD
from handler.lifecycle import (
    AlertState,
    Decision,
    LifecycleSettings,
    NotificationReason,
    Outgoing,
    decide,
    record_deliveries,
    scope_of,
)
from handler.silences import Silence, iso, silencing
from handler.state.base import Leased, Loaded, Settle, StateStore, StoreUnavailable

if TYPE_CHECKING:
    from handler.windows import Muted

Pair = tuple[Notification, str]
"""One notification and one channel name: what the route, silence and deliver stages move."""

Send = Callable[[list[Pair]], list[dict[str, Any]]]
"""The channel layer: (notification, channel name) pairs in, one delivery dict per pair out, same order."""

Allowed = Callable[[Notification], "Collection[str] | None"]
"""The channels an event lets a notification use (None: all of them)."""

Audience = Callable[[Mapping[str, Any], Mapping[str, Any]], Sequence[str]]
"""Who gets a notification: (its record, its ledger by receiver) → receiver names (`receivers.audience`)."""

Acked = Mapping[str, tuple[Ack, frozenset[str]]]
"""The acknowledgements that hold an outgoing alert, by fingerprint, with the receivers they hold it for."""

Muting = Callable[[Notification, str], "Muted | None"]
"""Whether a time interval holds a notification for a receiver now, and until when (`routing.muting`)."""

Link = Callable[[Notification, int], Notification]
"""Stage link: a notification about to be sent and its alert's sequence → with its action links."""

MUTED = "muted"
SILENCED = "silenced"
ACKNOWLEDGED = "acknowledged"
HELD_BACK = UNTOLD
"""Ledger statuses of a notification a window or silence kept from a receiver: it was never told."""

BUSY = "another invocation is notifying"
NO_STORE = "no state store in use (ELB_WATCH_STATE=off, or the store failed earlier in this run)"
NARROWED = "not among the event's channels; owed to the next run that may use this channel"
DEFAULT_LEASE_MS = 30_000


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What a run notified and how each delivery went.

    `notifications`: the records notified this run (each with `notification_reason`), for the result
    and the log. `deliveries`: one entry per (record, channel): {"fingerprint", "channel", "status",
    "attempts", "error"}; status sent | failed | throttled | deferred | skipped | silenced | muted |
    acknowledged | dry_run. `held`: observed findings not notified this run and why ({"fingerprint",
    "scope", "state", "why"}, + "silence_id" and "silenced_until" when a silence holds it,
    "acknowledged_by", "acknowledged_at" and "receivers" when an acknowledgement does).
    `warnings`: what went wrong with the store, each already logged once. `unreadable`: stored states
    this run could not read (their findings were decided as new), so de-duplication was only partial.
    """

    notifications: list[Notification] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    dedup_available: bool = True
    warnings: list[str] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0


def _unique(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        seen.setdefault(str(record.get("fingerprint", "")), record)
    return list(seen.values())


def _records(notifications: Sequence[Notification | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The v1 records the lifecycle and the store keep (the store is an edge)."""
    return [n.to_record() if isinstance(n, Notification) else dict(n) for n in notifications]


def route(pairs: list[Pair], allowed: Allowed | None) -> tuple[list[Pair], dict[int, dict[str, Any]]]:
    """Stage route: the pairs this event may send; a `skipped` (owed) delivery per other pair, by index."""
    if allowed is None:
        return pairs, {}
    wanted, skipped = [], {}
    for index, (notification, channel) in enumerate(pairs):
        names = allowed(notification)
        if names is not None and channel not in names:
            skipped[index] = {
                "fingerprint": notification.fingerprint,
                "channel": channel,
                "receiver": channel,
                "status": "skipped",
                "attempts": 0,
                "error": NARROWED,
            }
        else:
            wanted.append((notification, channel))
    return wanted, skipped


def silence(pairs: list[Pair], held_by: Mapping[str, Silence]) -> dict[int, dict[str, Any]]:
    """Stage silence: a `silenced` (owed) delivery, by index, for each pair whose finding a silence holds."""
    silenced = {}
    for index, (notification, channel) in enumerate(pairs):
        holder = held_by.get(notification.fingerprint)
        if holder is not None:
            silenced[index] = {
                "fingerprint": notification.fingerprint,
                "channel": channel,
                "receiver": channel,
                "status": SILENCED,
                "attempts": 0,
                "error": _silenced_why(holder),
            }
    return silenced


def _silenced_why(holder: Silence) -> str:
    return f"silenced by {holder.id} ({holder.describe()}) until {iso(holder.ends_at)}"


def acknowledge(pairs: list[Pair], acked: Acked, settled: Collection[int]) -> dict[int, dict[str, Any]]:
    """Stage acknowledge: an `acknowledged` (settled) delivery, by index, per pair of an acked alert.

    Only for the receivers already told of the alert: one never told still gets it once.
    """
    held: dict[int, dict[str, Any]] = {}
    for index, (notification, channel) in enumerate(pairs):
        ack, receivers = acked.get(notification.fingerprint, (None, frozenset()))
        if ack is not None and index not in settled and channel in receivers:
            held[index] = {
                "fingerprint": notification.fingerprint,
                "channel": channel,
                "receiver": channel,
                "status": ACKNOWLEDGED,
                "attempts": 0,
                "error": ack.why(),
                "acknowledged_by": ack.by,
            }
    return held


def mute(pairs: list[Pair], muting: Muting | None, settled: Collection[int]) -> dict[int, dict[str, Any]]:
    """Stage mute: a `muted` (owed) delivery, by index, for each pair a time interval holds now."""
    muted: dict[int, dict[str, Any]] = {}
    if muting is None:
        return muted
    for index, (notification, channel) in enumerate(pairs):
        holder = None if index in settled else muting(notification, channel)
        if holder is not None:
            muted[index] = {
                "fingerprint": notification.fingerprint,
                "channel": channel,
                "receiver": channel,
                "status": MUTED,
                "attempts": 0,
                "error": holder.why,
                "time_interval": holder.window,
                "muted_until": iso(holder.until) if holder.until is not None else None,
            }
    return muted


def _deliver(
    send: Send,
    pairs: list[Pair],
    log: Any,
    allowed: Allowed | None = None,
    held_by: Mapping[str, Silence] | None = None,
    *,
    muting: Muting | None = None,
    acked: Acked | None = None,
) -> list[dict[str, Any]]:
    """Stages silence + acknowledge + mute + route + deliver: the channel layer is called once (never empty).

    What the channel layer gives no answer for is failed.
    """
    if not pairs:
        return []
    settled = silence(pairs, held_by or {})
    settled.update(acknowledge(pairs, acked or {}, settled))
    settled.update(mute(pairs, muting, settled))
    rest = [index for index in range(len(pairs)) if index not in settled]
    wanted, skipped = route([pairs[index] for index in rest], allowed)
    settled.update((rest[position], entry) for position, entry in skipped.items())
    sent = _send(send, wanted, log) if wanted else []
    answers = iter(sent)
    return [settled[index] if index in settled else next(answers) for index in range(len(pairs))]


def _silenced(
    store: StateStore, outgoing: Sequence[Outgoing], now: float, warnings: list[str], log: Any
) -> dict[str, Silence]:
    """Stage silence: the silence holding each outgoing notification an active silence matches."""
    active = _active_silences(store, now, warnings, log) if outgoing else []
    active = end_at_resolution(store, active, outgoing, now, log)
    held_by: dict[str, Silence] = {}
    for item in outgoing:
        holder = silencing(active, item.record, now)
        if holder is not None:
            held_by[item.fingerprint] = holder
            log.info("notification.silenced", fingerprint=item.fingerprint, silence=holder.id)
    return held_by


def end_at_resolution(
    store: StateStore, active: list[Silence], outgoing: Sequence[Outgoing], now: float, log: Any
) -> list[Silence]:
    """End each "until resolved" silence whose alert resolves this run; the silences still active.

    A silence the store cannot end stays (its resolved notice goes out all the same: such a silence
    never holds one); it is logged, and ended by the next resolution or its 90 days.
    """
    resolved = {item.fingerprint for item in outgoing if item.new and item.record.get("status") == "resolved"}
    kept = []
    for held in active:
        if held.until_resolved and held.matcher.get("fingerprint") in resolved:
            try:
                store.expire_silence(held.id, now)
                log.info(
                    "silence.ended_by_resolution", silence=held.id, fingerprint=held.matcher["fingerprint"]
                )
                continue
            except StoreUnavailable as exc:
                log.warning("silence.not_ended", silence=held.id, reason=exc.message)
        kept.append(held)
    return kept


def _held_by_silences(
    outgoing: Sequence[Outgoing], held_by: Mapping[str, Silence], states: Mapping[str, AlertState]
) -> list[dict[str, Any]]:
    """The `held` entries of the silenced notifications: which silence, and until when."""
    held = []
    for item in outgoing:
        holder = held_by.get(item.fingerprint)
        if holder is not None:
            state = states.get(item.fingerprint)
            held.append(
                {
                    "fingerprint": item.fingerprint,
                    "scope": item.scope,
                    "state": state.state if state else "",
                    "why": _silenced_why(holder),
                    "silence_id": holder.id,
                    "silenced_until": iso(holder.ends_at),
                }
            )
    return held


def _active_silences(store: StateStore, now: float, warnings: list[str], log: Any) -> list[Silence]:
    """The silences active now; none (everything is sent) when the store cannot list them."""
    try:
        return [held for held in store.silences() if held.active(now)]
    except StoreUnavailable as exc:
        warning = f"silences unavailable, nothing is held by a silence this run: {exc.message}"
        warnings.append(warning)
        log.warning("silences.unavailable", reason=exc.message)
        return []


def _send(send: Send, pairs: list[Pair], log: Any) -> list[dict[str, Any]]:
    try:
        answers: list[Any] = list(send(pairs))
    except Exception as exc:  # noqa: BLE001 - a broken channel layer must not lose the run's state
        # No traceback: an exception's text may carry a webhook URL with its token.
        log.error("channels.crashed", error=type(exc).__name__)  # noqa: TRY400
        answers = []
    deliveries = []
    for index, (notification, channel) in enumerate(pairs):
        answer = answers[index] if index < len(answers) and isinstance(answers[index], Mapping) else None
        entry = dict(answer) if answer is not None else {"status": "failed", "attempts": 0}
        entry.setdefault("error", None if answer is not None else "the channel layer reported no delivery")
        entry["fingerprint"] = notification.fingerprint
        entry["receiver"] = channel
        entry.setdefault("channel", channel)
        deliveries.append(entry)
    return deliveries


def _without_state(
    records: Sequence[dict[str, Any]],
    *,
    decision: Decision | None = None,
    previous: Mapping[str, AlertState] | None = None,
    channels: Sequence[str],
    send: Send,
    why: str,
    warnings: list[str],
    log: Any,
    allowed: Allowed | None = None,
    audience: Audience | None = None,
    muting: Muting | None = None,
) -> ProcessResult:
    """Send every observed finding (and any decided resolution) to its receivers: nothing is lost.

    What a time interval holds (`muting`) is not sent: without a store every run sends every finding,
    so the first run after the window sends it.
    """
    decided = {item.fingerprint: item.record for item in decision.outgoing} if decision else {}
    outgoing: list[dict[str, Any]] = []
    observed = _unique(records)
    for record in observed:
        fingerprint = str(record.get("fingerprint", ""))
        prev = (previous or {}).get(fingerprint)
        reason: NotificationReason = "repeat" if prev is not None and prev.state == "firing" else "first"
        chosen = decided.get(fingerprint, {}).get("notification_reason", reason)
        outgoing.append({**record, "notification_reason": chosen})
    fingerprints = {str(record.get("fingerprint", "")) for record in observed}
    outgoing.extend(record for fp, record in decided.items() if fp not in fingerprints)
    warning = f"de-duplication unavailable: {why}"
    warnings.append(warning)
    log.warning("dedup.unavailable", reason=why, notifications=len(outgoing))
    notifications = [Notification.of(record) for record in outgoing]
    pairs = [
        (notification, channel)
        for notification, record in zip(notifications, outgoing, strict=True)
        for channel in _to(record, previous, channels, audience)
    ]
    deliveries = _deliver(send, pairs, log, allowed, muting=muting)
    lost = [
        {key: entry.get(key) for key in ("fingerprint", "channel", "receiver", "status", "error")}
        for entry in deliveries
        # A dry run sends nothing on purpose; a muted finding goes out with the first run after its window.
        if entry.get("status") not in {"sent", "dry_run", MUTED}
    ]
    if lost:
        # Nothing remembers what is owed: say so once, loudly, with what a person must look at.
        log.warning("delivery.lost", reason=why, undelivered=len(lost))
    return ProcessResult(notifications, deliveries, dedup_available=False, warnings=warnings, lost=lost)


def _to(
    record: Mapping[str, Any],
    previous: Mapping[str, AlertState] | None,
    channels: Sequence[str],
    audience: Audience | None,
) -> Sequence[str]:
    """Who gets a record sent without state: its audience (with the ledger it had), else every channel."""
    if audience is None:
        return channels
    prev = (previous or {}).get(str(record.get("fingerprint", "")))
    return audience(record, prev.deliveries if prev is not None else {})


def _note(rows: list[str], warnings: list[str], log: Any) -> None:
    for row in rows:
        if row not in warnings:
            warnings.append(row)
            log.warning("state.row_ignored", problem=row)


def ledger(
    final: Decision, fresh: Loaded, deliveries: Sequence[Mapping[str, Any]], now: float
) -> dict[str, AlertState]:
    """Stage record: each delivery of this run written to its finding's ledger; only `sent` settles it.

    `deliveries` are in the order of `final.outgoing` and its channels.
    """
    states = dict(final.states)
    position = 0
    for item in final.outgoing:
        mine = deliveries[position : position + len(item.channels)]
        position += len(item.channels)
        base = states.get(item.fingerprint) or fresh.states[item.fingerprint]
        kept = [entry for entry in mine if not _told(base, entry)]
        states[item.fingerprint] = record_deliveries(base, item.key, kept, now)
    return states


def _told(state: AlertState, entry: Mapping[str, Any]) -> bool:
    """Whether a muted or silenced delivery goes to a receiver already told of this firing alert.

    Its ledger then keeps that: the new notification is still owed to it (its key differs), and it
    gets the resolved notice. A receiver whose ledger says muted or silenced was never told, and gets none.
    """
    if entry.get("status") not in HELD_BACK:
        return False
    earlier = state.deliveries.get(str(entry.get("receiver") or entry.get("channel", "")))
    return earlier is not None and earlier.status not in HELD_BACK and ":firing:" in earlier.key


def _scopes_of(fingerprints: Collection[str], decision: Decision, loaded: Loaded) -> set[str]:
    """The scopes the given fingerprints live in (stored and new), as far as this run knows them."""
    wanted = set(fingerprints)
    scopes = {item.scope for item in decision.outgoing if item.fingerprint in wanted}
    for fingerprint, state in (*loaded.states.items(), *decision.states.items()):
        if fingerprint in wanted:
            scopes.add(state.scope)
    return scopes


def _lease_unobserved(
    store: StateStore, extra: list[str], owner: str, lease_ms: int, *, first: Decision, loaded: Loaded
) -> tuple[Loaded, tuple[str, ...]]:
    """Lease stored findings this run must change but did not observe (absent, resolving).

    Returns the states with those leased ones as they are under their leases (one deleted meanwhile
    is gone), and the fingerprints leased.
    """
    second = store.lease(extra, owner, lease_ms, _scopes_of(extra, first, loaded))
    states = dict(loaded.states)
    for fingerprint in second.taken:
        states.pop(fingerprint, None)
        if fingerprint in second.loaded.states:
            states[fingerprint] = second.loaded.states[fingerprint]
    return Loaded(states, [*loaded.warnings, *second.loaded.warnings]), second.taken


def _settle_quiet(
    records: list[dict[str, Any]],
    scopes: set[str],
    observed: set[str],
    decided: list[tuple[Loaded, Decision]],
    *,
    now: float,
    settings: LifecycleSettings,
    channels: tuple[str, ...] | Audience,
) -> Settle:
    """The store's `settle` for this run: decide, and the states to write without a lease, or None.

    None unless nothing is to be sent and nothing unobserved changes. Each decision is noted in
    `decided` with the states it was made from, so the run need not decide again.
    """

    def settle(loaded: Loaded) -> Mapping[str, AlertState] | None:
        decision = decide(loaded.states, records, scopes, now=now, settings=settings, channels=channels)
        decided.append((loaded, decision))
        if decision.outgoing or any(fingerprint not in observed for fingerprint in decision.states):
            return None
        return ledger(decision, loaded, (), now)

    return settle


def _lease_observed(
    store: StateStore, observed: list[str], owner: str, lease_ms: int, scopes: set[str], *, settle: Settle
) -> Leased:
    """The first lease of a run: with `settle` when the store can settle a quiet run (StateStore.lease)."""
    if getattr(store, "settles", False):
        return store.lease(observed, owner, lease_ms, scopes, settle=settle)
    return store.lease(observed, owner, lease_ms, scopes)


@dataclass(frozen=True, slots=True)
class _Pass:
    """What one pass of the pipeline works with, fixed for the pass: passed to each stage."""

    store: StateStore
    channels: tuple[str, ...]
    send: Send
    now: float
    settings: LifecycleSettings
    owner: str
    log: Any
    lease_ms: int
    allowed: Allowed | None
    audience: Audience | None


@dataclass(frozen=True, slots=True)
class _Decided:
    """Stage decide's outcome: the final decision, the states it was made from, the leases held.

    `first` is the decision made before the leases of unobserved findings were taken; `busy` the
    fingerprints another invocation holds (their notifications are skipped, still owed).
    """

    first: Decision
    final: Decision
    loaded: Loaded
    fresh: Loaded
    leased: tuple[str, ...]
    busy: tuple[str, ...]


def _without_store(
    run: _Pass, records: Sequence[dict[str, Any]], why: str, warnings: list[str], **decided: Any
) -> ProcessResult:
    return _without_state(
        records,
        channels=run.channels,
        send=run.send,
        why=why,
        warnings=warnings,
        log=run.log,
        allowed=run.allowed,
        audience=run.audience,
        **decided,
    )


def _decide(
    run: _Pass, records: list[dict[str, Any]], scopes: set[str], warnings: list[str]
) -> _Decided | ProcessResult:
    """Stage decide: lease the observed findings, read their scopes, decide; lease what else changes.

    A ProcessResult when the run ends here: the store settled a quiet run, or failed (then every
    observed finding is sent without state).
    """
    observed = list(dict.fromkeys(str(record.get("fingerprint", "")) for record in records))
    seen = set(observed)
    decided: list[tuple[Loaded, Decision]] = []
    settle = _settle_quiet(
        records,
        scopes,
        seen,
        decided,
        now=run.now,
        settings=run.settings,
        channels=run.audience or run.channels,
    )
    try:
        # Every observed finding's state changes this run, so its lease is taken at once, and the
        # scopes are read under those leases: another invocation's notification is seen. A store
        # that can settles a quiet run there and then, in the same transaction.
        first_lease = _lease_observed(run.store, observed, run.owner, run.lease_ms, scopes, settle=settle)
    except StoreUnavailable as exc:
        return _without_store(run, records, exc.message, warnings)
    loaded = first_lease.loaded
    _note(loaded.warnings, warnings, run.log)
    # The decision `settle` made from these very states, if the store asked for one.
    first = next((made for read, made in decided if read is loaded), None)
    if first_lease.settled and first is not None:
        unreadable = len(set(loaded.warnings))
        return ProcessResult(
            dedup_available=True, warnings=warnings, held=list(first.held), unreadable=unreadable
        )
    if first is None:
        first = decide(
            loaded.states,
            records,
            scopes,
            now=run.now,
            settings=run.settings,
            channels=run.audience or run.channels,
        )
    return _lease_the_rest(
        run, records, scopes, warnings, first=first, loaded=loaded, taken=first_lease.taken, seen=seen
    )


def _lease_the_rest(
    run: _Pass,
    records: list[dict[str, Any]],
    scopes: set[str],
    warnings: list[str],
    *,
    first: Decision,
    loaded: Loaded,
    taken: tuple[str, ...],
    seen: set[str],
) -> _Decided | ProcessResult:
    """Lease what the first decision changes that the run did not observe; decide again if need be.

    The decision is made again, over the states as they are under the leases, when a lease was
    needed or could not be had (another invocation holds it).
    """
    leased = list(taken)
    touched = list(dict.fromkeys([*first.states, *(item.fingerprint for item in first.outgoing)]))
    # Stored findings this run did not observe but must change (absent, resolving) need their own leases.
    extra = [fingerprint for fingerprint in touched if fingerprint not in seen]
    fresh = loaded
    if extra:
        try:
            fresh, more = _lease_unobserved(
                run.store, extra, run.owner, run.lease_ms, first=first, loaded=loaded
            )
        except StoreUnavailable as exc:
            return _without_store(run, records, exc.message, warnings, decision=first, previous=loaded.states)
        _note(fresh.warnings, warnings, run.log)
        leased.extend(more)
    holding = set(leased)
    busy = tuple(fingerprint for fingerprint in touched if fingerprint not in holding)
    # Holding every lease it needs on the states it decided from, the first decision is final.
    final = (
        first
        if not busy and not extra
        else decide(
            fresh.states,
            records,
            scopes,
            now=run.now,
            settings=run.settings,
            channels=run.audience or run.channels,
            only=holding,
        )
    )
    return _Decided(first, final, loaded, fresh, tuple(leased), busy)


def _save(run: _Pass, states: Mapping[str, AlertState], decided: _Decided, warnings: list[str]) -> bool:
    """Stage record: write the states and give back the leases; False when the store failed."""
    try:
        run.store.save(states.values(), release=decided.leased, owner=run.owner)
    except StoreUnavailable as exc:
        # The leases were not given back either: they expire by themselves after lease_ms.
        why = f"{exc.message}; this run's deliveries were not recorded and may be repeated"
        warnings.append(f"de-duplication unavailable: {why}")
        run.log.warning("dedup.unavailable", reason=why, notifications=len(decided.final.outgoing))
        return False
    return True


def _busy(decided: _Decided, log: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The held entries and skipped deliveries of what another invocation holds the lease of."""
    held: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    waiting = {item.fingerprint: item for item in decided.first.outgoing}
    for fingerprint in decided.busy:
        state = decided.first.states.get(fingerprint) or decided.loaded.states.get(fingerprint)
        scope = state.scope if state else ""
        held.append(
            {"fingerprint": fingerprint, "scope": scope, "state": state.state if state else "", "why": BUSY}
        )
        skipped = waiting.get(fingerprint)
        deliveries.extend(
            {
                "fingerprint": fingerprint,
                "channel": channel,
                "receiver": channel,
                "status": "skipped",
                "attempts": 0,
                "error": BUSY,
            }
            for channel in (skipped.channels if skipped else ())
        )
        log.info("notification.skipped", fingerprint=fingerprint, why=BUSY)
    return held, deliveries


def process(
    notifications: Sequence[Notification | Mapping[str, Any]],
    assessed_scopes: Collection[str],
    *,
    store: StateStore | None,
    channels: Sequence[str],
    send: Send,
    now: float,
    settings: LifecycleSettings,
    owner: str,
    log: Any,
    lease_ms: int = DEFAULT_LEASE_MS,
    allowed: Allowed | None = None,
    audience: Audience | None = None,
    muting: Muting | None = None,
    link: Link | None = None,
) -> ProcessResult:
    """Decide and deliver this run's notifications, de-duplicated through `store` when there is one.

    `notifications` are this run's findings (status firing); `assessed_scopes` the pool ids
    (and "job:<id>" for pool-less check jobs) whose ELB reads succeeded. `owner` must be unique per
    invocation (it names the leases). `send` is called at most once, never with an empty list; with
    no channels it is not called and the new notifications are still returned. `lease_ms` must cover
    the time `send` may take. `allowed` narrows the channels per record (an event's `"channels"`); a
    channel narrowed out stays owed and gets the notification on the next run that may use it.
    `audience` says which of the `channels` (the receivers) each notification goes to (None: all).
    `muting` says which receivers a time interval holds a notification for now (stage mute).
    `link` adds the action links to what is sent (stage link; the result and the store keep none).
    """
    unique = tuple(dict.fromkeys(channels))
    warnings: list[str] = []
    # Stage decide runs the lifecycle over the v1 records, the form the store keeps.
    records = _records(notifications)
    if store is None:
        return _without_state(
            records,
            channels=unique,
            send=send,
            why=NO_STORE,
            warnings=warnings,
            log=log,
            allowed=allowed,
            audience=audience,
            muting=muting,
        )
    run = _Pass(store, unique, send, now, settings, owner, log, lease_ms, allowed, audience)
    decided = _decide(run, records, set(assessed_scopes) | {scope_of(record) for record in records}, warnings)
    if isinstance(decided, ProcessResult):
        return decided
    return _hold_and_deliver(run, decided, warnings, muting, link)


def linked(
    typed: Mapping[str, Notification], decided: _Decided, link: Link | None
) -> dict[str, Notification]:
    """Stage link: each notification as sent, with the action links bound to its alert's sequence.

    Only the copies sent carry them: the result, the log and the store keep no token.
    """
    if link is None:
        return dict(typed)
    sent = {}
    for fingerprint, notification in typed.items():
        state = decided.final.states.get(fingerprint) or decided.fresh.states.get(fingerprint)
        sent[fingerprint] = notification if state is None else link(notification, state.sequence)
    return sent


def _hold_and_deliver(
    run: _Pass, decided: _Decided, warnings: list[str], muting: Muting | None, link: Link | None = None
) -> ProcessResult:
    """Stages silence, mute, link, route, deliver and record over what stage decide decided."""
    final = decided.final
    held_by = _silenced(run.store, final.outgoing, run.now, warnings, run.log)
    acked, cleared = _acknowledged(run, final, decided.fresh, warnings)
    typed = {
        item.fingerprint: Notification.of(
            {**item.record, "acknowledged": cleared[item.fingerprint].block()}
            if item.fingerprint in cleared
            else item.record
        )
        for item in final.outgoing
    }
    sent = linked(typed, decided, link)
    pairs = [(sent[item.fingerprint], channel) for item in final.outgoing for channel in item.channels]
    deliveries = _deliver(run.send, pairs, run.log, run.allowed, held_by, muting=muting, acked=acked)
    states = ledger(final, decided.fresh, deliveries, run.now)
    dedup = _save(run, states, decided, warnings)
    _drop_acks(run, cleared, warnings)
    if dedup:
        acks = {**{fp: ack for fp, (ack, _) in acked.items()}, **cleared}
        episodes = chronicle(states, decided.fresh.states, deliveries, held_by, run.now, acks=acks)
        _keep_episodes(run, episodes, warnings)
    busy_held, busy_deliveries = _busy(decided, run.log)
    muted, unsent = held_by_windows(final.outgoing, deliveries, states, muting)
    return ProcessResult(
        notifications=[
            typed[item.fingerprint]
            for item in final.outgoing
            if not {item.fingerprint}
            & (held_by.keys() | _all_acknowledged(final.outgoing, deliveries) | unsent)
        ],
        deliveries=[*deliveries, *busy_deliveries],
        dedup_available=dedup,
        warnings=warnings,
        held=[
            *final.held,
            *_held_by_silences(final.outgoing, held_by, states),
            *_held_by_acks(final.outgoing, acked, deliveries, states),
            *muted,
            *busy_held,
        ],
        unreadable=len(set(decided.loaded.warnings) | set(decided.fresh.warnings)),
    )


def _acknowledged(
    run: _Pass, final: Decision, fresh: Loaded, warnings: list[str]
) -> tuple[dict[str, tuple[Ack, frozenset[str]]], dict[str, Ack]]:
    """Stage acknowledge's inputs: the acks that hold an outgoing alert, and those it outgrew (to drop).

    The store is asked only when something is outgoing; without readable acks nothing is held.
    """
    if not final.outgoing:
        return {}, {}
    try:
        kept = run.store.acks()
    except StoreUnavailable as exc:
        warnings.append(f"acknowledgements unavailable, nothing is held by one this run: {exc.message}")
        run.log.warning("acks.unavailable", reason=exc.message)
        return {}, {}
    wanted = {item.fingerprint for item in final.outgoing}
    states = {
        fp: state for fp in wanted if (state := final.states.get(fp) or fresh.states.get(fp)) is not None
    }
    mine = [ack for ack in kept if ack.fingerprint in wanted]
    acked = {fp: (ack, told(states[fp])) for fp, ack in holding(mine, states).items()}
    for fingerprint, (ack, _) in acked.items():
        run.log.info("notification.acknowledged", fingerprint=fingerprint, by=ack.by)
    return acked, {ack.fingerprint: ack for ack in stale(mine, states)}


def _drop_acks(run: _Pass, cleared: Mapping[str, Ack], warnings: list[str]) -> None:
    """A changed or resolved alert clears its acknowledgement (the store forgets it)."""
    if not cleared:
        return
    try:
        run.store.unacknowledge(list(cleared))
    except StoreUnavailable as exc:  # it no longer holds anything anyway: the next run tries again
        warnings.append(f"acknowledgements not cleared: {exc.message}")
        run.log.warning("acks.unavailable", reason=exc.message)


def _by_notification(
    outgoing: Sequence[Outgoing], deliveries: Sequence[Mapping[str, Any]]
) -> list[tuple[Outgoing, Sequence[Mapping[str, Any]]]]:
    """Each outgoing notification with its deliveries (they are in the order of its channels)."""
    grouped, position = [], 0
    for item in outgoing:
        grouped.append((item, deliveries[position : position + len(item.channels)]))
        position += len(item.channels)
    return grouped


def _all_acknowledged(outgoing: Sequence[Outgoing], deliveries: Sequence[Mapping[str, Any]]) -> set[str]:
    """The notifications an acknowledgement kept from every receiver: not notified this run."""
    return {
        item.fingerprint
        for item, mine in _by_notification(outgoing, deliveries)
        if mine and all(entry.get("status") == ACKNOWLEDGED for entry in mine)
    }


def _held_by_acks(
    outgoing: Sequence[Outgoing],
    acked: Acked,
    deliveries: Sequence[Mapping[str, Any]],
    states: Mapping[str, AlertState],
) -> list[dict[str, Any]]:
    """The `held` entries of the acknowledged notifications: who acknowledged them, when, for whom."""
    held = []
    for item, mine in _by_notification(outgoing, deliveries):
        ack = acked[item.fingerprint][0] if item.fingerprint in acked else None
        receivers = [entry["receiver"] for entry in mine if entry.get("status") == ACKNOWLEDGED]
        if ack is not None and receivers:
            state = states.get(item.fingerprint)
            held.append(
                {
                    "fingerprint": item.fingerprint,
                    "scope": item.scope,
                    "state": state.state if state else "",
                    "why": ack.why(),
                    "acknowledged_by": ack.by,
                    "acknowledged_at": iso(ack.at),
                    "receivers": receivers,
                }
            )
    return held


def chronicle(
    states: Mapping[str, AlertState],
    previous: Mapping[str, AlertState],
    deliveries: Sequence[Mapping[str, Any]],
    held_by: Mapping[str, Silence],
    now: float,
    *,
    acks: Mapping[str, Ack] | None = None,
) -> list[Episode]:
    """Stage chronicle: the episode of each saved state whose history this run adds to.

    A state that is still firing as before (only seen again: nothing sent, nothing holds it, same
    failover state and cause) adds nothing, so a quiet run writes no history. `acks`: the
    acknowledgements this run held or cleared, by fingerprint (who acknowledged goes into the episode).
    """
    acks = acks or {}
    sent = {str(entry.get("fingerprint")) for entry in deliveries if entry.get("status") == "sent"}
    episodes = []
    for fingerprint, state in states.items():
        ack = acks.get(fingerprint)
        by = ack.by if ack is not None and ack.first_seen == state.first_seen else ""
        episode = episode_of(
            state, now=now, sent=fingerprint in sent, silence=held_by.get(fingerprint), acked_by=by
        )
        if episode is None:
            continue
        prev = previous.get(fingerprint)
        same = prev is not None and episode_of(prev, now=now, sent=False, acked_by=by) == episode
        if not same:
            episodes.append(episode)
    return episodes


def _keep_episodes(run: _Pass, episodes: list[Episode], warnings: list[str]) -> None:
    """Write the episodes to the store's history; a failure is one warning, never a lost alert."""
    if not episodes:
        return
    try:
        run.store.record_episodes(episodes, now=run.now, bounds=run.settings.history)
    except Exception as exc:  # noqa: BLE001 - the history is a record of what was sent: never a crash
        why = exc.message if isinstance(exc, StoreUnavailable) else type(exc).__name__
        warnings.append(f"history not kept this run: {why}")
        run.log.warning("history.unavailable", reason=why, episodes=len(episodes))


def held_by_windows(
    outgoing: Sequence[Outgoing],
    deliveries: Sequence[Mapping[str, Any]],
    states: Mapping[str, AlertState],
    muting: Muting | None,
) -> tuple[list[dict[str, Any]], set[str]]:
    """The `held` entries of stage mute, and the fingerprints it kept from every receiver.

    One entry per notification a window held for some receiver (which window, until when, for whom),
    and one per resolved notice nobody gets: every receiver's firing one was muted or silenced, never sent.
    """
    held: list[dict[str, Any]] = []
    unsent: set[str] = set()
    position = 0
    for item in outgoing:
        mine = deliveries[position : position + len(item.channels)]
        position += len(item.channels)
        state = states.get(item.fingerprint)
        muted = [entry for entry in mine if muting is not None and entry.get("status") == MUTED]
        base = {"fingerprint": item.fingerprint, "scope": item.scope, "state": state.state if state else ""}
        if muted:
            held.append(
                {
                    **base,
                    "why": muted[0]["error"],
                    "time_interval": muted[0]["time_interval"],
                    "muted_until": muted[0]["muted_until"],
                    "receivers": [entry["receiver"] for entry in muted],
                }
            )
            if len(muted) == len(mine):
                unsent.add(item.fingerprint)
        elif not mine and item.new and state is not None and _never_told(state):
            windowed = any(entry.status == MUTED for entry in state.deliveries.values())
            held.append({**base, "why": NEVER_TOLD if windowed else NEVER_TOLD_SILENCED})
            unsent.add(item.fingerprint)
    return held, unsent


NEVER_TOLD = "resolved while a time interval held it: it was never notified, so nothing is sent"
NEVER_TOLD_SILENCED = "resolved while a silence held it: it was never notified, so nothing is sent"


def _never_told(state: AlertState) -> bool:
    """A resolved state whose receivers' ledgers all say muted or silenced: nobody was told it fired."""
    entries = state.deliveries.values()
    return state.state == "resolved" and bool(entries) and all(entry.status in HELD_BACK for entry in entries)
