"""The composition root: one invocation from event to result. Never raises to the platform."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from handler import logs
from handler.budget import Budget, work_budget
from handler.config import (
    ConfigError,
    Settings,
    load_settings,
    remaining_ms,
    request_id,
    resolve_credentials,
    resolve_project_id,
)
from handler.diagnose import DiagnoseOptions, diagnose_all
from handler.domain import SCHEMA, CheckVerdict, ElbApiError, Finding, Sweep, Target
from handler.elb import ElbGateway
from handler.events import ParsedEvent, parse_event
from handler.notify import build_notification
from handler.watch import TargetOutcome, sweep_pools, watch_target


def error_entry(
    code: str,
    message: str,
    *,
    target: dict[str, Any] | None = None,
    status: int | None = None,
    request_id: str | None = None,
    where: str | None = None,
    attempts: int | None = None,
) -> dict[str, Any]:
    """One entry of the result's `errors`: the same keys for event, config and API errors."""
    entry: dict[str, Any] = {
        "target": target,
        "code": code,
        "status": status,
        "message": message,
        "request_id": request_id,
    }
    if where is not None:
        entry["where"] = where
    if attempts is not None:
        entry["attempts"] = attempts
    return entry


def api_error_entry(target: dict[str, Any], error: ElbApiError) -> dict[str, Any]:
    """An ELB API error as a result entry."""
    return error_entry(
        error.code,
        error.message,
        target=target,
        status=error.status,
        request_id=error.request_id,
        attempts=error.attempts,
    )


def apig_response(result: dict[str, Any], parsed: ParsedEvent) -> dict[str, Any]:
    """Wrap the result in API Gateway's response shape; the status says how the call went."""
    if parsed.errors and not parsed.targets:
        status = 400
    elif result["errors"]:
        status = 502
    else:
        status = 200
    return {
        "statusCode": status,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": json.dumps(result, ensure_ascii=False),
    }


class _Invocation:
    """The state of one invocation while it runs."""

    def __init__(self, context: Any, env: Mapping[str, str], settings: Settings) -> None:
        self.context = context
        self.env = env
        self.settings = settings
        self.log = logs.logger()
        self.notifications: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.sweeps: list[dict[str, Any]] = []
        self.incomplete_jobs: set[str] = set()
        self.diagnose_options = DiagnoseOptions(
            enabled=settings.diagnose,
            ttl=settings.diagnose_ttl,
            concurrency=settings.concurrency,
            poll_interval=settings.poll_interval,
        )
        self.budget = Budget(work_budget(remaining_ms(context), settings.reserve))
        self.credentials = resolve_credentials(context, env)
        self.gateways: dict[tuple[str, str], ElbGateway] = {}
        logs.set_secrets(self.credentials.secrets() if self.credentials else ())

    def fail(self, entry: dict[str, Any], event: str = "watch.error") -> None:
        self.errors.append(entry)
        self.log.error(event, **{k: v for k, v in entry.items() if v is not None})

    def gateway_for(
        self, region_hint: str | None, project_hint: str | None, where: dict[str, Any]
    ) -> tuple[ElbGateway | None, str, str]:
        """The gateway for a region and project, or None after reporting what configuration is missing."""
        region = region_hint or self.settings.region or ""
        project_id = resolve_project_id(project_hint, self.context, self.env) or ""
        problem = None
        if not region:
            problem = ("CONFIG.REGION", "no region: put 'region' in the event or set ELB_WATCH_REGION")
        elif not project_id:
            problem = (
                "CONFIG.PROJECT_ID",
                "no project id: put 'project_id' in the event, or set HUAWEICLOUD_SDK_PROJECT_ID",
            )
        elif self.credentials is None:
            problem = (
                "CONFIG.CREDENTIALS",
                (
                    "no credentials: give the function an agency, "
                    "or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
                ),
            )
        if problem is not None:
            self.fail(error_entry(problem[0], problem[1], target=where))
            return None, region, project_id
        assert self.credentials is not None  # noqa: S101 - checked just above; narrows the type
        key = (region, project_id)
        if key not in self.gateways:
            self.gateways[key] = ElbGateway(
                region=region,
                project_id=project_id,
                credentials=self.credentials,
                settings=self.settings,
                budget=self.budget,
            )
        return self.gateways[key], region, project_id

    def watch(self, target: Target) -> None:
        """Watch one named pool and/or job, diagnosing a failed master when no job was named."""
        where = target.as_dict()
        gateway, region, project_id = self.gateway_for(target.region, target.project_id, where)
        if gateway is None:
            self.targets.append({"target": where, "status": "error", "findings": []})
            return
        with logs.bound(pool_id=target.pool_id, job_id=target.job_id):
            outcome: TargetOutcome = watch_target(
                target, gateway, self.budget, self.log, self.settings.poll_interval
            )
            if target.job_id is None:
                outcome.findings, diagnosis_errors = diagnose_all(
                    outcome.findings, gateway, self.budget, self.log, options=self.diagnose_options
                )
                outcome.errors.extend(diagnosis_errors)
            for error in outcome.errors:
                self.fail(api_error_entry(where, error), "elb.error")
            self.publish(outcome.findings, region, project_id)
            self.report_incomplete([outcome.verdict] if outcome.verdict else [], where)
            summary = outcome.summary()
            self.targets.append(summary)
            self.log.info("target.assessed", **summary)

    def sweep(self, sweep: Sweep) -> None:
        """Assess every pool a sweep matches from the list itself; diagnose the failed masters."""
        where: dict[str, Any] = {"sweep": sweep.filters()}
        gateway, region, project_id = self.gateway_for(sweep.region, sweep.project_id, where)
        if gateway is None:
            self.sweeps.append({"filters": sweep.filters(), "status": "error", "pools": 0})
            return
        with logs.bound(sweep=sweep.filters()):
            outcome = sweep_pools(sweep, gateway, region, project_id)
            findings, diagnosis_errors = diagnose_all(
                outcome.findings, gateway, self.budget, self.log, options=self.diagnose_options
            )
            outcome.findings = findings
            for error in outcome.errors:
                self.fail(api_error_entry(where, error), "elb.error")
            for error in diagnosis_errors:
                self.fail(api_error_entry(where, error), "diagnosis.error")
            self.publish(findings, region, project_id)
            summary = outcome.summary()
            self.sweeps.append(summary)
            self.log.info("sweep.assessed", **summary)

    def publish(self, findings: list[Finding], region: str, project_id: str) -> None:
        """Turn findings into records: into the result and one log line each."""
        observed_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        for finding in findings:
            record = build_notification(
                finding,
                region=region,
                project_id=project_id,
                observed_at=observed_at,
                locale=self.settings.locale,
            )
            self.notifications.append(record)
            self.log.warning("notification", **record)
        for finding in findings:
            if finding.check is not None:
                self.report_incomplete([finding.check], finding.target.as_dict())

    def report_incomplete(self, verdicts: list[CheckVerdict], where: dict[str, Any]) -> None:
        """One error entry per check job that was still running when time ran out."""
        for verdict in verdicts:
            job = verdict.job
            if verdict.done or job.job_id in self.incomplete_jobs:
                continue
            self.incomplete_jobs.add(job.job_id)
            self.fail(
                error_entry(
                    "WATCH.CHECK_JOB_INCOMPLETE",
                    f"check job {job.job_id} still {job.status or 'processing'} after "
                    f"{self.budget.elapsed():.1f} s ({job.finished}/{job.total} items); "
                    "reported what was known",
                    target=where,
                ),
                "check_job.incomplete",
            )


def invoke(event: Any, context: Any, *, env: Mapping[str, str] | None = None, log_to: str = "stdout") -> Any:
    """Run one invocation: parse the event, watch each target, return the `elb-master-watch/v1` result."""
    started = time.monotonic()
    env = os.environ if env is None else env
    parsed = ParsedEvent("unknown")
    try:
        try:
            settings = load_settings(env)
        except ConfigError as exc:
            settings = Settings()
            config_error: str | None = str(exc)
        else:
            config_error = None
        logs.configure(log_to, settings.log_level)
        logs.start_invocation(request_id(context))
        run = _Invocation(context, env, settings)
        if config_error is not None:
            run.fail(error_entry("CONFIG.INVALID", config_error))
        else:
            parsed = parse_event(event)
            for problem in parsed.errors:
                run.fail(
                    error_entry("EVENT.INVALID", f"{problem.where} {problem.message}", where=problem.where),
                    "event.invalid",
                )
            for target in parsed.targets:
                run.watch(target)
            for sweep in parsed.sweeps:
                run.sweep(sweep)
        result = {
            "schema": SCHEMA,
            "ok": not run.errors,
            "notifications": run.notifications,
            "errors": run.errors,
            "targets": run.targets,
            "sweeps": run.sweeps,
            "source": parsed.source,
        }
        result = logs.scrub(result, run.credentials.secrets() if run.credentials else ())
        api_calls = sum(gateway.calls for gateway in run.gateways.values())
        run.log.info(
            "invocation.done",
            source=parsed.source,
            ok=result["ok"],
            targets=len(parsed.targets),
            sweeps=len(parsed.sweeps),
            notifications=len(run.notifications),
            errors=len(run.errors),
            api_calls=api_calls,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    except Exception as exc:  # noqa: BLE001 - the platform must get a result, never a traceback
        result = {
            "schema": SCHEMA,
            "ok": False,
            "notifications": [],
            "errors": [error_entry("WATCH.INTERNAL", f"internal error: {type(exc).__name__}")],
            "targets": [],
            "sweeps": [],
            "source": parsed.source,
        }
        with contextlib.suppress(Exception):  # logging itself failed; the result still goes back
            logs.logger().exception("invocation.crashed")
    return apig_response(result, parsed) if parsed.is_apig else result
