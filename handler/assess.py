"""Assessment: from a pool and a check job to findings. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from handler.domain import (
    CheckJob,
    CheckVerdict,
    FailedCheck,
    Finding,
    Member,
    MemberState,
    Pool,
    Severity,
    Target,
)
from handler.reasons import item_reason

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
NO_MONITOR = "NO_MONITOR"
UNKNOWN = "UNKNOWN"


def member_status_on(member: Member, listener_id: str) -> str:
    """A member's operating status on one listener: its `status[]` entry wins over the outer status."""
    for entry in member.listener_health:
        if entry.listener_id == listener_id:
            return entry.operating_status.upper() or UNKNOWN
    return member.operating_status.upper() or UNKNOWN


def member_state(member: Member, listener_ids: Sequence[str]) -> MemberState:
    """A member's overall state across listeners: OFFLINE on any listener means failed.

    With no listeners to look at, the member's outer `operating_status` decides.
    """
    if not listener_ids:
        status = member.operating_status.upper() or UNKNOWN
        return MemberState(member, status, ("",) if status == OFFLINE else ())
    statuses = [(listener_id, member_status_on(member, listener_id)) for listener_id in listener_ids]
    failed = tuple(listener_id for listener_id, status in statuses if status == OFFLINE)
    if failed:
        return MemberState(member, OFFLINE, failed)
    values = {status for _, status in statuses}
    if values == {ONLINE}:
        return MemberState(member, ONLINE)
    if NO_MONITOR in values:
        return MemberState(member, NO_MONITOR)
    # INITIAL, UNKNOWN or a value this version does not know: report it as it is, never as healthy.
    return MemberState(member, next(status for _, status in statuses if status != ONLINE))


def _find_role(members: Iterable[Member], roles: set[str]) -> Member | None:
    return next((m for m in members if m.role.lower() in roles), None)


def watched_listeners(pool: Pool, listener_id: str | None = None) -> tuple[str, ...]:
    """The listeners whose view of the members counts: the one asked for, else the pool's own."""
    if listener_id:
        return (listener_id,)
    if pool.listener_ids:
        return pool.listener_ids
    seen: list[str] = []
    for member in pool.members:
        seen.extend(e.listener_id for e in member.listener_health if e.listener_id not in seen)
    return tuple(seen)


def assess_pool(pool: Pool, listener_id: str | None = None, target: Target | None = None) -> list[Finding]:
    """Decide what is wrong with a master/standby pool; an empty list means the master is healthy."""
    target = target or Target(pool_id=pool.id)
    listeners = watched_listeners(pool, listener_id)
    # ELB may (briefly, or when misconfigured) list two masters: a failed one is the one to report.
    masters = [m for m in pool.members if m.role.lower() == "master"]
    failed = (m for m in masters if member_state(m, listeners).state == OFFLINE)
    master = next(failed, masters[0] if masters else None)
    standby_member = _find_role(pool.members, {"slave", "standby"})
    standby = member_state(standby_member, listeners) if standby_member else None

    if master is None:
        states = [member_state(m, listeners).state for m in pool.members]
        severity: Severity = "critical" if states and ONLINE not in states else "warning"
        return [Finding("no_master", severity, pool=pool, standby=standby, target=target)]

    master_status = member_state(master, listeners)
    if master_status.state == OFFLINE:
        severity = "major" if standby is not None and standby.state == ONLINE else "critical"
        return [Finding("master_failed", severity, pool, master_status, standby, target=target)]
    monitor_off = pool.healthmonitor is None or not pool.healthmonitor.admin_state_up
    if monitor_off or master_status.state == NO_MONITOR:
        return [Finding("no_monitor", "warning", pool, master_status, standby, target=target)]
    if master_status.state != ONLINE:
        return [Finding("master_unknown", "warning", pool, master_status, standby, target=target)]
    if standby is not None and standby.state == OFFLINE:
        return [Finding("standby_failed", "warning", pool, master_status, standby, target=target)]
    return []


def assess_check_job(job: CheckJob) -> CheckVerdict:
    """Collect a check job's failed items (reasons rendered) and the groups that could not complete.

    A group failed when `check_result` is false; in it, an item failed when it has a `reason` or any
    `reason_params` (a list with any value, or anything that is not a list). A group whose
    `check_status` is `failed` could not complete its checks.
    """
    failed: list[FailedCheck] = []
    failed_groups: list[str] = []
    incomplete: list[str] = []
    omitted = 0
    for group in job.groups:
        if group.check_status.lower() == "failed":
            incomplete.append(group.name)
        if group.check_result is not False:
            continue
        failed_groups.append(group.name)
        omitted += group.items_omitted
        failed.extend(
            FailedCheck(
                group=group.name,
                name=item.name,
                severity=item.severity,
                subject=item.subject,
                reason=item_reason(
                    item.reason_template, item.reason_params, item.reason, listed=item.params_listed
                ),
            )
            for item in group.items
            if item.reason or item.reason_params or not item.params_listed
        )
    return CheckVerdict(job, tuple(failed), tuple(incomplete), tuple(failed_groups), omitted)


def check_severity(verdict: CheckVerdict) -> Severity:
    """A failed check job is a warning when anything Major (or unexplained) failed, else info."""
    unexplained = set(verdict.failed_groups) - {item.group for item in verdict.failed_items}
    if unexplained or any(item.severity.lower() != "tips" for item in verdict.failed_items):
        return "warning"
    return "info"


# Findings about the master itself: a check job on the master explains them.
_MASTER_KINDS = frozenset({"master_failed", "master_unknown", "no_monitor"})


def attach_check(
    findings: list[Finding], verdict: CheckVerdict, target: Target, pool: Pool | None = None
) -> list[Finding]:
    """Put a check job's verdict on the finding about the master it checked, or report it on its own.

    A job that checked the failed master explains that failure, so it rides in the same notification.
    A job about another member, or about a healthy master, is its own `check_failed` finding when
    anything in it failed.
    """
    job_member = verdict.job.member_id
    for index, finding in enumerate(findings):
        master = finding.master
        if finding.kind in _MASTER_KINDS and master is not None and job_member in {"", master.member.id}:
            updated = replace(finding, check=verdict)
            return [*findings[:index], updated, *findings[index + 1 :]]
    if verdict.failed_groups:
        owner = pool if pool is not None and any(m.id == job_member for m in pool.members) else None
        return [
            *findings,
            Finding("check_failed", check_severity(verdict), owner, check=verdict, target=target),
        ]
    return findings
