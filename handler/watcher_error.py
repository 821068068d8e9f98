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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler import wording

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


def advice(code: str, status: int | None = None, locale: str = "en") -> str:
    """What to do about a code (the Troubleshooting row); by HTTP status when the code has no row."""
    rows = wording.watcher_advice(locale)
    found = rows.get(code) or (rows.get(str(status)) if status is not None else None)
    return found or rows[""]


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


def delivery_problem(
    deliveries: Sequence[Mapping[str, Any]], configured: Collection[str] | None = None
) -> WatcherProblem | None:
    """CHANNELS_FAILED when every delivery this run attempted failed (skipped ones are not attempts).

    With `configured` (the channel names in use), only when each of them was tried and failed: one
    channel whose only owed delivery (a catch-up) failed again is that channel's failure, not "every
    notification channel failed" sent to the seven that work.
    """
    tried = [d for d in deliveries if d.get("status") in {"sent", "failed"}]
    if not tried or any(d.get("status") == "sent" for d in tried):
        return None
    channels = sorted({str(d.get("channel")) for d in tried})
    if configured is not None and not set(configured) <= set(channels):
        return None
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
    advice follows it too (variable and permission names stay as they are written).
    """
    say = wording.watcher(locale)
    severity = _SEVERITY.get(problem.scope, "critical")
    tag = say[severity]
    what = advice(problem.code, problem.status, locale)
    status = say["status"].format(status=problem.status) if problem.status is not None else ""
    title = say["title"].format(
        severity=tag, what=say.get(problem.scope, say[""]), code=problem.code, status=status
    )
    return {
        "status": "firing",
        "severity": severity,
        "kind": KIND,
        "fingerprint": watcher_fingerprint(problem.code, problem.scope),
        "title": title,
        "text": say["text"].format(message=problem.message, what=say["what"], action=what),
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
