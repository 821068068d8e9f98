"""`watcher_error` findings: the watcher itself cannot do its job. Pure: no I/O, no clock reads.

A run's error entries (and what the lifecycle and channels reported) are read for the errors that
blind the watcher: credentials rejected, permission denied, region/project/credentials missing, ELB
unreachable for the whole run, a bad setting, the state store unusable, every channel failing. Each
becomes one ordinary `elb-master-watch/v1` notification record per (error code, scope), never one per
target, so the existing lifecycle notifies it once, repeats it at the repeat interval and resolves it
when a run that can judge the scope no longer sees it.

Scopes say which runs can judge a problem: `watcher:config` every run that read its settings;
`watcher:elb` a run that had something to watch; `watcher:store` a run with a store configured;
`watcher:delivery` a run that tried to deliver something.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KIND = "watcher_error"
SCOPE_CONFIG = "watcher:config"
SCOPE_ELB = "watcher:elb"
SCOPE_STORE = "watcher:store"
SCOPE_DELIVERY = "watcher:delivery"
SCOPES = (SCOPE_CONFIG, SCOPE_ELB, SCOPE_STORE, SCOPE_DELIVERY)

CHANNELS_FAILED = "WATCH.CHANNELS"
STORE_UNAVAILABLE = "WATCH.STATE"
_TRANSPORT = frozenset({"WATCH.CONNECTION", "WATCH.TIMEOUT"})
_MISSING = frozenset({"CONFIG.REGION", "CONFIG.PROJECT_ID", "CONFIG.CREDENTIALS"})

# What to do, per code (or HTTP status): the README's Troubleshooting rows, in one sentence each.
ADVICE: dict[str, str] = {
    "APIGW.0301": (
        "The ELB API rejected the signature: wrong AK/SK or an expired security token. Check the "
        "function's agency, or HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK."
    ),
    "401": (
        "The ELB API rejected the credentials: check the function's agency, or "
        "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK and the security token."
    ),
    "403": (
        "Permission denied: give the agency (or user) elb:pools:get, elb:pools:list, elb:members:get "
        "and elb:members:create, and check the project id belongs to the region."
    ),
    "CONFIG.REGION": "Set ELB_WATCH_REGION (or put 'region' in the event) to a region the SDK knows.",
    "CONFIG.PROJECT_ID": "Set HUAWEICLOUD_SDK_PROJECT_ID (or put 'project_id' in the event).",
    "CONFIG.CREDENTIALS": ("Give the function an agency, or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK."),
    "CONFIG.INVALID": "Fix the variable the message names (see the README's configuration table).",
    "WATCH.CONNECTION": (
        "Check the function's network: with vpc_id set it needs a NAT gateway with an EIP; "
        "check any HUAWEICLOUD_SDK_REGION_ELB_* endpoint override."
    ),
    "WATCH.TIMEOUT": (
        "ELB did not answer in time: check the function's network (VPC/NAT) and endpoint override, "
        "or raise the function timeout."
    ),
    STORE_UNAVAILABLE: (
        "Alerts are not de-duplicated until the store works again: check ELB_WATCH_STATE (address, "
        "password, TLS) and that the function's VPC reaches it."
    ),
    CHANNELS_FAILED: (
        "No channel accepted a notification: see `deliveries` in the result and the log; check the "
        "webhook URLs, keys and SMN topic, and the function's internet access (NAT when vpc_id is set)."
    ),
}
_TITLES: dict[str, dict[str, str]] = {
    "en": {
        SCOPE_CONFIG: "a setting is unusable",
        SCOPE_ELB: "cannot read ELB",
        SCOPE_STORE: "state store unusable, alerts are not de-duplicated",
        SCOPE_DELIVERY: "every notification channel failed",
        "": "is broken",
        "what": "What to do",
        "title": "[{severity}] elb-master-watch {what}: {code}{status}",
    },
    "zh": {
        SCOPE_CONFIG: "配置不可用",
        SCOPE_ELB: "无法读取 ELB",
        SCOPE_STORE: "状态存储不可用,告警不再去重",
        SCOPE_DELIVERY: "所有通知渠道均发送失败",
        "": "运行异常",
        "what": "处理方法",
        "title": "[{severity}] elb-master-watch {what}:{code}{status}",
    },
}
_SEVERITY_WORDS = {"zh": {"critical": "紧急", "warning": "警告"}}
_SEVERITY = {
    SCOPE_CONFIG: "critical",
    SCOPE_ELB: "critical",
    SCOPE_STORE: "warning",
    SCOPE_DELIVERY: "critical",
}


@dataclass(frozen=True, slots=True)
class WatcherProblem:
    """One reason the watcher cannot do its job: an error code in a scope, with the first message seen."""

    code: str
    scope: str
    message: str
    status: int | None = None
    request_id: str | None = None


def advice(code: str, status: int | None = None) -> str:
    """What to do about a code (the Troubleshooting row); by HTTP status when the code has no row."""
    found = ADVICE.get(code) or (ADVICE.get(str(status)) if status is not None else None)
    return found or "See the README's Troubleshooting table and the log line of this run."


def _problem(entry: Mapping[str, Any], scope: str) -> WatcherProblem:
    status = entry.get("status")
    return WatcherProblem(
        code=str(entry.get("code") or status or "WATCH.ERROR"),
        scope=scope,
        message=str(entry.get("message") or ""),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        request_id=str(entry["request_id"]) if entry.get("request_id") else None,
    )


def problems_in(errors: Iterable[Mapping[str, Any]], *, elb_answered: bool) -> list[WatcherProblem]:
    """The run's error entries that mean the watcher is blind, one per (code, scope), first message kept.

    401 and 403 answers, missing region/project/credentials and bad settings always count; a
    connection failure or timeout counts only when no ELB call of the run got an answer
    (`elb_answered`), so one slow pool is a per-target error, not a broken watcher.
    """
    found: dict[tuple[str, str], WatcherProblem] = {}
    for entry in errors:
        code, status = str(entry.get("code") or ""), entry.get("status")
        scope = None
        if code == "CONFIG.INVALID":
            scope = SCOPE_STORE if entry.get("where") == "ELB_WATCH_STATE" else SCOPE_CONFIG
        elif code in _MISSING or status in (401, 403) or (code in _TRANSPORT and not elb_answered):
            scope = SCOPE_ELB
        if scope is not None:
            problem = _problem(entry, scope)
            found.setdefault((problem.code, problem.scope), problem)
    return list(found.values())


def delivery_problem(deliveries: Sequence[Mapping[str, Any]]) -> WatcherProblem | None:
    """CHANNELS_FAILED when every delivery this run attempted failed (skipped ones are not attempts)."""
    tried = [d for d in deliveries if d.get("status") in {"sent", "failed"}]
    if not tried or any(d.get("status") == "sent" for d in tried):
        return None
    channels = sorted({str(d.get("channel")) for d in tried})
    first = next((str(d.get("error")) for d in tried if d.get("error")), "no answer")
    noun = "delivery" if len(tried) == 1 else f"all {len(tried)} deliveries"
    message = f"{noun} to {', '.join(channels)} failed; first error: {first}"
    return WatcherProblem(CHANNELS_FAILED, SCOPE_DELIVERY, message)


def store_problem(warnings: Sequence[str]) -> WatcherProblem | None:
    """STORE_UNAVAILABLE from the lifecycle's warnings when de-duplication was unavailable."""
    for warning in warnings:
        if warning.startswith("de-duplication unavailable"):
            return WatcherProblem(STORE_UNAVAILABLE, SCOPE_STORE, warning)
    return None


def watcher_fingerprint(code: str, scope: str) -> str:
    """A stable id per (code, scope): never the message, the region or a target."""
    raw = "\x1f".join((KIND, scope, code))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def watcher_record(
    problem: WatcherProblem, *, region: str, project_id: str, observed_at: str, locale: str = "en"
) -> dict[str, Any]:
    """The `elb-master-watch/v1` record of a watcher problem (no pool, member or check blocks).

    The extra `watcher` block carries code, status, message, what to do and the scope; the lifecycle
    reads the scope from it, the channels show it as facts. Title and labels follow `locale`; the
    advice itself is English (it names variables and permissions).
    """
    say = _TITLES.get(locale, _TITLES["en"])
    severity = _SEVERITY.get(problem.scope, "critical")
    tag = _SEVERITY_WORDS.get(locale, {}).get(severity, severity.upper())
    what = advice(problem.code, problem.status)
    status = f" (HTTP {problem.status})" if problem.status is not None else ""
    title = say["title"].format(
        severity=tag, what=say.get(problem.scope, say[""]), code=problem.code, status=status
    )
    return {
        "status": "firing",
        "severity": severity,
        "kind": KIND,
        "fingerprint": watcher_fingerprint(problem.code, problem.scope),
        "title": title,
        "text": f"{problem.message}\n{say['what']}: {what}",
        "pool": None,
        "master": None,
        "standby": None,
        "check": None,
        "watcher": {
            "code": problem.code,
            "status": problem.status,
            "message": problem.message,
            "action": what,
            "scope": problem.scope,
            "request_id": problem.request_id,
        },
        "project_id": project_id,
        "region": region,
        "observed_at": observed_at,
    }
