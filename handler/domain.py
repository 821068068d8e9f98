"""Domain types: what the watcher knows about pools, members, check jobs and what went wrong.

Plain frozen dataclasses. Nothing here knows about the SDK, HTTP or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# Every delivery channel, in the order deliveries are listed (events name them, channels configure them).
CHANNEL_NAMES = ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams", "coc")

SCHEMA = "elb-master-watch/v1"

Severity = Literal["critical", "major", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to watch, as named by an event: a pool, a member check job, or both."""

    pool_id: str | None = None
    job_id: str | None = None
    listener_id: str | None = None
    region: str | None = None
    project_id: str | None = None
    # The channels this target's notifications may go to; None means every configured channel.
    channels: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, for results and logs."""
        pairs = (
            ("pool_id", self.pool_id),
            ("job_id", self.job_id),
            ("listener_id", self.listener_id),
            ("region", self.region),
            ("project_id", self.project_id),
        )
        fields: dict[str, Any] = {key: value for key, value in pairs if value is not None}
        if self.channels is not None:
            fields["channels"] = list(self.channels)
        return fields


@dataclass(frozen=True, slots=True)
class Sweep:
    """Every active/standby pool of a project that matches the filters (empty filters: all of them)."""

    loadbalancer_ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    enterprise_project_ids: tuple[str, ...] = ()
    region: str | None = None
    listener_ids: tuple[str, ...] = ()
    project_id: str | None = None
    channels: tuple[str, ...] | None = None

    def filters(self) -> dict[str, list[str]]:
        """The filters that are set, in the event's own field names."""
        pairs = (
            ("loadbalancer_id", self.loadbalancer_ids),
            ("name", self.names),
            ("enterprise_project_id", self.enterprise_project_ids),
            ("listener_id", self.listener_ids),
        )
        return {key: list(values) for key, values in pairs if values}


@dataclass(frozen=True, slots=True)
class HealthReason:
    """Why ELB's health check marked a member unhealthy (MemberHealthCheckFailedReason)."""

    reason_code: str | None = None
    expected_response: str | None = None
    healthcheck_response: str | None = None


@dataclass(frozen=True, slots=True)
class ListenerHealth:
    """A member's health as seen by one listener (ListenerMemberInfo)."""

    listener_id: str
    operating_status: str


@dataclass(frozen=True, slots=True)
class Member:
    """A backend server of a master/standby pool (MasterSlaveMember)."""

    id: str
    name: str = ""
    address: str = ""
    protocol_port: int | None = None
    role: str = ""
    operating_status: str = ""
    admin_state_up: bool | None = None
    listener_health: tuple[ListenerHealth, ...] = ()
    reason: HealthReason | None = None


@dataclass(frozen=True, slots=True)
class HealthMonitor:
    """The pool's health check, as far as the assessment needs it."""

    id: str = ""
    type: str = ""
    admin_state_up: bool = True


@dataclass(frozen=True, slots=True)
class Pool:
    """A master/standby backend server pool (MasterSlavePool)."""

    id: str
    name: str = ""
    protocol: str = ""
    listener_ids: tuple[str, ...] = ()
    loadbalancer_ids: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    healthmonitor: HealthMonitor | None = None
    project_id: str = ""
    # "0" is the default enterprise project; "" when ELB sent none.
    enterprise_project_id: str = ""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One item of a member check job (MemberCheckJobResultItem)."""

    name: str
    severity: str = ""
    subject: str = ""
    reason: str | None = None
    reason_template: str | None = None
    reason_params: tuple[str, ...] = ()
    # False when ELB's reason_params was not a list (then reason_params holds what it was, as text).
    params_listed: bool = True


@dataclass(frozen=True, slots=True)
class CheckGroup:
    """One result group of a check job: config, acl or security_group (MemberCheckJobResultGroup)."""

    name: str
    check_result: bool | None = None
    check_status: str = ""
    items: tuple[CheckItem, ...] = ()
    # Failing items ELB listed past handler.limits.MAX_CHECK_ITEMS: counted, not kept.
    items_omitted: int = 0


@dataclass(frozen=True, slots=True)
class CheckJob:
    """A member check job and its results so far (MemberCheckJobInfo)."""

    job_id: str
    status: str = ""
    member_id: str = ""
    listener_id: str = ""
    finished: int | None = None
    total: int | None = None
    groups: tuple[CheckGroup, ...] = ()
    created_at: str = ""
    updated_at: str = ""
    # ELB's own "finished/total" when it was impossible (finished > total, a negative count): the
    # counters above are then clamped into range.
    impossible_counters: str | None = None


@dataclass(frozen=True, slots=True)
class FailedCheck:
    """A check item that failed, with its reason rendered to plain text."""

    group: str
    name: str
    severity: str
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """What a check job says: which items failed and which groups could not complete."""

    job: CheckJob
    failed_items: tuple[FailedCheck, ...] = ()
    incomplete_groups: tuple[str, ...] = ()
    failed_groups: tuple[str, ...] = ()
    # Failed items of failed groups that ELB listed past the cap on items kept per group.
    failed_items_omitted: int = 0

    @property
    def done(self) -> bool:
        """The job has stopped running (processed or failed)."""
        return self.job.status.lower() in {"processed", "failed"}

    @property
    def passed(self) -> bool:
        """The job finished and nothing failed."""
        return (
            self.job.status.lower() == "processed" and not self.failed_groups and not self.incomplete_groups
        )


@dataclass(frozen=True, slots=True)
class MemberState:
    """A member's overall health across the pool's listeners."""

    member: Member
    state: str
    failed_listeners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an operator should hear about, before it is rendered into a notification."""

    kind: str
    severity: Severity
    pool: Pool | None = None
    master: MemberState | None = None
    standby: MemberState | None = None
    check: CheckVerdict | None = None
    target: Target = field(default_factory=Target)


class ElbApiError(Exception):
    """An ELB call that did not give an answer: an API error, a timeout, a broken response."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        """Keep the fields the result reports for every API error."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.attempts = attempts


# The keys of a v1 notification record that `Notification` has a field for (in record order).
_RECORD_FIELDS = (
    "status",
    "severity",
    "kind",
    "fingerprint",
    "title",
    "text",
    "pool",
    "master",
    "standby",
    "check",
    "project_id",
    "region",
    "observed_at",
)


def _block(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification about one finding: what the notification pipeline decides on and routes.

    Its v1 record (schema `elb-master-watch/v1`) is the form at the edges: `to_record()` for the
    result, the log line, the store and the channels' payloads; `of()` reads one back (a stored
    notice, a resolved notice, a watcher error). Keys the type does not know ride along in `extra`.
    """

    fingerprint: str
    kind: str
    severity: str
    title: str
    status: str = "firing"
    text: str = ""
    pool: Mapping[str, Any] | None = None
    master: Mapping[str, Any] | None = None
    standby: Mapping[str, Any] | None = None
    check: Mapping[str, Any] | None = None
    project_id: str | None = ""
    region: str | None = ""
    observed_at: str = ""
    # Why it is sent this run (first, changed, repeat, resolved); None before the lifecycle decided.
    reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        """Whether this is the notice that a finding is gone."""
        return self.status == "resolved"

    def to_record(self) -> dict[str, Any]:
        """The v1 record: the form the result, the log, the store and the channels carry."""
        record: dict[str, Any] = {
            "status": self.status,
            "severity": self.severity,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "title": self.title,
            "text": self.text,
            "pool": dict(self.pool) if self.pool is not None else None,
            "master": dict(self.master) if self.master is not None else None,
            "standby": dict(self.standby) if self.standby is not None else None,
            "check": dict(self.check) if self.check is not None else None,
            "project_id": self.project_id,
            "region": self.region,
            "observed_at": self.observed_at,
            **self.extra,
        }
        if self.reason is not None:
            record["notification_reason"] = self.reason
        return record

    @classmethod
    def of(cls, value: Notification | Mapping[str, Any]) -> Notification:
        """A notification from a v1 record (or itself); a value of the wrong type reads as empty text."""
        if isinstance(value, Notification):
            return value
        extra = {
            key: item
            for key, item in value.items()
            if key not in _RECORD_FIELDS and key != "notification_reason"
        }
        reason = value.get("notification_reason")
        return cls(
            fingerprint=_text(value.get("fingerprint")),
            kind=_text(value.get("kind")),
            severity=_text(value.get("severity")),
            title=_text(value.get("title")),
            status=_text(value.get("status")) or "firing",
            text=_text(value.get("text")),
            pool=_block(value.get("pool")),
            master=_block(value.get("master")),
            standby=_block(value.get("standby")),
            check=_block(value.get("check")),
            project_id=_optional_text(value.get("project_id")),
            region=_optional_text(value.get("region")),
            observed_at=_text(value.get("observed_at")),
            reason=reason if isinstance(reason, str) else None,
            extra=extra,
        )


@dataclass(frozen=True, slots=True)
class ElbHealth:
    """What one region and project's ELB calls showed in a run: the proof a watcher_error needs.

    `answered`: some call got an HTTP answer (ELB is reachable from here). `authorized`: some call
    got a 2xx answer (the credentials and permissions work). `unreached` and `denied`: the first
    call that ended without an answer (timeout, refused) and the first one refused 401/403.
    """

    region: str
    project_id: str
    calls: int = 0
    answered: bool = False
    authorized: bool = False
    unreached: ElbApiError | None = None
    denied: ElbApiError | None = None
