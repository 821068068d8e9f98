"""Notification records (schema `elb-master-watch/v1`) built from findings. Pure functions.

The record keeps plain text. Escaping for a chat format belongs to each channel's renderer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from handler.assess import OFFLINE, ONLINE
from handler.domain import CheckVerdict, Finding, MemberState, Pool
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


# Every human phrase, per locale. Cloud values go in through the {placeholders}, never the other way.
PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "critical": "CRITICAL",
        "major": "MAJOR",
        "warning": "WARNING",
        "info": "INFO",
        "failover": "{tag} {pool}: master {master} down, traffic failed over to standby {standby}",
        "no_standby": "{tag} {pool}: master {master} down and there is no standby",
        "outage": "{tag} {pool}: master and standby both down",
        "no_master": "{tag} {pool}: no master member in the active/standby pool",
        "no_monitor": "{tag} {pool}: no health check, master {master} health unknown",
        "master_unknown": "{tag} {pool}: master {master} is {state}, not ONLINE",
        "standby_failed": "{tag} {pool}: standby {standby} down, no failover available",
        "check_failed": "{tag} {subject}: member check found {count} {noun}",
        "check_member": "member {member}",
        "problem": "problem",
        "problems": "problems",
        "unexplained": "unexplained",
        "Master": "Master",
        "Standby": "Standby",
        "member_is": "{role} {label} ({where}) is {state}",
        "on_listener": " on listener {listeners}",
        "end": ".",
        "why": "Why: {reason}.",
        "failed_over": ": traffic has failed over to it.",
        "nowhere": "No standby member: the pool has nowhere to fail over.",
        "monitor_off": (
            "The pool has no enabled health check, so ELB cannot tell whether the master is healthy."
        ),
        "progress": "{finished}/{total} items",
        "progress_unknown": "progress unknown",
        "check_job": "Check job {job_id} ({status}, {progress}): {failed} failed.",
        "group_no_details": "- {group} check failed; ELB gave no item details.",
        "group_incomplete": "- {group} check could not complete.",
        "still_running": "The check job was still running; the items above are what was known so far.",
        "pool_line": "Pool {name} ({id}), {protocol}, region {region}, project {project}.",
        "region_line": "Region {region}, project {project}.",
        "config": "config",
        "acl": "network ACL",
        "security_group": "security group",
        "resolved": "RESOLVED",
        "role_master": "master",
        "role_standby": "standby",
        "span": "from {start} to {end}, {lasted}",
        "r_monitor_title": "{tag} {pool}: master {name} is health-checked again after {lasted}",
        "r_monitor_line": "The pool's health check sees master {name} ({address}) again: it is {status}.",
        "r_monitor_span": "It had no working health check {span}.",
        "r_back_title": "{tag} {pool}: {role} {name} is back ONLINE after {lasted}",
        "r_back_line": "{Role} {name} ({address}) is back ONLINE.",
        "r_was": "It was {was}{code} {span}.",
        "r_other_title": "{tag} {pool}: {role} {name} is no longer {was} after {lasted} (now {status})",
        "r_other_line": "{Role} {name} ({address}) is no longer {was}: it is {status} now.",
        "r_master_title": "{tag} {pool}: the pool has a master again after {lasted}",
        "r_master_line": "A member has the master role again; the pool had none {span}.",
        "r_check_title": "{tag} {subject}: the member check problems are gone after {lasted}",
        "r_check_line": "The problems the member check reported {span} are no longer reported.",
        "r_check_items": "They were: {items}.",
        "r_confirmed": "Confirmed by {checks} consecutive checks without it; last seen at {last_seen}.",
        "r_watcher_title": "{tag} elb-master-watch works again: {code} is gone after {lasted}",
        "r_watcher_line": "The watcher's own error {code} is no longer reported; it lasted {span}.",
    },
    "zh": {
        "critical": "紧急",
        "major": "重要",
        "warning": "警告",
        "info": "提示",
        "failover": "{tag} {pool}:主节点 {master} 故障,流量已切换到备节点 {standby}",
        "no_standby": "{tag} {pool}:主节点 {master} 故障,且没有备节点",
        "outage": "{tag} {pool}:主备节点均故障",
        "no_master": "{tag} {pool}:主备后端服务器组中没有主节点",
        "no_monitor": "{tag} {pool}:未开启健康检查,主节点 {master} 状态未知",
        "master_unknown": "{tag} {pool}:主节点 {master} 状态为 {state},不是 ONLINE",
        "standby_failed": "{tag} {pool}:备节点 {standby} 故障,已无法再切换",
        "check_failed": "{tag} {subject}:后端服务器检测发现 {count} 个{noun}",
        "check_member": "后端服务器 {member}",
        "problem": "问题",
        "problems": "问题",
        "unexplained": "未说明的",
        "Master": "主节点",
        "Standby": "备节点",
        "member_is": "{role} {label}({where})状态为 {state}",
        "on_listener": "(监听器 {listeners})",
        "end": "。",
        "why": "原因:{reason}。",
        "failed_over": ",流量已切换到该节点。",
        "nowhere": "没有备节点:流量无处切换。",
        "monitor_off": "该后端服务器组未开启健康检查,ELB 无法判断主节点是否健康。",
        "progress": "{finished}/{total} 项",
        "progress_unknown": "进度未知",
        "check_job": "检测任务 {job_id}({status},{progress}):{failed} 项未通过。",
        "group_no_details": "- {group}检查未通过,ELB 未给出检查项详情。",
        "group_incomplete": "- {group}检查未能完成。",
        "still_running": "检测任务仍在进行中,以上为目前已知的结果。",
        "pool_line": "后端服务器组 {name}({id}),{protocol},区域 {region},项目 {project}。",
        "region_line": "区域 {region},项目 {project}。",
        "config": "配置",
        "acl": "网络ACL",
        "security_group": "安全组",
        "resolved": "已恢复",
        "role_master": "主节点",
        "role_standby": "备节点",
        "span": "{start} 至 {end},共 {lasted}",
        "r_monitor_title": "{tag} {pool}:主节点 {name} 的健康检查已恢复,历时 {lasted}",
        "r_monitor_line": "后端服务器组的健康检查重新检测到主节点 {name}({address}):状态为 {status}。",
        "r_monitor_span": "健康检查失效的时段:{span}。",
        "r_back_title": "{tag} {pool}:{role} {name} 已恢复 ONLINE,故障持续 {lasted}",
        "r_back_line": "{Role} {name}({address})已恢复 ONLINE。",
        "r_was": "此前状态为 {was}{code},{span}。",
        "r_other_title": "{tag} {pool}:{role} {name} 已不再是 {was},历时 {lasted}(当前 {status})",
        "r_other_line": "{Role} {name}({address})已不再是 {was}:当前状态为 {status}。",
        "r_master_title": "{tag} {pool}:后端服务器组已重新有主节点,历时 {lasted}",
        "r_master_line": "已有成员重新成为主节点;此前没有主节点的时段:{span}。",
        "r_check_title": "{tag} {subject}:后端服务器检测发现的问题已消失,历时 {lasted}",
        "r_check_line": "检测任务在 {span} 报告的问题已不再出现。",
        "r_check_items": "问题项:{items}。",
        "r_confirmed": "已连续 {checks} 次检查未再出现;最后一次出现于 {last_seen}。",
        "r_watcher_title": "{tag} elb-master-watch 已恢复正常:{code} 已消失,历时 {lasted}",
        "r_watcher_line": "监控自身的错误 {code} 已不再出现;持续时段:{span}。",
    },
}


def phrases(locale: str) -> dict[str, str]:
    """The human phrases of a locale (English for a locale we do not have)."""
    return PHRASES.get(locale, PHRASES["en"])


def _phrases(locale: str) -> dict[str, str]:
    return PHRASES.get(locale, PHRASES["en"])


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
    failed = len(verdict.failed_items)
    lines = [
        say["check_job"].format(
            job_id=job.job_id, status=job.status or "unknown", progress=progress, failed=failed
        )
    ]
    lines.extend(
        f"- [{item.severity or '?'}] {say.get(item.group, item.group)}: {item.reason}"
        for item in verdict.failed_items
    )
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
        "title": title(finding, locale),
        "text": text(finding, region, project_id, locale),
        "pool": pool_block(finding.pool),
        "master": member_block(finding.master, locale),
        "standby": member_block(finding.standby, locale),
        "check": check_block(finding.check),
        "project_id": project_id,
        "region": region,
        "observed_at": observed_at,
    }
