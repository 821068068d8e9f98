"""The result of one invocation (schema `elb-master-watch/v1`): one value both the run and a crash build.

Its fields are the contract users depend on: renaming one is a breaking change and bumps the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handler.domain import SCHEMA, ElbApiError


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


@dataclass(slots=True)
class RunResult:
    """What the invocation returns; `to_dict()` is the v1 result (`ok` is true when there is no error)."""

    source: str
    dry_run: bool = False
    notifications: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    deduplication: str = "off"
    held: list[dict[str, Any]] = field(default_factory=list)
    undelivered: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def crashed(cls, exc: BaseException, *, source: str, dry_run: bool) -> RunResult:
        """The result of an invocation that failed inside: one WATCH.INTERNAL error, nothing else."""
        internal = error_entry("WATCH.INTERNAL", f"internal error: {type(exc).__name__}")
        return cls(source=source, dry_run=dry_run, errors=[internal])

    def to_dict(self) -> dict[str, Any]:
        """The v1 result."""
        return {
            "schema": SCHEMA,
            "ok": not self.errors,
            "notifications": self.notifications,
            "errors": self.errors,
            "targets": self.targets,
            "sweeps": self.sweeps,
            "deliveries": self.deliveries,
            "deduplication": self.deduplication,
            "held": self.held,
            "undelivered": self.undelivered,
            "source": self.source,
            "dry_run": self.dry_run,
        }
