"""Mapping ELB v3 response bodies (as dicts, field names per the API reference) to domain types.

Pure and forgiving: ELB may omit fields, send null, or add fields we do not know. A missing value
becomes an empty one; nothing here raises on a well-formed JSON object of the wrong shape.

Bounded: every text is cut to its cap in handler.limits (ending in "…"), reason_params and check
items are counted out past theirs, and impossible progress counters are clamped and flagged, so what
ELB sends is never carried larger (or less true) into a record, a log line or the store.
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
from handler.limits import (
    MAX_CHECK_ITEMS,
    MAX_MEMBERS,
    MAX_NAME_CHARS,
    MAX_PARAM_CHARS,
    MAX_REASON_CHARS,
    MAX_REASON_PARAMS,
)
from handler.text import ELLIPSIS, clean, whole_number

# The result groups of a member check job, in the order the API lists them (MemberCheckJobResult).
CHECK_GROUPS = ("config", "acl", "security_group")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def cut(text: str, limit: int) -> str:
    """The text, or its first `limit - 1` characters and "…" when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _text(value: Any, limit: int = MAX_NAME_CHARS) -> str:
    if type(value) is str and value.isascii() and len(value) <= limit:
        return value  # the common case, first: most ELB fields are short plain ASCII
    if value is None:
        return ""
    # Valid JSON may carry a lone surrogate ("\\ud83d"); replaced here, at the border, it is carried
    # safely (as U+FFFD) to the result, the log, the store and the channels. Cut first: a 40 MB name
    # is never scanned or copied whole.
    return clean(cut(value if isinstance(value, str) else str(value), limit))


def _optional_text(value: Any, limit: int = MAX_NAME_CHARS) -> str | None:
    text = _text(value, limit)
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
            expected_response=_optional_text(reason_data.get("expected_response"), MAX_REASON_CHARS),
            healthcheck_response=_optional_text(reason_data.get("healthcheck_response"), MAX_REASON_CHARS),
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
        members=tuple(member_from_api(_mapping(m)) for m in _sequence(data.get("members"))[:MAX_MEMBERS]),
        healthmonitor=monitor,
        project_id=_text(data.get("project_id")),
        enterprise_project_id=_text(data.get("enterprise_project_id")),
    )


# Tags kept per load balancer (ELB allows 20; the rest of a hostile answer is not read).
MAX_TAGS = 50


def tags_from_api(value: Any) -> dict[str, str]:
    """A load balancer's `tags` ([{key, value}]) as {key: value}; entries without a key are skipped.

    Keys and values are cut to MAX_NAME_CHARS; at most MAX_TAGS are read; a null value is "".
    """
    tags: dict[str, str] = {}
    for entry in _sequence(value)[:MAX_TAGS]:
        key = _text(_mapping(entry).get("key"))
        if key:
            tags[key] = _text(_mapping(entry).get("value"))
    return tags


def _param(value: Any) -> str:
    """One reason_params value as text: null is empty (it keeps its place), JSON values as JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        import json  # noqa: PLC0415 - only for a hostile answer

        return _text(json.dumps(value, ensure_ascii=False, default=str), MAX_PARAM_CHARS)
    # A boolean reads as Python writes it (True), as it always has.
    return _text(value, MAX_PARAM_CHARS)


def _params(value: Any) -> tuple[tuple[str, ...], bool]:
    """reason_params as texts, and whether ELB sent them as the list the API says.

    A list keeps every position (null as ""), at most MAX_REASON_PARAMS of them; anything else
    (a string, an object, a number) becomes one text so the item can still say what ELB sent.
    """
    if isinstance(value, list):
        return tuple(_param(p) for p in value[:MAX_REASON_PARAMS]), True
    if value is None:
        return (), True
    return (_param(value),), False


def failing(data: Mapping[str, Any]) -> bool:
    """Whether a wire check item says something failed: a reason, or any reason_params at all."""
    params = data.get("reason_params")
    return bool(data.get("reason")) or (params not in (None, []))


def _item_from_api(data: Mapping[str, Any]) -> CheckItem:
    params, listed = _params(data.get("reason_params"))
    return CheckItem(
        name=_text(data.get("name")),
        severity=_text(data.get("severity")),
        subject=_text(data.get("subject")),
        reason=_optional_text(data.get("reason"), MAX_REASON_CHARS),
        reason_template=_optional_text(data.get("reason_template"), MAX_REASON_CHARS),
        reason_params=params,
        params_listed=listed,
    )


def _group_from_api(name: str, data: Mapping[str, Any]) -> CheckGroup:
    """A result group; past MAX_CHECK_ITEMS items, the failing ones left out are counted."""
    items = [_mapping(i) for i in _sequence(data.get("check_items"))]
    return CheckGroup(
        name=name,
        check_result=_boolean(data.get("check_result")),
        check_status=_text(data.get("check_status")),
        items=tuple(_item_from_api(i) for i in items[:MAX_CHECK_ITEMS]),
        items_omitted=sum(1 for i in items[MAX_CHECK_ITEMS:] if failing(i)),
    )


def counters(finished: int | None, total: int | None) -> tuple[int | None, int | None, str | None]:
    """A job's progress counters clamped into 0 <= finished <= total, and what ELB said if it was not.

    A negative total is unknown (None); the note is ELB's own "finished/total" when anything was
    changed, else None.
    """
    fixed_total = None if total is not None and total < 0 else total
    fixed = finished
    if finished is not None:
        fixed = max(0, finished if fixed_total is None else min(finished, fixed_total))
    if (fixed, fixed_total) == (finished, total):
        return finished, total, None
    shown = ("?" if finished is None else str(finished)) + "/" + ("?" if total is None else str(total))
    return fixed, fixed_total, shown


def check_job_from_api(data: Mapping[str, Any]) -> CheckJob:
    """Build a CheckJob from a MemberCheckJobInfo object (the `member_check` of ShowMemberHealthCheckJob)."""
    result = _mapping(data.get("result"))
    groups = tuple(
        _group_from_api(name, result[name]) for name in CHECK_GROUPS if isinstance(result.get(name), Mapping)
    )
    finished, total, impossible = counters(
        _integer(data.get("check_item_finished_num")), _integer(data.get("check_item_total_num"))
    )
    return CheckJob(
        job_id=_text(data.get("job_id")),
        status=_text(data.get("status")),
        member_id=_text(data.get("member_id")),
        listener_id=_text(data.get("listener_id")),
        finished=finished,
        total=total,
        groups=groups,
        created_at=_text(data.get("created_at")),
        updated_at=_text(data.get("updated_at")),
        impossible_counters=impossible,
    )
