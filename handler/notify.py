"""Notification records (schema `elb-master-watch/v1`) built from findings. Pure functions.

The record keeps plain text. Escaping for a chat format belongs to each channel's renderer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from handler.assess import OFFLINE, ONLINE
from handler.domain import CheckVerdict, Finding, MemberState, Pool
from handler.reasons import describe_reason_code

GROUP_LABELS = {"config": "config", "acl": "network ACL", "security_group": "security group"}


def fingerprint(finding: Finding) -> str:
    """A stable id for a finding: pool + member + kind, never the reason text."""
    pool_id = finding.pool.id if finding.pool else ""
    member = finding.master or finding.standby
    member_id = member.member.id if member else (finding.check.job.member_id if finding.check else "")
    raw = "\x1f".join((pool_id, member_id, finding.kind))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def _short_id(value: str) -> str:
    return value.split("-", maxsplit=1)[0] if value else "?"


def pool_label(pool: Pool | None) -> str:
    """How a pool is called in a title: its name, else the start of its id."""
    if pool is None:
        return "?"
    return pool.name or _short_id(pool.id)


def member_label(state: MemberState | None) -> str:
    """How a member is called in a title: its name, else its address, else the start of its id."""
    if state is None:
        return "?"
    member = state.member
    return member.name or member.address or _short_id(member.id)


def member_block(state: MemberState | None, locale: str = "en") -> dict[str, Any] | None:
    """The structured view of a member in a record."""
    if state is None:
        return None
    member = state.member
    reason = member.reason
    failed = state.state == OFFLINE
    code = reason.reason_code if reason else None
    return {
        "id": member.id,
        "name": member.name,
        "address": member.address,
        "protocol_port": member.protocol_port,
        "operating_status": state.state,
        "failed_listeners": [listener for listener in state.failed_listeners if listener],
        "reason_code": code,
        "reason": describe_reason_code(
            code,
            reason.expected_response if reason else None,
            reason.healthcheck_response if reason else None,
            locale,
        )
        if failed
        else None,
        "expected_response": reason.expected_response if reason else None,
        "healthcheck_response": reason.healthcheck_response if reason else None,
    }


def pool_block(pool: Pool | None) -> dict[str, Any] | None:
    """The structured view of a pool in a record."""
    if pool is None:
        return None
    return {
        "id": pool.id,
        "name": pool.name,
        "protocol": pool.protocol,
        "listener_ids": list(pool.listener_ids),
        "loadbalancer_ids": list(pool.loadbalancer_ids),
    }


def check_block(verdict: CheckVerdict | None) -> dict[str, Any] | None:
    """The structured view of a member check job in a record."""
    if verdict is None:
        return None
    job = verdict.job
    return {
        "job_id": job.job_id,
        "status": job.status,
        "member_id": job.member_id,
        "listener_id": job.listener_id,
        "finished": job.finished,
        "total": job.total,
        "failed_groups": list(verdict.failed_groups),
        "incomplete_groups": list(verdict.incomplete_groups),
        "failed_items": [
            {
                "group": item.group,
                "name": item.name,
                "severity": item.severity,
                "subject": item.subject,
                "reason": item.reason,
            }
            for item in verdict.failed_items
        ],
    }


def title(finding: Finding) -> str:
    """One line that says what happened, e.g. "[CRITICAL] web-pool: master and standby both down"."""
    tag = f"[{finding.severity.upper()}]"
    pool = pool_label(finding.pool)
    master = member_label(finding.master)
    standby = member_label(finding.standby)
    if finding.kind == "master_failed":
        if finding.severity == "major":
            return f"{tag} {pool}: master {master} down, traffic failed over to standby {standby}"
        if finding.standby is None:
            return f"{tag} {pool}: master {master} down and there is no standby"
        return f"{tag} {pool}: master and standby both down"
    if finding.kind == "no_master":
        return f"{tag} {pool}: no master member in the active/standby pool"
    if finding.kind == "no_monitor":
        return f"{tag} {pool}: no health check, master {master} health unknown"
    if finding.kind == "master_unknown":
        state = finding.master.state if finding.master else "UNKNOWN"
        return f"{tag} {pool}: master {master} is {state}, not ONLINE"
    if finding.kind == "standby_failed":
        return f"{tag} {pool}: standby {standby} down, no failover available"
    count = len(finding.check.failed_items) if finding.check else 0
    subject = (
        pool if finding.pool else f"member {_short_id(finding.check.job.member_id if finding.check else '')}"
    )
    noun = "problem" if count == 1 else "problems"
    return f"{tag} {subject}: member check found {count or 'unexplained'} {noun}"


def _member_lines(role: str, state: MemberState, locale: str) -> list[str]:
    member = state.member
    where = f"{member.address}:{member.protocol_port}" if member.address else member.id
    line = f"{role} {member_label(state)} ({where}) is {state.state}"
    listeners = [listener for listener in state.failed_listeners if listener]
    if listeners:
        line += f" on listener {', '.join(listeners)}"
    lines = [line + "."]
    if state.state == OFFLINE:
        block = member_block(state, locale) or {}
        code = block.get("reason_code")
        lines.append(f"Why: {code + ', ' if code else ''}{block.get('reason')}.")
    return lines


def _check_lines(verdict: CheckVerdict) -> list[str]:
    job = verdict.job
    progress = f"{job.finished}/{job.total} items" if job.total is not None else "progress unknown"
    failed = len(verdict.failed_items)
    lines = [f"Check job {job.job_id} ({job.status or 'unknown'}, {progress}): {failed} failed."]
    lines.extend(
        f"- [{item.severity or '?'}] {GROUP_LABELS.get(item.group, item.group)}: {item.reason}"
        for item in verdict.failed_items
    )
    explained = {item.group for item in verdict.failed_items}
    lines.extend(
        f"- {GROUP_LABELS.get(group, group)} check failed; ELB gave no item details."
        for group in verdict.failed_groups
        if group not in explained
    )
    lines.extend(
        f"- {GROUP_LABELS.get(group, group)} check could not complete." for group in verdict.incomplete_groups
    )
    if job.status.lower() == "processing":
        lines.append("The check job was still running; the items above are what was known so far.")
    return lines


def text(finding: Finding, region: str, project_id: str, locale: str = "en") -> str:
    """A few plain lines a person can act on: what is down, why, where traffic goes, what the check saw."""
    lines: list[str] = []
    if finding.master is not None:
        lines.extend(_member_lines("Master", finding.master, locale))
    if finding.standby is not None:
        standby_lines = _member_lines("Standby", finding.standby, locale)
        if finding.kind == "master_failed" and finding.standby.state == ONLINE:
            standby_lines[0] = standby_lines[0][:-1] + ": traffic has failed over to it."
        lines.extend(standby_lines)
    elif finding.kind == "master_failed":
        lines.append("No standby member: the pool has nowhere to fail over.")
    if finding.kind == "no_monitor":
        lines.append(
            "The pool has no enabled health check, so ELB cannot tell whether the master is healthy."
        )
    if finding.check is not None:
        lines.extend(_check_lines(finding.check))
    if finding.pool is not None:
        pool = finding.pool
        where = f"{pool.protocol or '?'}, region {region}, project {project_id}"
        lines.append(f"Pool {pool.name or '?'} ({pool.id}), {where}.")
    else:
        lines.append(f"Region {region}, project {project_id}.")
    return "\n".join(lines)


def build_notification(
    finding: Finding,
    *,
    region: str,
    project_id: str,
    observed_at: str,
    locale: str = "en",
) -> dict[str, Any]:
    """The `elb-master-watch/v1` notification record for one finding."""
    return {
        "status": "firing",
        "severity": finding.severity,
        "kind": finding.kind,
        "fingerprint": fingerprint(finding),
        "title": title(finding),
        "text": text(finding, region, project_id, locale),
        "pool": pool_block(finding.pool),
        "master": member_block(finding.master, locale),
        "standby": member_block(finding.standby, locale),
        "check": check_block(finding.check),
        "project_id": project_id,
        "region": region,
        "observed_at": observed_at,
    }
