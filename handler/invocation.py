"""The use case: watch the event's targets and sweeps, diagnose failed masters, notify, report.

`Invocation` holds one invocation's state; `handler.app` (the composition root) builds its wiring,
runs it and returns its result.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from handler import logs
from handler.budget import Budget, work_budget
from handler.config import (
    Settings,
    credentials_problem,
    remaining_ms,
    request_id,
    resolve_credentials,
    resolve_project_id,
)
from handler.domain import CheckVerdict, ElbApiError, Finding, Notification, Sweep, Target
from handler.elb import ElbGateway, import_sdk, region_problem
from handler.events import ParsedEvent, parse_event
from handler.lifecycle import job_scope, scope_of
from handler.limits import bound_result, compact_record
from handler.notify import build
from handler.pipeline import process
from handler.result import RunResult, api_error_entry, error_entry
from handler.state import StateStore, StoreUnavailable
from handler.state.bounded import bounded
from handler.state.memory import MemoryStore
from handler.watch import TargetOutcome, sweep_pools, watch_target
from handler.wiring import WARM, Wiring

# Without a platform deadline (a local call), an invocation may take this long.
DEFAULT_TIMEOUT_MS = 30_000
# Kept after the deliveries for the summary log line and returning the result.
DELIVERY_MARGIN_SECONDS = 0.5
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


class Invocation:
    """One invocation as it runs: watch the targets and sweeps, then notify (the use case)."""

    def __init__(self, context: Any, env: Mapping[str, str], settings: Settings, wiring: Wiring) -> None:
        """Start the invocation's one deadline, bound the store to it, and register its secrets."""
        self.context = context
        self.env = env
        self.settings = settings
        self.wall_clock = wiring.wall_clock
        self.log = logs.logger()
        platform_ms = remaining_ms(context)
        remaining = DEFAULT_TIMEOUT_MS if platform_ms is None else platform_ms
        # The one deadline of the invocation: ELB work ends a reserve before it, every other wait by it.
        self.budget = Budget(work_budget(remaining, settings.reserve), total=remaining / 1000)
        self.platform_deadline = self.budget.deadline()
        # Every store call takes a slice of what is left and keeps half the reserve for sending.
        keep = min(settings.reserve, remaining / 4000) / 2
        # The instance's own SQLite file (local disk, waits cut by limit_wait) runs in this thread.
        store = bounded(wiring.store, self.budget, keep=keep, inline=wiring.store_kind == "instance")
        # Where the watcher's own alerts are kept while this store is down (none for a dry run).
        self.own = None if wiring.dry_run or wiring.store is None else WARM.own_states(wiring.store)
        self.wiring = wiring = replace(wiring, store=store)
        # What this run assessed (pool ids, "job:<id>"), and where each record may be delivered.
        self.scopes: set[str] = set()
        self.allowed: dict[str, tuple[str, ...] | None] = {}
        self.allowed_by_scope: dict[str, tuple[str, ...] | None] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.undelivered: list[dict[str, Any]] = []
        self.dedup = "off"
        # The findings this run observed, then the notifications the pipeline sent (or held) of them.
        self.observed: list[Notification] = []
        self.notified: list[Notification] = []
        self.errors: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.sweeps: list[dict[str, Any]] = []
        self.incomplete_jobs: set[str] = set()
        self.credentials = resolve_credentials(context, env)
        self.gateways: dict[tuple[str, str], ElbGateway] = {}
        self.secrets = (
            *(self.credentials.secrets() if self.credentials else ()),
            *wiring.secrets,
        )
        logs.set_secrets(self.secrets)

    def fail(self, entry: dict[str, Any], event: str = "watch.error") -> None:
        """Record an error entry in the result and log it once."""
        self.errors.append(entry)
        self.log.error(event, **{k: v for k, v in entry.items() if v is not None})

    def gateway_for(
        self, region_hint: str | None, project_hint: str | None, where: dict[str, Any]
    ) -> tuple[ElbGateway | None, str, str]:
        """The gateway for a region and project, or None after reporting what configuration is missing."""
        region = region_hint or self.settings.region or ""
        project_id = resolve_project_id(project_hint, self.context, self.env) or ""
        # Every missing piece at once, so one run tells the whole fix.
        problems: list[tuple[str, str]] = []
        if not region:
            problems.append(("CONFIG.REGION", "no region: put 'region' in the event or set ELB_WATCH_REGION"))
        else:
            wrong = region_problem(region)
            if wrong is not None:
                problems.append(("CONFIG.REGION", wrong))
        if not project_id:
            problems.append(
                (
                    "CONFIG.PROJECT_ID",
                    "no project id: put 'project_id' in the event, or set HUAWEICLOUD_SDK_PROJECT_ID",
                )
            )
        if self.credentials is None:
            problems.append(("CONFIG.CREDENTIALS", credentials_problem(self.context, self.env)))
        if problems:
            for code, message in problems:
                self.fail(error_entry(code, message, target=where))
            return None, region, project_id
        assert self.credentials is not None  # noqa: S101 - checked just above; narrows the type
        key = (region, project_id)
        if key not in self.gateways:
            self.gateways[key] = ElbGateway(
                region=region,
                project_id=project_id,
                credentials=self.credentials,
                settings=self.settings,
                budget=self.budget,
                clients=WARM.elb_clients,
            )
        return self.gateways[key], region, project_id

    def diagnose(
        self, findings: list[Finding], gateway: ElbGateway
    ) -> tuple[list[Finding], list[ElbApiError]]:
        """Diagnose the failed masters among `findings` (diagnosis is imported only by runs that get here)."""
        from handler.diagnose import DiagnoseOptions, diagnose_all  # noqa: PLC0415 - see the docstring

        options = DiagnoseOptions(
            enabled=self.settings.diagnose,
            ttl=self.settings.diagnose_ttl,
            concurrency=self.settings.concurrency,
            poll_interval=self.settings.poll_interval,
            memo=self.wiring.store,
        )
        return diagnose_all(findings, gateway, self.budget, self.log, options=options, jobs=WARM.started_jobs)

    def watch(self, target: Target) -> None:
        """Watch one named pool and/or job, diagnosing a failed master when no job was named."""
        where = target.as_dict()
        gateway, region, project_id = self.gateway_for(target.region, target.project_id, where)
        if gateway is None:
            self.targets.append({"target": where, "status": "error", "findings": []})
            return
        with logs.bound(pool_id=target.pool_id, job_id=target.job_id):
            outcome: TargetOutcome = watch_target(
                target, gateway, self.budget, self.log, self.settings.poll_interval
            )
            if target.job_id is None:
                outcome.findings, diagnosis_errors = self.diagnose(outcome.findings, gateway)
                outcome.errors.extend(diagnosis_errors)
            for error in outcome.errors:
                self.fail(api_error_entry(where, error), "elb.error")
            if outcome.pool is not None:
                self.scopes.add(outcome.pool.id)
                self.allowed_by_scope[outcome.pool.id] = target.channels
            if outcome.verdict is not None:
                self.scopes.add(job_scope(outcome.verdict.job.job_id or target.job_id or ""))
            self.publish(outcome.findings, region, project_id, target.channels)
            self.report_incomplete([outcome.verdict] if outcome.verdict else [], where)
            summary = outcome.summary()
            self.targets.append(summary)
            self.log.info("target.assessed", **summary)

    def sweep(self, sweep: Sweep) -> None:
        """Assess every pool a sweep matches from the list itself; diagnose the failed masters."""
        where: dict[str, Any] = {"sweep": sweep.filters()}
        gateway, region, project_id = self.gateway_for(sweep.region, sweep.project_id, where)
        if gateway is None:
            self.sweeps.append({"filters": sweep.filters(), "status": "error", "pools": 0})
            return
        with logs.bound(sweep=sweep.filters()):
            outcome = sweep_pools(sweep, gateway, region, project_id)
            findings, diagnosis_errors = self.diagnose(outcome.findings, gateway)
            outcome.findings = findings
            for error in outcome.errors:
                self.fail(api_error_entry(where, error), "elb.error")
            for error in diagnosis_errors:
                self.fail(api_error_entry(where, error), "diagnosis.error")
            self.scopes.update(outcome.assessed_pool_ids)
            self.publish(findings, region, project_id, sweep.channels)
            summary = outcome.summary()
            self.sweeps.append(summary)
            self.log.info("sweep.assessed", **summary)

    def publish(
        self, findings: list[Finding], region: str, project_id: str, channels: tuple[str, ...] | None
    ) -> None:
        """Turn findings into notifications; the pipeline decides later which of them are sent."""
        observed = datetime.fromtimestamp(self.wall_clock(), timezone.utc)
        observed_at = observed.isoformat(timespec="seconds").replace("+00:00", "Z")
        for finding in findings:
            notification = build(
                finding,
                region=region,
                project_id=project_id,
                observed_at=observed_at,
                locale=self.settings.locale,
            )
            self.observed.append(notification)
            self.allowed[notification.fingerprint] = channels
        for finding in findings:
            if finding.check is not None:
                self.report_incomplete([finding.check], finding.target.as_dict())

    def watcher_records(self, problems: list[Any]) -> list[dict[str, Any]]:
        """The watcher_error records of this run's problems (see handler.watcher_error)."""
        from handler.watcher_error import watcher_record  # noqa: PLC0415 - only when something is wrong

        observed = datetime.fromtimestamp(self.wall_clock(), timezone.utc)
        observed_at = observed.isoformat(timespec="seconds").replace("+00:00", "Z")
        project_id = resolve_project_id(None, self.context, self.env) or ""
        return [
            watcher_record(
                problem,
                region=self.settings.region or "",
                project_id=project_id,
                observed_at=observed_at,
                locale=self.settings.locale,
            )
            for problem in problems
        ]

    def notify(self) -> None:
        """Decide what to notify, send it to the channels, and log one line per notification.

        The lifecycle says what is due (first, changed, repeat, resolved), de-duplicated through the
        store when there is one. The watcher's own errors go through it as watcher_error records, one
        per component and scope: those known before sending in the same pass, a failed store or every
        channel failing in a second pass after it (handler.watcher_error). While the store is down that
        pass keeps its states in the warm instance (handler.state.memory), written back once it works.
        """
        from handler import watcher_error as watcher  # noqa: PLC0415 - light, pure

        elb_found, elb_judged = watcher.elb_problems(gateway.health() for gateway in self.gateways.values())
        problems = [*watcher.problems_in(self.errors), *elb_found]
        self.observed += [Notification.of(record) for record in self.watcher_records(problems)]
        self.scopes.update({watcher.SCOPE_CONFIG, *elb_judged})
        if self.targets or self.sweeps:
            self.scopes.add(watcher.SCOPE_SETUP)
        own = self.own
        if self.wiring.store is not None:
            self.scopes.add(watcher.SCOPE_STORE)
            self.restore_own_states(own)
        outcome = self.lifecycle(self.observed, self.scopes, self.wiring.store)
        self.notified = outcome.notifications
        self.deliveries = outcome.deliveries
        self.held = outcome.held
        self.undelivered = outcome.lost
        if self.wiring.store is not None:
            self.dedup = self.wiring.store_kind if outcome.dedup_available else "unavailable"
            if outcome.dedup_available and outcome.unreadable:
                # Some stored states could not be read: their findings were decided as new.
                self.dedup = "partial"
        late = [
            problem
            for problem in (
                watcher.delivery_problem(outcome.deliveries, [c.name for c in self.wiring.channels]),
                watcher.store_problem(outcome.warnings) if self.wiring.store is not None else None,
            )
            if problem is not None
        ]
        # Judging delivery needs a store to remember an earlier WATCH.CHANNELS; after a store failure
        # the second pass uses the warm instance's memory rather than wait for the broken store again.
        usable = self.wiring.store if outcome.dedup_available else own
        tried = usable is not None and any(d.get("status") in {"sent", "failed"} for d in outcome.deliveries)
        if late or tried:
            scopes = {watcher.SCOPE_DELIVERY} if tried else set()
            second = self.lifecycle(self.watcher_records(late), scopes, store=usable)
            self.notified += second.notifications
            self.deliveries += second.deliveries
            self.held += second.held
            self.undelivered += second.lost
        for notification in self.notified:
            pool, check = notification.pool or {}, notification.check or {}
            with logs.bound(pool_id=pool.get("id"), job_id=check.get("job_id")):
                self.log.warning("notification", **compact_record(notification.to_record()))

    def restore_own_states(self, own: MemoryStore | None) -> None:
        """Write the watcher alerts kept while the store was down to the store, once it answers again.

        A state the store holds a newer version of is left alone; written, the warm copies are dropped,
        and this run's decision (the store is judged healthy when it works) resolves them there.
        """
        store = self.wiring.store
        if own is None or store is None or not own:
            return
        kept = own.take()
        try:
            stored = store.load({state.scope for state in kept}).states
            newer = [
                s
                for s in kept
                if s.fingerprint not in stored or stored[s.fingerprint].last_seen < s.last_seen
            ]
            if newer:
                store.save(newer)
        except StoreUnavailable as exc:
            self.log.info("state.own_kept", reason=exc.message, states=len(kept))
            return
        own.forget(state.fingerprint for state in kept)
        self.log.info("state.own_restored", states=len(newer))

    def lifecycle(
        self, records: Sequence[Notification | Mapping[str, Any]], scopes: set[str], store: StateStore | None
    ) -> Any:
        """One pass of the notification pipeline (handler.pipeline) over records in the assessed scopes."""
        channels = {channel.name: channel for channel in self.wiring.channels}
        return process(
            records,
            scopes,
            store=store,
            channels=list(channels),
            send=(
                (lambda pairs: self.dry_send(pairs, channels))
                if self.wiring.dry_run
                else (lambda pairs: self.send(pairs, channels))
            ),
            now=self.wall_clock(),
            settings=self.wiring.lifecycle,
            owner=f"{request_id(self.context) or 'local'}:{uuid.uuid4().hex}",
            log=self.log,
            lease_ms=lease_ms(self.platform_deadline - time.monotonic()),
            allowed=self.allowed_channels,
        )

    def allowed_channels(self, notification: Notification) -> tuple[str, ...] | None:
        """The channels the event lets this notification use (None: every configured channel)."""
        if notification.fingerprint in self.allowed:
            return self.allowed[notification.fingerprint]
        return self.allowed_by_scope.get(scope_of(notification.to_record()))

    def send(
        self, pairs: list[tuple[Notification, str]], channels: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The pipeline's deliver stage: group, pace (with the store's send history) and send the pairs."""
        from handler.channels import DeliveryContext, dispatch  # noqa: PLC0415 - only when there is something to send

        context = DeliveryContext(
            deadline=self.platform_deadline - DELIVERY_MARGIN_SECONDS,
            locale=self.settings.locale,
            credentials=self.credentials,
            project_id=resolve_project_id(None, self.context, self.env) or "",
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            max_attempts=self.settings.max_attempts,
            retry_base=self.settings.retry_base,
            sdk_clients=WARM.smn_clients,
        )
        names = list(dict.fromkeys(name for _, name in pairs))
        pacers = self.pacers(names, context)
        try:
            # The channels' payloads are an edge: each renders the v1 record.
            deliveries: list[dict[str, Any]] = dispatch(
                [(notification.to_record(), channels[name]) for notification, name in pairs],
                context,
                self.log,
                group_threshold=self.wiring.group_threshold,
                pacers=pacers,
            )
        finally:
            self.keep_pace(pacers)
        return deliveries

    def dry_send(
        self, pairs: list[tuple[Notification, str]], channels: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """`--dry-run`'s deliver stage: plan and render each channel's messages exactly, send nothing."""
        from handler.channels.delivery import plan  # noqa: PLC0415 - only when there is something to show

        converted = [(notification.to_record(), name) for notification, name in pairs]
        lanes: dict[str, list[dict[str, Any]]] = {}
        for record, name in converted:
            lanes.setdefault(name, []).append(record)
        answers: dict[tuple[str, int], Mapping[str, Any]] = {}
        for name, records in lanes.items():
            threshold = self.wiring.group_threshold
            units = plan(channels[name], records, locale=self.settings.locale, group_threshold=threshold)
            for unit in units:
                for rendered in unit.records:
                    entry: dict[str, Any] = {
                        "fingerprint": rendered.get("fingerprint"),
                        "channel": name,
                        "status": "dry_run" if unit.payload is not None else "failed",
                        "attempts": 0,
                        "error": "dry run: rendered, not sent" if unit.payload is not None else unit.error,
                    }
                    if unit.digest is not None:
                        entry["digest"] = dict(unit.digest)
                    answers[(name, id(rendered))] = entry
        self.log.info("delivery.dry_run", messages=len(pairs))
        return [dict(answers[(name, id(record))]) for record, name in converted]

    def pacers(self, names: list[str], context: Any) -> dict[str, Any]:
        """One pacer per channel, carrying the send history earlier invocations left in the store."""
        from handler.channels.delivery import rate_limits  # noqa: PLC0415 - only when sending
        from handler.channels.pacing import Pacer, decode_history  # noqa: PLC0415 - only when sending

        pacers = {}
        for name in names:
            limits = rate_limits(name)
            history: list[float] = []
            if limits and self.wiring.store is not None:
                with contextlib.suppress(StoreUnavailable):
                    history = decode_history(self.wiring.store.recall(f"pace:{name}"))
            pacers[name] = Pacer(limits, history=history, wall_clock=context.wall_clock)
        return pacers

    def keep_pace(self, pacers: Mapping[str, Any]) -> None:
        """Leave each channel's recent sends in the store, so the next invocation stays within the limits."""
        from handler.channels.pacing import encode_history  # noqa: PLC0415 - only when sending

        if self.wiring.store is None:
            return
        for name, pacer in pacers.items():
            history = pacer.history()
            if history:
                with contextlib.suppress(StoreUnavailable):
                    self.wiring.store.remember(f"pace:{name}", encode_history(history), pacer.horizon)

    def report_incomplete(self, verdicts: list[CheckVerdict], where: dict[str, Any]) -> None:
        """One error entry per check job that was still running when time ran out."""
        for verdict in verdicts:
            job = verdict.job
            if verdict.done or job.job_id in self.incomplete_jobs:
                continue
            self.incomplete_jobs.add(job.job_id)
            self.fail(
                error_entry(
                    "WATCH.CHECK_JOB_INCOMPLETE",
                    f"check job {job.job_id} still {job.status or 'processing'} after "
                    f"{self.budget.elapsed():.1f} s ({job.finished}/{job.total} items); "
                    "reported what was known",
                    target=where,
                ),
                "check_job.incomplete",
            )

    def run(self, event: Any, config_error: str | None) -> ParsedEvent:
        """The use case: report bad settings, read the event, watch, sweep, notify; the parsed event."""
        parsed = ParsedEvent("unknown")
        for channel_problem in self.wiring.channel_problems:
            self.fail(error_entry("CONFIG.INVALID", channel_problem), "config.invalid")
        if self.wiring.store_error is not None:
            self.fail(error_entry("CONFIG.INVALID", self.wiring.store_error, where="ELB_WATCH_STATE"))
        if config_error is not None:
            self.fail(error_entry("CONFIG.INVALID", config_error))
            self.notify()
            return parsed
        parsed = parse_event(event)
        if parsed.targets or parsed.sweeps:
            import_sdk()  # here, at a shallow stack depth: see import_sdk
        for problem in parsed.errors:
            self.fail(
                error_entry("EVENT.INVALID", f"{problem.where} {problem.message}", where=problem.where),
                "event.invalid",
            )
        for target in parsed.targets:
            self.watch(target)
        for sweep in parsed.sweeps:
            self.sweep(sweep)
        self.notify()
        return parsed

    def result(self, parsed: ParsedEvent) -> dict[str, Any]:
        """The v1 result of this run: scrubbed of every secret and kept within the platform's limits."""
        result = RunResult(
            source=parsed.source,
            dry_run=self.wiring.dry_run,
            notifications=[notification.to_record() for notification in self.notified],
            errors=self.errors,
            targets=self.targets,
            sweeps=self.sweeps,
            deliveries=self.deliveries,
            deduplication=self.dedup,
            held=self.held,
            undelivered=self.undelivered,
        )
        return bound_result(logs.scrub(result.to_dict(), self.secrets))

    def summarize(self, parsed: ParsedEvent, result: Mapping[str, Any], started: float) -> None:
        """The one canonical summary line of the invocation."""
        self.log.info(
            "invocation.done",
            source=parsed.source,
            ok=result["ok"],
            targets=len(parsed.targets),
            sweeps=len(parsed.sweeps),
            notifications=len(self.notified),
            held=len(self.held),
            deliveries_failed=sum(1 for d in self.deliveries if d.get("status") == "failed"),
            deduplication=self.dedup,
            errors=len(self.errors),
            api_calls=sum(gateway.calls for gateway in self.gateways.values()),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
