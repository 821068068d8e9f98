"""Notification records (schema `elb-master-watch/v1`) built from findings. Pure functions.

The record keeps plain text. Escaping for a chat format belongs to each channel's renderer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from handler import wording
from handler.assess import OFFLINE, ONLINE
from handler.console import console_links
from handler.domain import CheckVerdict, Finding, MemberState, Notification, Pool
from handler.reasons import describe_reason_code


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
    block: dict[str, Any] = {
        "id": pool.id,
        "name": pool.name,
        "protocol": pool.protocol,
        "listener_ids": list(pool.listener_ids),
        "loadbalancer_ids": list(pool.loadbalancer_ids),
    }
    # Only when ELB sent one, so records of pools read without it stay as they were.
    if pool.enterprise_project_id:
        block["enterprise_project_id"] = pool.enterprise_project_id
    return block


def check_block(verdict: CheckVerdict | None) -> dict[str, Any] | None:
    """The structured view of a member check job in a record."""
    if verdict is None:
        return None
    job = verdict.job
    block: dict[str, Any] = {
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
    # Only when ELB's answer needed them, so the records of sane answers stay as they were.
    if verdict.failed_items_omitted:
        block["failed_items_omitted"] = verdict.failed_items_omitted
    if job.impossible_counters:
        block["impossible_counters"] = job.impossible_counters
    return block


PHRASES: dict[str, dict[str, str]] = {"en": wording.phrases("en"), "zh": wording.phrases("zh")}
"""Kept for callers of the old name; the wording lives in `handler.wording`."""


def phrases(locale: str) -> dict[str, str]:
    """The human phrases of a locale (English for a locale we do not have)."""
    return wording.phrases(locale)


_phrases = phrases


def title(finding: Finding, locale: str = "en") -> str:
    """One line that says what happened, e.g. "[CRITICAL] web-pool: master and standby both down"."""
    say = _phrases(locale)
    values = {
        "tag": f"[{say.get(finding.severity, finding.severity.upper())}]",
        "pool": pool_label(finding.pool),
        "master": member_label(finding.master),
        "standby": member_label(finding.standby),
        "state": finding.master.state if finding.master else "UNKNOWN",
    }
    if finding.kind == "master_failed":
        if finding.severity == "major":
            return say["failover"].format(**values)
        return say["no_standby" if finding.standby is None else "outage"].format(**values)
    if finding.kind in {"no_master", "no_monitor", "master_unknown", "standby_failed"}:
        return say[finding.kind].format(**values)
    count = len(finding.check.failed_items) if finding.check else 0
    member = _short_id(finding.check.job.member_id if finding.check else "")
    subject = values["pool"] if finding.pool else say["check_member"].format(member=member)
    noun = say["problem" if count == 1 else "problems"]
    return say["check_failed"].format(
        tag=values["tag"], subject=subject, count=count or say["unexplained"], noun=noun
    )


def _member_lines(role: str, state: MemberState, locale: str) -> list[str]:
    say = _phrases(locale)
    member = state.member
    where = f"{member.address}:{member.protocol_port}" if member.address else member.id
    line = say["member_is"].format(role=say[role], label=member_label(state), where=where, state=state.state)
    listeners = [listener for listener in state.failed_listeners if listener]
    if listeners:
        line += say["on_listener"].format(listeners=", ".join(listeners))
    lines = [line + say["end"]]
    if state.state == OFFLINE:
        block = member_block(state, locale) or {}
        code = block.get("reason_code")
        lines.append(say["why"].format(reason=f"{code + ', ' if code else ''}{block.get('reason')}"))
    return lines


def _check_lines(verdict: CheckVerdict, locale: str) -> list[str]:
    say = _phrases(locale)
    job = verdict.job
    progress = (
        say["progress"].format(finished=job.finished, total=job.total)
        if job.total is not None
        else say["progress_unknown"]
    )
    failed = len(verdict.failed_items) + verdict.failed_items_omitted
    lines = [
        say["check_job"].format(
            job_id=job.job_id, status=job.status or "unknown", progress=progress, failed=failed
        )
    ]
    if job.impossible_counters:
        lines.append(say["impossible_counters"].format(counters=job.impossible_counters))
    lines.extend(
        f"- [{item.severity or '?'}] {say.get(item.group, item.group)}: {item.reason}"
        for item in verdict.failed_items
    )
    if verdict.failed_items_omitted:
        lines.append(say["items_omitted"].format(count=verdict.failed_items_omitted))
    explained = {item.group for item in verdict.failed_items}
    lines.extend(
        say["group_no_details"].format(group=say.get(group, group))
        for group in verdict.failed_groups
        if group not in explained
    )
    lines.extend(
        say["group_incomplete"].format(group=say.get(group, group)) for group in verdict.incomplete_groups
    )
    if job.status.lower() == "processing":
        lines.append(say["still_running"])
    return lines


def text(finding: Finding, region: str, project_id: str, locale: str = "en") -> str:
    """A few plain lines a person can act on: what is down, why, where traffic goes, what the check saw."""
    say = _phrases(locale)
    lines: list[str] = []
    if finding.master is not None:
        lines.extend(_member_lines("Master", finding.master, locale))
    if finding.standby is not None:
        standby_lines = _member_lines("Standby", finding.standby, locale)
        if finding.kind == "master_failed" and finding.standby.state == ONLINE:
            standby_lines[0] = standby_lines[0][: -len(say["end"])] + say["failed_over"]
        lines.extend(standby_lines)
    elif finding.kind == "master_failed":
        lines.append(say["nowhere"])
    if finding.kind == "no_monitor":
        lines.append(say["monitor_off"])
    if finding.check is not None:
        lines.extend(_check_lines(finding.check, locale))
    if finding.pool is not None:
        pool = finding.pool
        lines.append(
            say["pool_line"].format(
                name=pool.name or "?",
                id=pool.id,
                protocol=pool.protocol or "?",
                region=region,
                project=project_id,
            )
        )
    else:
        lines.append(say["region_line"].format(region=region, project=project_id))
    return "\n".join(lines)


def build(
    finding: Finding,
    *,
    region: str,
    project_id: str,
    observed_at: str,
    locale: str = "en",
) -> Notification:
    """The notification for one finding (its v1 record is `to_record()`), with its console link."""
    pool = pool_block(finding.pool)
    links = console_links(pool, region)
    return Notification(
        status="firing",
        severity=finding.severity,
        kind=finding.kind,
        fingerprint=fingerprint(finding),
        title=title(finding, locale),
        text=text(finding, region, project_id, locale),
        pool=pool,
        master=member_block(finding.master, locale),
        standby=member_block(finding.standby, locale),
        check=check_block(finding.check),
        project_id=project_id,
        region=region,
        observed_at=observed_at,
        extra={"links": links} if links else {},
    )


def build_notification(
    finding: Finding,
    *,
    region: str,
    project_id: str,
    observed_at: str,
    locale: str = "en",
) -> dict[str, Any]:
    """The `elb-master-watch/v1` notification record for one finding."""
    return build(
        finding, region=region, project_id=project_id, observed_at=observed_at, locale=locale
    ).to_record()
