"""Mapping ELB v3 response bodies (as dicts, field names per the API reference) to domain types.

Pure and forgiving: ELB may omit fields, send null, or add fields we do not know. A missing value
becomes an empty one; nothing here raises on a well-formed JSON object of the wrong shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler.domain import (
    CheckGroup,
    CheckItem,
    CheckJob,
    HealthMonitor,
    HealthReason,
    ListenerHealth,
    Member,
    Pool,
)
from handler.text import clean, whole_number

# The result groups of a member check job, in the order the API lists them (MemberCheckJobResult).
CHECK_GROUPS = ("config", "acl", "security_group")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    if type(value) is str and value.isascii():
        return value  # the common case, first: most ELB fields are plain ASCII
    if value is None:
        return ""
    # Valid JSON may carry a lone surrogate ("\\ud83d"); replaced here, at the border, it is carried
    # safely (as U+FFFD) to the result, the log, the store and the channels.
    return clean(value if isinstance(value, str) else str(value))


def _optional_text(value: Any) -> str | None:
    text = _text(value)
    return text or None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip()
        return int(digits) if whole_number(digits) and len(digits) <= 18 else None
    return None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ref_ids(value: Any) -> tuple[str, ...]:
    ids = (_text(_mapping(ref).get("id")) for ref in _sequence(value))
    return tuple(ref_id for ref_id in ids if ref_id)


def member_from_api(data: Mapping[str, Any]) -> Member:
    """Build a Member from a MasterSlaveMember object."""
    reason_data = data.get("reason")
    reason = None
    if isinstance(reason_data, Mapping):
        reason = HealthReason(
            reason_code=_optional_text(reason_data.get("reason_code")),
            expected_response=_optional_text(reason_data.get("expected_response")),
            healthcheck_response=_optional_text(reason_data.get("healthcheck_response")),
        )
    listener_health = tuple(
        ListenerHealth(
            listener_id=_text(_mapping(entry).get("listener_id")),
            operating_status=_text(_mapping(entry).get("operating_status")),
        )
        for entry in _sequence(data.get("status"))
        if _text(_mapping(entry).get("listener_id"))
    )
    return Member(
        id=_text(data.get("id")),
        name=_text(data.get("name")),
        address=_text(data.get("address")),
        protocol_port=_integer(data.get("protocol_port")),
        role=_text(data.get("role")),
        operating_status=_text(data.get("operating_status")),
        admin_state_up=_boolean(data.get("admin_state_up")),
        listener_health=listener_health,
        reason=reason,
    )


def pool_from_api(data: Mapping[str, Any]) -> Pool:
    """Build a Pool from a MasterSlavePool object (the `pool` field of ShowMasterSlavePool)."""
    monitor_data = data.get("healthmonitor")
    monitor = None
    if isinstance(monitor_data, Mapping):
        monitor = HealthMonitor(
            id=_text(monitor_data.get("id")),
            type=_text(monitor_data.get("type")),
            admin_state_up=monitor_data.get("admin_state_up") is not False,
        )
    return Pool(
        id=_text(data.get("id")),
        name=_text(data.get("name")),
        protocol=_text(data.get("protocol")),
        listener_ids=_ref_ids(data.get("listeners")),
        loadbalancer_ids=_ref_ids(data.get("loadbalancers")),
        members=tuple(member_from_api(_mapping(m)) for m in _sequence(data.get("members"))),
        healthmonitor=monitor,
        project_id=_text(data.get("project_id")),
    )


def _item_from_api(data: Mapping[str, Any]) -> CheckItem:
    return CheckItem(
        name=_text(data.get("name")),
        severity=_text(data.get("severity")),
        subject=_text(data.get("subject")),
        reason=_optional_text(data.get("reason")),
        reason_template=_optional_text(data.get("reason_template")),
        reason_params=tuple(_text(p) for p in _sequence(data.get("reason_params")) if p is not None),
    )


def check_job_from_api(data: Mapping[str, Any]) -> CheckJob:
    """Build a CheckJob from a MemberCheckJobInfo object (the `member_check` of ShowMemberHealthCheckJob)."""
    result = _mapping(data.get("result"))
    groups = []
    for name in CHECK_GROUPS:
        group_data = result.get(name)
        if not isinstance(group_data, Mapping):
            continue
        groups.append(
            CheckGroup(
                name=name,
                check_result=_boolean(group_data.get("check_result")),
                check_status=_text(group_data.get("check_status")),
                items=tuple(_item_from_api(_mapping(i)) for i in _sequence(group_data.get("check_items"))),
            )
        )
    return CheckJob(
        job_id=_text(data.get("job_id")),
        status=_text(data.get("status")),
        member_id=_text(data.get("member_id")),
        listener_id=_text(data.get("listener_id")),
        finished=_integer(data.get("check_item_finished_num")),
        total=_integer(data.get("check_item_total_num")),
        groups=tuple(groups),
        created_at=_text(data.get("created_at")),
        updated_at=_text(data.get("updated_at")),
    )
