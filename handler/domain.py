"""Domain types: what the watcher knows about pools, members, check jobs and what went wrong.

Plain frozen dataclasses. Nothing here knows about the SDK, HTTP or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# Every delivery channel, in the order deliveries are listed (events name them, channels configure them).
CHANNEL_NAMES = ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams")

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


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One item of a member check job (MemberCheckJobResultItem)."""

    name: str
    severity: str = ""
    subject: str = ""
    reason: str | None = None
    reason_template: str | None = None
    reason_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckGroup:
    """One result group of a check job: config, acl or security_group (MemberCheckJobResultGroup)."""

    name: str
    check_result: bool | None = None
    check_status: str = ""
    items: tuple[CheckItem, ...] = ()


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
