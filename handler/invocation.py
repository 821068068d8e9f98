"""The use case: one invocation as its stages, in order, over values.

    settings  the unusable settings, each an error (and a watcher_error); their defaults are used
    parse     the event → targets and sweeps (handler.events)
    read      per region/project scope: read ELB → assess → diagnose (handler.reading), then the
              tags of the findings' load balancers when a route matches on `tag` (handler.tags)
    publish   findings → notifications, with the channels the event allows (handler.notifying)
    route     each finding to the receivers of the routes its pool matches (handler.routing)
    decide    the lifecycle against the store, the watcher's own problems with them; then hold
              (silences), route (the event's channels), pace and deliver (handler.sending), record
              the ledger (handler.pipeline, through handler.notifying)
    metrics   with ELB_WATCH_METRICS on, the run's and each pool's metrics to Cloud Eye, after delivery
              (handler.metrics, handler.ces): a failed push is a warning, never a lost alert
    result    the v1 result, scrubbed and bounded, and the one summary line

`run` lists them; each stage takes the run's fixed context (`RunContext`, frozen) and the values the
earlier stages returned, and returns new ones. The warm instance's caches (SDK clients, stores,
started jobs) are in the wiring (`handler.wiring`, the composition root's); `handler.app` builds it,
calls `start` and `run`, and returns the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from handler import logs
from handler.budget import Budget, work_budget
from handler.config import Settings, remaining_ms, resolve_credentials
from handler.domain import CHANNEL_NAMES
from handler.elb import import_sdk
from handler.events import ParsedEvent, known_channels, parse_event
from handler.limits import bound_result
from handler.notifying import Notified, notify, publish, route_findings
from handler.reading import Logged, Reading, errors_of, read
from handler.result import RunResult, error_entry
from handler.run_context import RunContext
from handler.state.bounded import bounded
from handler.wiring import WARM, Wiring

# Without a platform deadline (a local call), an invocation may take this long.
DEFAULT_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run did: the event it read, its errors, what it read of ELB, what it notified."""

    parsed: ParsedEvent
    errors: tuple[dict[str, Any], ...]
    reading: Reading
    notified: Notified


def start(
    context: Any, env: Mapping[str, str], settings: Settings, wiring: Wiring
) -> tuple[RunContext, Wiring]:
    """Start the invocation's one deadline, bound the store to it, and register its secrets."""
    platform_ms = remaining_ms(context)
    remaining = DEFAULT_TIMEOUT_MS if platform_ms is None else platform_ms
    # The one deadline of the invocation: ELB work ends a reserve before it, every other wait by it.
    budget = Budget(work_budget(remaining, settings.reserve), total=remaining / 1000)
    # Every store call takes a slice of what is left and keeps half the reserve for sending.
    keep = min(settings.reserve, remaining / 4000) / 2
    # The instance's own SQLite file (local disk, waits cut by limit_wait) runs in this thread.
    store = bounded(wiring.store, budget, keep=keep, inline=wiring.store_kind == "instance")
    credentials = resolve_credentials(context, env)
    secrets = (*(credentials.secrets() if credentials else ()), *wiring.secrets)
    logs.set_secrets(secrets)
    fixed = RunContext(
        platform=context,
        env=env,
        settings=settings,
        budget=budget,
        deadline=budget.deadline(),
        log=logs.logger(),
        secrets=secrets,
        credentials=credentials,
        clock=wiring.wall_clock,
        own_states=None if wiring.dry_run or wiring.store is None else WARM.own_states(wiring.store),
    )
    return fixed, replace(wiring, store=store)


def run(event: Any, config_error: str | None, context: RunContext, wiring: Wiring) -> Outcome:
    """The use case: its stages in order (see the module docstring)."""
    settings_errors = unusable_settings(wiring, config_error)
    parsed = ParsedEvent("unknown") if config_error is not None else parse_event(event)
    parsed = known_channels(parsed, {*CHANNEL_NAMES, *wiring.receivers.names})
    if parsed.targets or parsed.sweeps:
        import_sdk()  # here, at a shallow stack depth: see import_sdk
    reading = read(
        [*parsed.targets, *parsed.sweeps],
        context,
        wiring.store,
        wants_tags=wiring.receivers.wants_tags,
        dry_run=wiring.dry_run,
    )
    errors = logged(
        [*settings_errors, *event_errors(parsed), *errors_of(reading.watched), *reading.errors], context.log
    )
    published = route_findings(publish(reading, context), wiring.receivers, reading.tags)
    notified = notify(published, errors, reading, context, wiring)
    errors += logged(report_metrics(parsed, reading, (errors, notified), context, wiring), context.log)
    return Outcome(parsed, tuple(errors), reading, notified)


def report_metrics(
    parsed: ParsedEvent,
    reading: Reading,
    done: tuple[Sequence[Mapping[str, Any]], Notified],
    context: RunContext,
    wiring: Wiring,
) -> list[Logged]:
    """Stage metrics: a watch run's metrics to Cloud Eye (ELB_WATCH_METRICS); its METRICS.UNAVAILABLE entry.

    `done`: the run's error entries so far and what it notified. A dry run pushes nothing, and nor
    does a run whose event asked for no watch (no target, no sweep).
    """
    namespace = context.settings.metrics_namespace
    if namespace is None or wiring.dry_run or not (parsed.targets or parsed.sweeps):
        return []
    from handler import ces, metrics  # noqa: PLC0415 - only runs that push metrics pay

    errors, notified = done
    counts = metrics.RunCounts(
        errors=len(errors), sent=sum(1 for d in notified.deliveries if d.get("status") == "sent")
    )
    samples = metrics.measurable(sample for item in reading.watched for sample in item.samples)
    points = metrics.data_points(samples, counts, function_name(context))
    collect_ms = int(context.clock() * 1000)
    batches = metrics.batches(metrics.wire_item(p, namespace, collect_ms) for p in points)
    scopes = [(item.placed.region, item.placed.project_id) for item in reading.watched]
    where = ces.home(context, scopes)
    return ces.push(batches, metrics.point_count(samples), context, where, WARM.ces_clients)


def function_name(context: RunContext) -> str:
    """The function's name (FunctionGraph's context, else its RUNTIME_FUNC_NAME), or "" outside it."""
    getter = getattr(context.platform, "getFunctionName", None)
    name = ""
    if callable(getter):
        try:
            name = getter()
        except Exception:  # noqa: BLE001 - a broken context must not break the invocation
            name = ""
    if not isinstance(name, str) or not name.strip():
        name = context.env.get("RUNTIME_FUNC_NAME", "")
    return name.strip()


def unusable_settings(wiring: Wiring, config_error: str | None) -> list[Logged]:
    """Stage settings: every setting that could not be used, and any problem that stops the watch.

    A setting in `wiring.setting_problems` fell back to its default and the run goes on; `config_error`
    stops it.
    """
    found: list[Logged] = [
        ("config.invalid", error_entry("CONFIG.INVALID", problem))
        for problem in (*wiring.setting_problems, *wiring.channel_problems)
    ]
    if wiring.store_error is not None:
        found.append(
            ("watch.error", error_entry("CONFIG.INVALID", wiring.store_error, where="ELB_WATCH_STATE"))
        )
    if config_error is not None:
        found.append(("watch.error", error_entry("CONFIG.INVALID", config_error)))
    return found


def event_errors(parsed: ParsedEvent) -> list[Logged]:
    """Stage parse's errors: what of the event could not be read, and where."""
    return [
        ("event.invalid", error_entry("EVENT.INVALID", f"{p.where} {p.message}", where=p.where))
        for p in parsed.errors
    ]


def logged(errors: Sequence[Logged], log: Any) -> list[dict[str, Any]]:
    """The error entries, each logged once (at warning level for an entry of `severity` warning)."""
    for event, entry in errors:
        emit = log.warning if entry.get("severity") == "warning" else log.error
        emit(event, **{key: value for key, value in entry.items() if value is not None})
    return [entry for _, entry in errors]


def result(outcome: Outcome, context: RunContext, wiring: Wiring) -> dict[str, Any]:
    """Stage result: the run's v1 result, scrubbed of every secret and kept within the platform's limits."""
    watched, notified = outcome.reading.watched, outcome.notified
    value = RunResult(
        source=outcome.parsed.source,
        dry_run=wiring.dry_run,
        notifications=[notification.to_record() for notification in notified.notifications],
        errors=list(outcome.errors),
        targets=[item.summary for item in watched if not item.is_sweep],
        sweeps=[item.summary for item in watched if item.is_sweep],
        deliveries=list(notified.deliveries),
        deduplication=notified.dedup,
        held=list(notified.held),
        undelivered=list(notified.undelivered),
    )
    answer = value.to_dict()
    if wiring.dry_run:  # the check jobs auto-diagnosis would have started (none was)
        answer["would_start"] = [job for item in watched for job in item.would_start]
    return bound_result(logs.scrub(answer, context.secrets))


def summarize(outcome: Outcome, answer: Mapping[str, Any], context: RunContext, duration_ms: int) -> None:
    """The one canonical summary line of the invocation."""
    notified = outcome.notified
    context.log.info(
        "invocation.done",
        source=outcome.parsed.source,
        ok=answer["ok"],
        targets=len(outcome.parsed.targets),
        sweeps=len(outcome.parsed.sweeps),
        notifications=len(notified.notifications),
        held=len(notified.held),
        deliveries_failed=sum(1 for d in notified.deliveries if d.get("status") == "failed"),
        deduplication=notified.dedup,
        errors=len(outcome.errors),
        api_calls=outcome.reading.api_calls,
        duration_ms=duration_ms,
    )
