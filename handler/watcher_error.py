"""`watcher_error` findings: the watcher itself cannot do its job. Pure: no I/O, no clock reads.

A run's error entries, what its ELB calls showed (`ElbHealth`, per region and project) and what the
lifecycle and channels reported are read for what blinds the watcher. Each blinding problem is one
ordinary `elb-master-watch/v1` notification record per *component and scope*, never one per error code
or target, so the lifecycle notifies it once, re-notifies it as `changed` when the same component fails
with another code, repeats it at the repeat interval and resolves it only when a run proves that very
component healthy in that very scope.

Components, their lifecycle scope, what is a problem, and what proves it healthy (resolves it):

- reaching ELB, `watcher:elb-reach:<region>/<project>`: every call there went unanswered (timed
  out, refused); proof: any HTTP answer from ELB there.
- ELB access, `watcher:elb-access:<region>/<project>`: a 401/403 answer there; proof: a 2xx there.
- setup, `watcher:setup`: region, project or credentials missing; proof: a run with something to
  watch that lacks none.
- settings, `watcher:config`: a setting is unusable; proof: any run (it read its settings).
- store, `watcher:store`: the state store failed; proof: a run whose store worked.
- channels, `watcher:delivery`: every configured channel was tried and failed; proof: a delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler import wording
from handler.domain import ElbApiError, ElbHealth
from handler.state.bounded import NO_TIME

KIND = "watcher_error"
SCOPE_CONFIG = "watcher:config"
SCOPE_SETUP = "watcher:setup"
SCOPE_STORE = "watcher:store"
SCOPE_DELIVERY = "watcher:delivery"
ELB_REACH = "watcher:elb-reach"
ELB_ACCESS = "watcher:elb-access"
COMPONENTS = (SCOPE_CONFIG, SCOPE_SETUP, ELB_REACH, ELB_ACCESS, SCOPE_STORE, SCOPE_DELIVERY)

CHANNELS_FAILED = "WATCH.CHANNELS"
STORE_UNAVAILABLE = "WATCH.STATE"
_MISSING = frozenset({"CONFIG.REGION", "CONFIG.PROJECT_ID", "CONFIG.CREDENTIALS"})

_SEVERITY = {SCOPE_STORE: "warning"}


@dataclass(frozen=True, slots=True)
class WatcherProblem:
    """One reason the watcher cannot do its job: a component in a scope, with the first error seen.

    `scope` is the lifecycle's scope (the component, plus `:<region>/<project>` for ELB's); `region`
    and `project_id` are where it was seen, when the component has them.
    """

    code: str
    scope: str
    message: str
    status: int | None = None
    request_id: str | None = None
    region: str = ""
    project_id: str = ""

    @property
    def component(self) -> str:
        """The component the scope belongs to (`watcher:elb-reach` for `watcher:elb-reach:r/p`)."""
        return ":".join(self.scope.split(":")[:2])


def elb_scope(component: str, region: str, project_id: str) -> str:
    """The lifecycle scope of an ELB component in one region and project."""
    return f"{component}:{region}/{project_id}"


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


def problems_in(errors: Iterable[Mapping[str, Any]]) -> list[WatcherProblem]:
    """The run's setup and settings problems, one per component, the first error of each kept.

    Missing region/project/credentials are the setup; a bad setting is the settings' (the store's
    when it is ELB_WATCH_STATE). What ELB answered is judged per scope by `elb_problems`.
    """
    found: dict[str, WatcherProblem] = {}
    for entry in errors:
        code = str(entry.get("code") or "")
        scope = None
        if code == "CONFIG.INVALID":
            scope = SCOPE_STORE if entry.get("where") == "ELB_WATCH_STATE" else SCOPE_CONFIG
        elif code in _MISSING:
            scope = SCOPE_SETUP
        if scope is not None and scope not in found:
            found[scope] = _problem(entry, scope)
    return list(found.values())


def _elb_problem(error: ElbApiError, scope: str, health: ElbHealth) -> WatcherProblem:
    return WatcherProblem(
        code=error.code,
        scope=scope,
        message=error.message,
        status=error.status,
        request_id=error.request_id,
        region=health.region,
        project_id=health.project_id,
    )


def elb_problems(healths: Iterable[ElbHealth]) -> tuple[list[WatcherProblem], set[str]]:
    """What ELB's answers say about the watcher, per region and project: the problems, and the scopes judged.

    Reaching ELB is a problem when calls there ended unanswered and none got an answer (one slow pool
    among answered ones is that pool's error); any answer proves it. Access is a problem on a 401 or
    403 there; only a 2xx answer there proves it. A scope where no call went out is not judged, so
    project A's good run leaves project B's alert firing.
    """
    problems: list[WatcherProblem] = []
    judged: set[str] = set()
    for health in healths:
        reach = elb_scope(ELB_REACH, health.region, health.project_id)
        access = elb_scope(ELB_ACCESS, health.region, health.project_id)
        if health.answered:
            judged.add(reach)
        elif health.unreached is not None:
            problems.append(_elb_problem(health.unreached, reach, health))
        if health.authorized:
            judged.add(access)
        if health.denied is not None:
            problems.append(_elb_problem(health.denied, access, health))
    return problems, judged


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
    channels = sorted({str(d.get("receiver") or d.get("channel")) for d in tried})
    if configured is not None and not set(configured) <= set(channels):
        return None
    first = next((str(d.get("error")) for d in tried if d.get("error")), "no answer")
    noun = "delivery" if len(tried) == 1 else f"all {len(tried)} deliveries"
    message = f"{noun} to {', '.join(channels)} failed; first error: {first}"
    return WatcherProblem(CHANNELS_FAILED, SCOPE_DELIVERY, message)


def store_problem(warnings: Sequence[str]) -> WatcherProblem | None:
    """STORE_UNAVAILABLE from the lifecycle's warnings when de-duplication was unavailable.

    Not when the run had no time left to call the store (a platform budget already spent): that says
    nothing of the store, and the run's WATCH.TIME_BUDGET errors say what happened.
    """
    for warning in warnings:
        if warning.startswith("de-duplication unavailable") and NO_TIME not in warning:
            return WatcherProblem(STORE_UNAVAILABLE, SCOPE_STORE, warning)
    return None


def watcher_fingerprint(scope: str) -> str:
    """A stable id per component and scope: never the code, the message or a target.

    Another code in the same component is the same alert, changed (its reason digest has the code).
    """
    raw = "\x1f".join((KIND, scope))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def watcher_record(
    problem: WatcherProblem, *, region: str, project_id: str, observed_at: str, locale: str = "en"
) -> dict[str, Any]:
    """The `elb-master-watch/v1` record of a watcher problem (no pool, member or check blocks).

    The extra `watcher` block carries code, status, message, what to do, the component and the scope;
    the lifecycle reads the scope from it, the channels show it as facts. Title and labels follow
    `locale`; the advice follows it too (variable and permission names stay as they are written).
    `region` and `project_id` are the run's, for a problem that was not seen in a region of its own.
    """
    say = wording.watcher(locale)
    severity = _SEVERITY.get(problem.component, "critical")
    tag = say[severity]
    what = advice(problem.code, problem.status, locale)
    status = say["status"].format(status=problem.status) if problem.status is not None else ""
    title = say["title"].format(
        severity=tag, what=say.get(problem.component, say[""]), code=problem.code, status=status
    )
    return {
        "status": "firing",
        "severity": severity,
        "kind": KIND,
        "fingerprint": watcher_fingerprint(problem.scope),
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
            "component": problem.component,
            "scope": problem.scope,
            "request_id": problem.request_id,
        },
        "project_id": problem.project_id or project_id,
        "region": problem.region or region,
        "observed_at": observed_at,
    }
