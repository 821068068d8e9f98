"""Auto-diagnosis: when a master fails and no check job was named, start one and read its reasons."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from handler.assess import assess_check_job
from handler.budget import Budget
from handler.domain import CheckVerdict, ElbApiError, Finding
from handler.elb import ElbReader
from handler.started_jobs import JobMemo, StartedJobs
from handler.threads import DaemonExecutor


@dataclass(frozen=True, slots=True)
class DiagnoseOptions:
    """How diagnosis behaves: on or off, how long a started job is reused, how many run at once."""

    enabled: bool = True
    ttl: float = 900.0
    concurrency: int = 8
    poll_interval: float = 1.0
    memo: JobMemo | None = None
    # --dry-run: start no job (a job already started inside the TTL is still read); list what would start.
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Diagnosed:
    """What diagnosis gave: the findings (with their check verdicts), its errors, the jobs a dry run skipped.

    `would_start` has one entry per check job a dry run did not start: `pool_id`, `member_id`,
    `listener_id` (the result's `would_start`).
    """

    findings: list[Finding]
    errors: list[ElbApiError]
    would_start: list[dict[str, str]]


def diagnosis_listener(finding: Finding) -> str | None:
    """The listener to check: the first one the master failed on, else the pool's first listener."""
    if finding.master is not None:
        failed = [listener for listener in finding.master.failed_listeners if listener]
        if failed:
            return failed[0]
    if finding.pool is not None and finding.pool.listener_ids:
        return finding.pool.listener_ids[0]
    return None


def needs_diagnosis(finding: Finding) -> bool:
    """A failed master whose notification has no check job yet."""
    return finding.kind == "master_failed" and finding.check is None and finding.master is not None


@dataclass(slots=True)
class _Diagnosis:
    """One failed master being diagnosed: which job, and what it says so far."""

    index: int
    member_id: str
    listener_id: str
    job_id: str | None = None
    reused: bool = False
    verdict: CheckVerdict | None = None
    error: ElbApiError | None = None
    would_start: bool = False


def _start(
    item: _Diagnosis,
    reader: ElbReader,
    log: Any,
    options: DiagnoseOptions,
    jobs: StartedJobs,
    *,
    reuse: bool = True,
) -> None:
    """Reuse the job started for this member and listener inside the TTL (if `reuse`), or start one."""
    item.job_id = jobs.recall(item.member_id, item.listener_id, options.ttl, options.memo) if reuse else None
    if item.job_id is not None:
        item.reused = True
        log.info(
            "diagnosis.reuse",
            member_id=item.member_id,
            listener_id=item.listener_id,
            check_job_id=item.job_id,
        )
        return
    if options.dry_run:
        item.would_start = True
        log.info("diagnosis.would_start", member_id=item.member_id, listener_id=item.listener_id)
        return
    try:
        item.job_id = reader.create_check_job(item.member_id, item.listener_id)
    except ElbApiError as error:
        if error.status == 403:
            error.message += f"; {DENIED_HINT}"
        item.error = error
        return
    jobs.remember(item.member_id, item.listener_id, item.job_id, options.ttl, options.memo)
    log.info(
        "diagnosis.started", member_id=item.member_id, listener_id=item.listener_id, check_job_id=item.job_id
    )


DENIED_HINT = (
    "auto-diagnosis may not start check jobs: CreateMemberHealthCheckJob needs the IAM action "
    "elb:members:create; grant it, or set ELB_WATCH_DIAGNOSE=off to notify without check-job reasons"
)


def _read(item: _Diagnosis, reader: ElbReader, log: Any, options: DiagnoseOptions, jobs: StartedJobs) -> None:
    """Read the job once; a reused job that ELB no longer knows is replaced by a new one."""
    if item.job_id is None:
        return
    try:
        job = reader.show_check_job(item.job_id)
    except ElbApiError as error:
        if error.status == 404 and item.reused:
            # Forgotten in the store too, or every round (and every instance) would reuse it again.
            log.info("diagnosis.stale", member_id=item.member_id, check_job_id=item.job_id)
            if not options.dry_run:
                jobs.forget(item.member_id, item.listener_id, options.memo)
            item.reused = False
            _start(item, reader, log, options, jobs, reuse=False)
            return
        item.error = error
        return
    item.verdict = assess_check_job(job)
    log.info(
        "check_job.progress",
        check_job_id=job.job_id,
        member_id=item.member_id,
        job_status=job.status,
        finished=job.finished,
        total=job.total,
    )


def _pending(item: _Diagnosis) -> bool:
    """A job to read (again): started or reused, not failed, not finished (a dry run's skipped job is not)."""
    return item.job_id is not None and item.error is None and (item.verdict is None or not item.verdict.done)


def diagnose_all(
    findings: Sequence[Finding],
    reader: ElbReader,
    budget: Budget,
    log: Any,
    *,
    options: DiagnoseOptions,
    jobs: StartedJobs,
) -> Diagnosed:
    """Diagnose every failed master: start (or reuse) all the jobs, then poll them together.

    Jobs start concurrently (at most `options.concurrency` requests at once), so ELB runs them in
    parallel; polling reads every unfinished job once per round, so a slow job never starves the
    others of API calls. A diagnosis that fails leaves its finding as it was and adds an error.
    """
    results = list(findings)
    items = []
    for index, finding in enumerate(findings):
        listener = diagnosis_listener(finding)
        if options.enabled and needs_diagnosis(finding) and listener and finding.master is not None:
            items.append(_Diagnosis(index, finding.master.member.id, listener))
    if not items:
        return Diagnosed(results, [], [])

    workers = max(1, min(options.concurrency, len(items)))
    with DaemonExecutor(max_workers=workers, thread_name_prefix="diagnose") as executor:

        def each(step: Callable[..., None], batch: list[_Diagnosis]) -> None:
            # Each task runs in a copy of this context, so its log lines keep the request id.
            futures = [
                executor.submit(contextvars.copy_context().run, step, item, reader, log, options, jobs)
                for item in batch
            ]
            for future in futures:
                future.result()

        each(_start, items)
        poll = 0
        while True:
            pending = [item for item in items if _pending(item)]
            each(_read, pending)
            pending = [item for item in pending if _pending(item)]
            if not pending:
                break
            pause = budget.poll_pause(poll, options.poll_interval)
            if pause <= 0 or not budget.wait(pause):
                break
            poll += 1

    return _collected(findings, results, items)


def _collected(findings: Sequence[Finding], results: list[Finding], items: list[_Diagnosis]) -> Diagnosed:
    """The verdicts put on their findings, the errors named by member, the jobs a dry run did not start."""
    errors: list[ElbApiError] = []
    would_start = []
    for item in items:
        if item.would_start:
            pool = findings[item.index].pool
            would_start.append(
                {
                    "pool_id": pool.id if pool is not None else "",
                    "member_id": item.member_id,
                    "listener_id": item.listener_id,
                }
            )
        if item.verdict is not None:
            results[item.index] = replace(findings[item.index], check=item.verdict)
        if item.error is not None:
            item.error.message = f"diagnosis of master {item.member_id}: {item.error.message}"
            errors.append(item.error)
    return Diagnosed(results, errors, would_start)
