"""Cloud Eye (CES) alarm notifications, as an SMN trigger delivers them, read into watch requests. Pure.

An alarm rule on ELB's `SYS.ELB` metrics (e.g. `m9_abnormal_servers`, "Unhealthy Servers") says how
many backends are unhealthy on which load balancer, not which pool or why. Routed to this function
through SMN, it becomes a targeted check: every active/standby pool of that load balancer (listener
when named too), or the pool itself when the alarm names one. An `ok` (recovery) alarm runs the
same check, so the lifecycle resolves only what really recovered.

Two notification formats exist; both arrive as the SMN record's `message` (a JSON string):

- the classic alarm message: `{"message_type": "alarm", "alarm_id", "alarm_name", "alarm_status":
  "alarm"|"ok"|"insufficient_data", "time", "namespace": "SYS.ELB", "metric_name",
  "dimension": "lbaas_instance_id:<id>[,<name>:<value>...]", ..., "template_variable": {"Region",
  "ResourceId", ...}}`;
- the "v1" JSON template: `{"version": "v1", "data": {"Namespace" (a display name), "ResourceId"
  (the load balancer id), "RegionId", "IsAlarm", "AlarmRuleName", ...}}`.

Sources (see the issue-11 note): a captured SMN message in eumel8/otc-rds-operator, the Cloud Eye
"v1" template shown in apache/hertzbeat's Huawei Cloud CES help page, and the `SYS.ELB` dimensions
lbaas_instance_id / lbaas_listener_id / lbaas_pool_id of Cloud Eye's ELB metric reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from handler.domain import Sweep, Target

ELB_NAMESPACE = "SYS.ELB"
# What the v1 template puts in `Namespace` for ELB: a display name in the account's language.
ELB_DISPLAY_NAMESPACES = frozenset(
    {"sys.elb", "elastic load balance", "elastic load balancing", "elb", "弹性负载均衡"}
)
LOADBALANCER_DIMENSION = "lbaas_instance_id"
LISTENER_DIMENSION = "lbaas_listener_id"
POOL_DIMENSION = "lbaas_pool_id"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_REGION = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+)+")
# A dimension pair: a name, then ':' or '=' and the value; pairs are separated by ',' or ';'.
_PAIR = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]{0,63})\s*[:=]\s*([^,;]*)")


@dataclass(frozen=True, slots=True)
class AlarmProblem:
    """Why an alarm notification cannot become a check, and where in the event."""

    where: str
    message: str


def _show(value: Any, limit: int = 80) -> str:
    return repr(str(value)[:limit])


def decode_alarm(message: Any) -> Mapping[str, Any] | None:
    """The alarm notification an SMN message carries, or None when it is not one (e.g. a direct call)."""
    data = message
    if isinstance(message, bytes | bytearray):
        try:
            data = bytes(message).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(data, str):
        if '"message_type"' not in data and '"version"' not in data:
            return None  # a direct call (or not JSON): left to the direct-call reader, parsed once
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return None
    if not isinstance(data, Mapping):
        return None
    if data.get("message_type") == "alarm":
        return data
    if data.get("version") == "v1" and isinstance(data.get("data"), Mapping):
        return data
    return None


def parse_dimension(text: str) -> dict[str, str]:
    """`"lbaas_instance_id:a,lbaas_listener_id:b"` as {name: value}; the first value of a name wins."""
    pairs: dict[str, str] = {}
    for chunk in re.split(r"[,;]", text):
        match = _PAIR.fullmatch(chunk)
        if match and match.group(2).strip():
            pairs.setdefault(match.group(1), match.group(2).strip())
    return pairs


def _valid_id(value: Any, where: str) -> str | AlarmProblem:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return AlarmProblem(where, f"is not a valid resource id: {_show(value)}")
    return value


def _region(*candidates: Any) -> str | None:
    """The first candidate that is a region id (cn-north-4); display names ("CN North-Beijing4") are not."""
    for candidate in candidates:
        if isinstance(candidate, str) and _REGION.fullmatch(candidate):
            return candidate
    return None


def _request(
    ids: Mapping[str, str], region: str | None, where: str
) -> Iterator[Target | Sweep | AlarmProblem]:
    """The check an alarm asks for: the pool it names, else the pools of its load balancer/listener."""
    checked: dict[str, str] = {}
    for name in (POOL_DIMENSION, LOADBALANCER_DIMENSION, LISTENER_DIMENSION):
        if name in ids:
            value = _valid_id(ids[name], f"{where}.{name}")
            if isinstance(value, AlarmProblem):
                yield value
                return
            checked[name] = value
    if POOL_DIMENSION in checked:
        yield Target(pool_id=checked[POOL_DIMENSION], region=region)
    elif LOADBALANCER_DIMENSION in checked or LISTENER_DIMENSION in checked:
        yield Sweep(
            loadbalancer_ids=tuple(v for k, v in checked.items() if k == LOADBALANCER_DIMENSION),
            listener_ids=tuple(v for k, v in checked.items() if k == LISTENER_DIMENSION),
            region=region,
        )
    else:
        yield AlarmProblem(
            where,
            "names no load balancer, listener or pool "
            f"({LOADBALANCER_DIMENSION}, {LISTENER_DIMENSION} or {POOL_DIMENSION}) to check",
        )


def _classic(alarm: Mapping[str, Any], where: str) -> Iterator[Target | Sweep | AlarmProblem]:
    namespace = alarm.get("namespace")
    if namespace != ELB_NAMESPACE:
        yield AlarmProblem(
            f"{where}.namespace",
            f"is {_show(namespace)}: only {ELB_NAMESPACE} alarms name a load balancer this function checks",
        )
        return
    variables = alarm.get("template_variable")
    variables = variables if isinstance(variables, Mapping) else {}
    dimension = alarm.get("dimension")
    ids = parse_dimension(dimension) if isinstance(dimension, str) else {}
    if not ids and isinstance(variables.get("ResourceId"), str):
        # No dimension: the template's ResourceId is the load balancer of a SYS.ELB alarm.
        ids = {LOADBALANCER_DIMENSION: variables["ResourceId"]}
    if not (ids.keys() & {LOADBALANCER_DIMENSION, LISTENER_DIMENSION, POOL_DIMENSION}):
        yield AlarmProblem(
            f"{where}.dimension",
            f"{_show(dimension)} names no load balancer, listener or pool "
            f"({LOADBALANCER_DIMENSION}, {LISTENER_DIMENSION} or {POOL_DIMENSION})",
        )
        return
    yield from _request(
        ids, _region(variables.get("RegionId"), variables.get("Region")), f"{where}.dimension"
    )


def _v1(alarm: Mapping[str, Any], where: str) -> Iterator[Target | Sweep | AlarmProblem]:
    data: Mapping[str, Any] = alarm["data"]
    where = f"{where}.data"
    namespace = data.get("Namespace")
    if not isinstance(namespace, str) or namespace.strip().lower() not in ELB_DISPLAY_NAMESPACES:
        yield AlarmProblem(
            f"{where}.Namespace",
            f"is {_show(namespace)}: only Elastic Load Balance ({ELB_NAMESPACE}) alarms name a load "
            "balancer this function checks",
        )
        return
    if "ResourceId" not in data:
        yield AlarmProblem(f"{where}.ResourceId", "is missing: it names the load balancer to check")
        return
    resource = _valid_id(data["ResourceId"], f"{where}.ResourceId")
    if isinstance(resource, AlarmProblem):
        yield resource
        return
    region = _region(data.get("RegionId"), data.get("Region"))
    yield from _request({LOADBALANCER_DIMENSION: resource}, region, where)


def alarm_requests(alarm: Mapping[str, Any], where: str) -> Iterator[Target | Sweep | AlarmProblem]:
    """The checks a decoded alarm notification asks for (or why it asks for none)."""
    if alarm.get("message_type") == "alarm":
        yield from _classic(alarm, where)
    else:
        yield from _v1(alarm, where)
