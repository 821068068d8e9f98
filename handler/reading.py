"""Stages read, assess and diagnose: each target and sweep of an event, per region and project scope.

Each target and sweep is first placed in its region and project (or given the configuration errors
that keep it from being read); one gateway per scope then reads, the findings are assessed from what
ELB said and the failed masters diagnosed. What each produced is returned as a `Watched` value, and
what the gateways showed about ELB (`ElbHealth`) beside them: nothing is written into a shared object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handler import logs
from handler.config import credentials_problem, resolve_project_id
from handler.domain import CheckVerdict, ElbHealth, Finding, Pool, Sweep, Target
from handler.elb import ElbGateway, region_problem
from handler.lifecycle import job_scope
from handler.result import api_error_entry, error_entry
from handler.tags import read_tags
from handler.watch import MAX_LIST_CALLS_PER_EVENT, sweep_pools, watch_target
from handler.wiring import WARM

if TYPE_CHECKING:
    from handler.diagnose import Diagnosed
    from handler.metrics import PoolSample
    from handler.run_context import RunContext
    from handler.state import StateStore

Logged = tuple[str, dict[str, Any]]
"""An error entry of the result and the event name of its one log line."""


@dataclass(frozen=True, slots=True)
class Placed:
    """A target or sweep in the region and project it is read in, or the reasons it cannot be read."""

    item: Target | Sweep
    region: str
    project_id: str
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def where(self) -> dict[str, Any]:
        """How the result names it: the target, or the sweep's filters."""
        return self.item.as_dict() if isinstance(self.item, Target) else {"sweep": self.item.filters()}


@dataclass(frozen=True, slots=True)
class Watched:
    """What watching one target or sweep produced.

    `summary` is its entry of the result's `targets` or `sweeps`; `errors` its error entries, not yet
    logged; `scopes` the lifecycle scopes it assessed (pool ids, "job:<id>"); `pool_ids` the pools it
    read (an event's `channels` narrow their resolved notices too); `verdicts` the check jobs it read;
    `would_start` the check jobs a dry run did not start; `samples` each pool's metrics (only with
    ELB_WATCH_METRICS on).
    """

    placed: Placed
    summary: dict[str, Any]
    findings: tuple[Finding, ...] = ()
    errors: tuple[Logged, ...] = ()
    scopes: tuple[str, ...] = ()
    pool_ids: tuple[str, ...] = ()
    verdicts: tuple[CheckVerdict, ...] = ()
    elapsed: float = 0.0
    would_start: tuple[dict[str, str], ...] = ()
    samples: tuple[PoolSample, ...] = ()

    @property
    def is_sweep(self) -> bool:
        """A sweep's entry goes to `sweeps`, a target's to `targets`."""
        return isinstance(self.placed.item, Sweep)


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything the read stage produced.

    One `Watched` per target and sweep, in the event's order; what each region/project's calls showed
    about ELB; how many requests went out. `tags`: when some route matches on `tag`, the tags of the
    load balancers of the pools with findings, by load balancer id ({} for one without tags; absent
    when unknown, a tag read that failed: see handler.tags.pool_tags); `errors`: the read stage's own
    beyond each Watched's (ELB.TAGS_UNAVAILABLE).
    """

    watched: tuple[Watched, ...] = ()
    healths: tuple[ElbHealth, ...] = ()
    api_calls: int = 0
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    errors: tuple[Logged, ...] = ()


def place(item: Target | Sweep, run: RunContext) -> Placed:
    """The region and project a target or sweep is read in, with every missing piece at once."""
    region = item.region or run.settings.region or ""
    project_id = resolve_project_id(item.project_id, run.platform, run.env) or ""
    problems: list[tuple[str, str]] = []
    if not region:
        problems.append(("CONFIG.REGION", "no region: put 'region' in the event or set ELB_WATCH_REGION"))
    elif (wrong := region_problem(region)) is not None:
        problems.append(("CONFIG.REGION", wrong))
    if not project_id:
        message = "no project id: put 'project_id' in the event, or set HUAWEICLOUD_SDK_PROJECT_ID"
        problems.append(("CONFIG.PROJECT_ID", message))
    if run.credentials is None:
        problems.append(("CONFIG.CREDENTIALS", credentials_problem(run.platform, run.env)))
    return Placed(item, region, project_id, tuple(problems))


def read(
    items: Sequence[Target | Sweep],
    run: RunContext,
    memo: StateStore | None,
    *,
    wants_tags: bool = False,
    dry_run: bool = False,
) -> Reading:
    """Stages read, assess and diagnose over every target and sweep, one gateway per region and project.

    `wants_tags` (`Receivers.wants_tags`): then the tags of the findings' load balancers too.
    `dry_run`: diagnosis starts no check job (`Watched.would_start` lists them).
    """
    placed = [place(item, run) for item in items]
    gateways: dict[tuple[str, str], ElbGateway] = {}
    for spot in placed:
        key = (spot.region, spot.project_id)
        if not spot.problems and key not in gateways and run.credentials is not None:
            gateways[key] = ElbGateway(
                region=spot.region,
                project_id=spot.project_id,
                credentials=run.credentials,
                settings=run.settings,
                budget=run.budget,
                clients=WARM.elb_clients,
            )
    watched: list[Watched] = []
    # The event's list calls, shared by its sweeps in order (MAX_LIST_CALLS_PER_EVENT).
    pages_left = MAX_LIST_CALLS_PER_EVENT
    for spot in placed:
        gateway = gateways.get((spot.region, spot.project_id))
        item = _watch_one(spot, gateway, run, (memo, dry_run), pages_left)
        pages_left -= int(item.summary.get("pages", 0)) if item.is_sweep else 0
        watched.append(item)
    tags, tag_errors = (
        read_tags(findings_loadbalancers(watched), gateways, WARM.tags) if wants_tags else ({}, [])
    )
    return Reading(
        tuple(watched),
        tuple(gateway.health() for gateway in gateways.values()),
        sum(gateway.calls for gateway in gateways.values()),
        tags,
        tuple(tag_errors),
    )


def findings_loadbalancers(watched: Sequence[Watched]) -> dict[tuple[str, str], list[str]]:
    """The load balancers of the pools with findings, per (region, project_id), each once, in order."""
    found: dict[tuple[str, str], dict[str, None]] = {}
    for item in watched:
        ids = found.setdefault((item.placed.region, item.placed.project_id), {})
        for finding in item.findings:
            if finding.pool is not None:
                ids.update(dict.fromkeys(finding.pool.loadbalancer_ids))
    return {scope: list(ids) for scope, ids in found.items() if ids}


# The store diagnosis keeps started jobs in, and whether the run is a dry run (which starts none).
Memo = tuple["StateStore | None", bool]


def _watch_one(
    spot: Placed, gateway: ElbGateway | None, run: RunContext, memo: Memo, pages_left: int
) -> Watched:
    if gateway is None:
        errors = tuple(
            ("watch.error", error_entry(code, message, target=spot.where)) for code, message in spot.problems
        )
        if isinstance(spot.item, Sweep):
            return Watched(
                spot, {"filters": spot.item.filters(), "status": "error", "pools": 0}, errors=errors
            )
        return Watched(spot, {"target": spot.where, "status": "error", "findings": []}, errors=errors)
    if isinstance(spot.item, Sweep):
        return _sweep(spot, spot.item, gateway, run, memo, pages_left=pages_left)
    return _watch(spot, spot.item, gateway, run, memo)


def _diagnose(findings: list[Finding], gateway: ElbGateway, run: RunContext, memo: Memo) -> Diagnosed:
    """Stage diagnose: the failed masters among `findings` (imported only by runs that get here)."""
    from handler.diagnose import DiagnoseOptions, diagnose_all  # noqa: PLC0415 - see the docstring

    options = DiagnoseOptions(
        enabled=run.settings.diagnose,
        ttl=run.settings.diagnose_ttl,
        concurrency=run.settings.concurrency,
        poll_interval=run.settings.poll_interval,
        memo=memo[0],
        dry_run=memo[1],
    )
    return diagnose_all(findings, gateway, run.budget, run.log, options=options, jobs=WARM.started_jobs)


def _watch(spot: Placed, target: Target, gateway: ElbGateway, run: RunContext, memo: Memo) -> Watched:
    """Read and assess one named pool and/or job; diagnose a failed master when no job was named."""
    with logs.bound(pool_id=target.pool_id, job_id=target.job_id):
        outcome = watch_target(target, gateway, run.budget, run.log, run.settings.poll_interval)
        would_start: list[dict[str, str]] = []
        if target.job_id is None:
            diagnosed = _diagnose(outcome.findings, gateway, run, memo)
            outcome.findings, would_start = diagnosed.findings, diagnosed.would_start
            outcome.errors.extend(diagnosed.errors)
        scopes: list[str] = []
        if outcome.pool is not None:
            scopes.append(outcome.pool.id)
        if outcome.verdict is not None:
            scopes.append(job_scope(outcome.verdict.job.job_id or target.job_id or ""))
        summary = outcome.summary()
        run.log.info("target.assessed", **summary)
    measured = run.settings.metrics_namespace is not None
    return Watched(
        spot,
        summary,
        findings=tuple(outcome.findings),
        errors=tuple(("elb.error", api_error_entry(spot.where, error)) for error in outcome.errors),
        scopes=tuple(scopes),
        pool_ids=(outcome.pool.id,) if outcome.pool is not None else (),
        verdicts=(outcome.verdict,) if outcome.verdict is not None else (),
        elapsed=run.budget.elapsed(),
        would_start=tuple(would_start),
        samples=_samples(outcome.pool, outcome.findings) if measured else (),
    )


def _sweep(
    spot: Placed,
    sweep: Sweep,
    gateway: ElbGateway,
    run: RunContext,
    memo: Memo,
    *,
    pages_left: int,
) -> Watched:
    """List and assess every pool a sweep matches from the list itself; diagnose the failed masters."""
    with logs.bound(sweep=sweep.filters()):
        measured = run.settings.metrics_namespace is not None
        outcome = sweep_pools(
            sweep, gateway, spot.region, spot.project_id, max_pages=pages_left, samples=measured
        )
        diagnosed = _diagnose(outcome.findings, gateway, run, memo)
        findings, diagnosis_errors = diagnosed.findings, diagnosed.errors
        outcome.findings = findings
        summary = outcome.summary()
        run.log.info("sweep.assessed", **summary)
    errors = [("elb.error", api_error_entry(spot.where, error)) for error in outcome.errors]
    errors += [("diagnosis.error", api_error_entry(spot.where, error)) for error in diagnosis_errors]
    return Watched(
        spot,
        summary,
        findings=tuple(findings),
        errors=tuple(errors),
        scopes=tuple(outcome.assessed_pool_ids),
        elapsed=run.budget.elapsed(),
        would_start=tuple(diagnosed.would_start),
        samples=_diagnosed_samples(outcome.samples, findings),
    )


def _samples(pool: Pool | None, findings: Sequence[Finding]) -> tuple[PoolSample, ...]:
    """A read pool's metrics (handler.metrics, imported only by runs that push metrics)."""
    if pool is None:
        return ()
    from handler.metrics import pool_sample  # noqa: PLC0415

    return (pool_sample(pool, findings),)


def _diagnosed_samples(samples: Sequence[PoolSample], findings: Sequence[Finding]) -> tuple[PoolSample, ...]:
    """A sweep's pool metrics with the failed check items diagnosis found (none without metrics)."""
    if not samples:
        return ()
    from handler.metrics import with_check_items  # noqa: PLC0415

    return tuple(with_check_items(samples, findings))


def errors_of(watched: Sequence[Watched]) -> list[Logged]:
    """Every error the read stage met, in the run's order.

    Each target's or sweep's own, then one per check job still running when time ran out (once per
    job in the run).
    """
    seen: set[str] = set()
    found: list[Logged] = []
    for item in watched:
        found.extend(item.errors)
        checks = [(f.check, f.target.as_dict()) for f in item.findings if f.check is not None]
        checks += [(verdict, item.placed.where) for verdict in item.verdicts]
        for verdict, where in checks:
            job = verdict.job
            if verdict.done or job.job_id in seen:
                continue
            seen.add(job.job_id)
            message = (
                f"check job {job.job_id} still {job.status or 'processing'} after {item.elapsed:.1f} s "
                f"({job.finished}/{job.total} items); reported what was known"
            )
            found.append(
                ("check_job.incomplete", error_entry("WATCH.CHECK_JOB_INCOMPLETE", message, target=where))
            )
    return found
