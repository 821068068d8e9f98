"""Watching one target: read the pool and the check job, poll the job, assess. I/O only via the reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handler.assess import assess_check_job, assess_pool, attach_check, member_state, watched_listeners
from handler.budget import Budget
from handler.domain import CheckVerdict, ElbApiError, Finding, Pool, Sweep, Target
from handler.elb import ElbReader
from handler.limits import MAX_NAME_CHARS
from handler.text import clip
from handler.threads import DeadlineExceeded, Pending, start

if TYPE_CHECKING:
    from handler.metrics import PoolSample

# ListMasterSlavePools calls one event may make over all its sweeps (2,000 pools each: 50,000 pools).
MAX_LIST_CALLS_PER_EVENT = 25


@dataclass(slots=True)
class TargetOutcome:
    """What watching one target produced: findings, API errors, and a summary for the result."""

    target: Target
    findings: list[Finding] = field(default_factory=list)
    errors: list[ElbApiError] = field(default_factory=list)
    pool: Pool | None = None
    verdict: CheckVerdict | None = None

    def summary(self) -> dict[str, Any]:
        """One entry of the result's `targets` list."""
        entry: dict[str, Any] = {"target": self.target.as_dict()}
        if self.pool is not None:
            master = next((m for m in self.pool.members if m.role.lower() == "master"), None)
            listeners = watched_listeners(self.pool, self.target.listener_id)
            entry["master"] = member_state(master, listeners).state if master else None
        if self.verdict is not None:
            entry["check"] = check_summary(self.verdict)
        entry["findings"] = [finding.kind for finding in self.findings]
        entry["status"] = "error" if self.errors else "assessed"
        return entry


def check_summary(verdict: CheckVerdict) -> str:
    """One word for a check job: passed, failed, incomplete, processing or job_failed."""
    if verdict.failed_groups:
        return "failed"
    if verdict.passed:
        return "passed"
    if verdict.job.status.lower() == "failed":
        return "job_failed"
    if verdict.incomplete_groups:
        return "incomplete"
    return verdict.job.status.lower() or "unknown"


def poll_check_job(
    reader: ElbReader, job_id: str, budget: Budget, log: Any, first_delay: float = 1.0
) -> CheckVerdict:
    """Read a check job until it is processed or failed, or the budget runs out; return what is known."""
    poll = 0
    while True:
        job = reader.show_check_job(job_id)
        verdict = assess_check_job(job)
        log.info(
            "check_job.progress",
            job_status=job.status,
            finished=job.finished,
            total=job.total,
            poll=poll,
        )
        if verdict.done:
            return verdict
        pause = budget.poll_pause(poll, first_delay)
        if pause <= 0 or not budget.wait(pause):
            return verdict
        poll += 1


def watch_target(
    target: Target, reader: ElbReader, budget: Budget, log: Any, poll_interval: float = 1.0
) -> TargetOutcome:
    """Read and assess one target. API errors become entries in the outcome, never exceptions.

    With both a pool and a job named, the pool is read while the job is polled: the two reads do not
    depend on each other, so the invocation waits for the slower one instead of for their sum.
    """
    outcome = TargetOutcome(target)
    pool_id, job_id = target.pool_id, target.job_id
    reading: Pending[Pool] | None = None
    if pool_id and job_id:
        # Waited for until the ELB work ends; the read's own bound is the same, so it runs in the worker.
        reading = start(lambda: reader.show_pool(pool_id), within=budget.remaining(), name="elb-pool-read")
    verdict: CheckVerdict | None = None
    job_error: ElbApiError | None = None
    if job_id:
        try:
            verdict = poll_check_job(reader, job_id, budget, log, poll_interval)
        except ElbApiError as error:
            job_error = error
    if pool_id:
        try:
            outcome.pool = reading.wait() if reading else reader.show_pool(pool_id)
        except DeadlineExceeded:
            outcome.errors.append(
                ElbApiError(
                    "WATCH.TIMEOUT",
                    f"read pool {pool_id}: no complete answer from ELB within the time budget",
                )
            )
        except ElbApiError as error:
            outcome.errors.append(error)
        else:
            outcome.findings = assess_pool(outcome.pool, target.listener_id, target)
    if job_error is not None:
        outcome.errors.append(job_error)
    elif verdict is not None:
        outcome.verdict = verdict
        outcome.findings = attach_check(outcome.findings, verdict, target, outcome.pool)
    return outcome


@dataclass(slots=True)
class SweepOutcome:
    """What sweeping a project produced: findings, errors, and how far the listing got."""

    sweep: Sweep
    findings: list[Finding] = field(default_factory=list)
    errors: list[ElbApiError] = field(default_factory=list)
    assessed_pool_ids: list[str] = field(default_factory=list)
    pages: int = 0
    complete: bool = False
    # Each pool's metrics (handler.metrics), kept only when asked for (ELB_WATCH_METRICS).
    samples: list[PoolSample] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """One entry of the result's `sweeps` list."""
        kinds: dict[str, int] = {}
        for finding in self.findings:
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
        return {
            "filters": self.sweep.filters(),
            "pools": len(self.assessed_pool_ids),
            "pages": self.pages,
            "findings": kinds,
            "diagnosed": sum(1 for f in self.findings if f.kind == "master_failed" and f.check is not None),
            "status": "assessed" if self.complete and not self.errors else "error",
        }


def _list_limit(outcome: SweepOutcome, pools: int) -> ElbApiError:
    return ElbApiError(
        "WATCH.LIST_LIMIT",
        f"ListMasterSlavePools: this event's list calls are used up (at most {MAX_LIST_CALLS_PER_EVENT} "
        f"per event), this sweep stopped after {outcome.pages} pages and {pools} pools; narrow the sweeps "
        "or split them over events",
    )


def _repeating(marker: str, outcome: SweepOutcome, pools: int, *, followed: bool) -> ElbApiError:
    why = "was already followed" if followed else "follows a page with no new pool"
    return ElbApiError(
        "ELB.MALFORMED_RESPONSE",
        f"ListMasterSlavePools: next_marker {clip(marker, MAX_NAME_CHARS)!r} {why}; the listing repeats, "
        f"stopped after {outcome.pages} pages and {pools} pools",
    )


def _measure() -> Callable[[Pool, list[Finding]], PoolSample]:
    """handler.metrics.pool_sample, imported only by runs that push metrics (cold start)."""
    from handler.metrics import pool_sample  # noqa: PLC0415

    return pool_sample


def sweep_pools(
    sweep: Sweep,
    reader: ElbReader,
    region: str,
    project_id: str,
    max_pages: int = MAX_LIST_CALLS_PER_EVENT,
    *,
    samples: bool = False,
) -> SweepOutcome:
    """List every pool the sweep matches, page by page, assessing each page from the list itself.

    No per-pool read: the list response carries the members. Pages are dropped once assessed, so
    memory stays flat however large the fleet. At most `max_pages` list calls (what the event has
    left of MAX_LIST_CALLS_PER_EVENT); then WATCH.LIST_LIMIT, the pools read so far still assessed.
    `samples`: keep each pool's metrics too (a few numbers a pool, not the page).
    """
    outcome = SweepOutcome(sweep)
    marker: str | None = None
    # Pagination guard: a next_marker already followed, or a page with no pool not yet read, means
    # the listing repeats or cycles; stop there (at most one extra call) instead of spending the
    # budget re-reading it. Pool ids are deduplicated, so `pools` counts each pool once.
    seen_markers: set[str] = set()
    seen_ids: set[str] = set()
    measure = _measure() if samples else None
    while True:
        if outcome.pages >= max_pages:
            outcome.errors.append(_list_limit(outcome, len(seen_ids)))
            return outcome
        try:
            page = reader.list_pools_page(sweep, marker)
        except ElbApiError as error:
            outcome.errors.append(error)
            return outcome
        outcome.pages += 1
        new_pools = 0
        for pool in page.pools:
            if pool.id not in seen_ids:
                seen_ids.add(pool.id)
                new_pools += 1
                outcome.assessed_pool_ids.append(pool.id)
                target = Target(pool_id=pool.id, region=region, project_id=project_id)
                found = assess_pool(pool, None, target)
                outcome.findings.extend(found)
                if measure is not None:
                    outcome.samples.append(measure(pool, found))
        if page.next_marker is None:
            outcome.complete = True
            return outcome
        followed = page.next_marker in seen_markers
        if followed or new_pools == 0:
            outcome.errors.append(_repeating(page.next_marker, outcome, len(seen_ids), followed=followed))
            return outcome
        seen_markers.add(page.next_marker)
        marker = page.next_marker
