"""Reading trigger events into watch targets. Pure: no I/O, never raises on bad input.

Accepted shapes (samples in `events/`):

- direct call: `{"pool_id", "job_id", "listener_id", "region", "project_id"}` or `{"targets": [...]}`;
- TIMER trigger: `user_event` holds a direct call as a JSON string;
- SMN trigger: `record[].smn.message` holds a direct call as JSON, or a Cloud Eye alarm notification
  (`handler.cloudeye`: an ELB alarm becomes a check of the load balancer or pool it names);
- APIG trigger: `body` holds a direct call as JSON, base64-encoded when `isBase64Encoded`;
- DMS for Kafka trigger: `records[].messages[]` (or the flat `messages[]`), each a direct call as JSON;
- EventGrid: CloudEvents, `{"events": [...]}` or a single event, with a direct call in `data`.

Anywhere a direct call goes, `{"sweep": {"loadbalancer_id": [...], "name": [...],
"enterprise_project_id": [...]}}` asks for every active/standby pool of the project that matches,
and `{"report": "weekly"}` (`"channels"` optional) asks for the weekly report (`handler.reporting`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from handler.domain import CHANNEL_NAMES, Sweep, Target

MAX_EVENT_BYTES = 256 * 1024
MAX_TARGETS = 100
# At most this many sweeps per event, after alarms on the same load balancers are collapsed (each sweep
# is at least one ListMasterSlavePools call; the rest are one EVENT.INVALID "… and N more sweeps").
MAX_SWEEPS = 10
# Load balancers one collapsed sweep lists in one call (ListMasterSlavePools' loadbalancer_id is a list).
MAX_LOADBALANCERS_PER_SWEEP = 20
# At most this many event errors are listed, then one "… and N more" entry.
MAX_ERRORS = 100

TARGET_FIELDS = ("pool_id", "job_id", "listener_id", "region", "project_id")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
# A receiver name (routing file) or a channel type: what an event's "channels" may name.
_RECEIVER = re.compile(r"[a-z0-9_-]{1,64}")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_PROJECT = re.compile(r"[A-Za-z0-9]{1,64}")
_PATTERNS = {
    "pool_id": _ID,
    "job_id": _ID,
    "listener_id": _ID,
    "region": _REGION,
    "project_id": _PROJECT,
}


@dataclass(frozen=True, slots=True)
class EventError:
    """What was wrong with an event, and where in it."""

    where: str
    message: str


REPORTS = ("weekly",)
"""What `{"report": ...}` may ask for."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """`{"report": "weekly", "channels"?: [...]}`: send the history's summary to the receivers."""

    kind: str
    channels: tuple[str, ...] | None = None


Entry = Target | Sweep | EventError | ReportRequest
"""What an event reader yields."""


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """The targets an event names, the parts of it that could not be read, and its trigger type."""

    source: str
    targets: tuple[Target, ...] = ()
    errors: tuple[EventError, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    report: ReportRequest | None = None

    @property
    def is_apig(self) -> bool:
        """The event came through API Gateway, which expects an HTTP-shaped answer."""
        return self.source == "apig"


class _InvalidEventError(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.error = EventError(where, message)


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _decode_json(text: Any, where: str) -> Any:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _InvalidEventError(where, "is not UTF-8 text") from exc
    if not isinstance(text, str):
        raise _InvalidEventError(where, f"must be a JSON string, got {_describe(text)}")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:
        raise _InvalidEventError(where, f"is larger than {MAX_EVENT_BYTES} bytes")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        snippet = text[:40].replace("\n", " ")
        raise _InvalidEventError(
            where, f"is not valid JSON ({exc.__class__.__name__}: {snippet!r}...)"
        ) from exc


def _require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _InvalidEventError(where, f"must be a JSON object, got {_describe(value)}")
    return value


def _require_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _InvalidEventError(where, f"must be a list, got {_describe(value)}")
    return value


def _field(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    path = f"{where}.{key}" if where else key
    if not isinstance(value, str):
        raise _InvalidEventError(path, f"must be a string, got {_describe(value)}")
    if not _PATTERNS[key].fullmatch(value):
        raise _InvalidEventError(path, f"is not a valid {key.replace('_', ' ')}: {value[:80]!r}")
    return value


def _channels(data: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    """`"channels": ["feishu", "payments-feishu"]`: narrow delivery to these receivers (or channel types)."""
    if "channels" not in data:
        return None
    path = f"{where}.channels" if where else "channels"
    names = data["channels"]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _InvalidEventError(path, f"must be a list of receiver names, got {_describe(names)}")
    unknown = sorted({name[:80] for name in names[:100] if not _RECEIVER.fullmatch(name)})
    if unknown or len(names) > 100:
        raise _InvalidEventError(
            path,
            f"not receiver names: {unknown[:5]}; use receivers of the routing file or channel types "
            f"({', '.join(CHANNEL_NAMES)}), at most 100",
        )
    return tuple(dict.fromkeys(names))


def _target(data: Any, where: str, defaults: Mapping[str, Any]) -> Target:
    data = _require_mapping(data, where or "event")
    unknown = sorted(str(k) for k in data if k not in (*TARGET_FIELDS, "channels"))
    if unknown:
        raise _InvalidEventError(
            where or "event", f"unknown field(s) {unknown}; expected some of {list(TARGET_FIELDS)}"
        )
    values = {key: _field(data, key, where) for key in TARGET_FIELDS}
    if values["pool_id"] is None and values["job_id"] is None:
        raise _InvalidEventError(where or "event", "names neither a pool_id nor a job_id")
    for key in ("region", "project_id"):
        values[key] = values[key] or defaults.get(key)
    channels = _channels(data, where)
    return Target(**values, channels=channels if channels is not None else defaults.get("channels"))


SWEEP_FILTERS = {
    "loadbalancer_id": "loadbalancer_ids",
    "name": "names",
    "enterprise_project_id": "enterprise_project_ids",
}


def _filter_values(value: Any, where: str) -> tuple[str, ...]:
    """A sweep filter: a string or a list of strings, each a plain id or name."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise _InvalidEventError(
            where, f"must be a string or a non-empty list of strings, got {_describe(value)}"
        )
    for index, item in enumerate(values):
        if not isinstance(item, str) or not _ID.fullmatch(item):
            raise _InvalidEventError(f"{where}[{index}]", f"is not a valid filter value: {str(item)[:80]!r}")
    return tuple(dict.fromkeys(values))


def _sweep(body: Mapping[str, Any], where: str) -> Sweep:
    """`{"sweep": {filters}, "region"?, "project_id"?}`: every active/standby pool that matches."""
    extra = sorted(str(k) for k in body if k not in {"sweep", "region", "project_id", "channels"})
    if extra:
        raise _InvalidEventError(where or "event", f"unknown field(s) {extra} beside 'sweep'")
    prefix = f"{where}.sweep" if where else "sweep"
    filters = _require_mapping(body["sweep"], prefix)
    unknown = sorted(str(k) for k in filters if k not in SWEEP_FILTERS)
    if unknown:
        raise _InvalidEventError(
            prefix, f"unknown filter(s) {unknown}; expected some of {list(SWEEP_FILTERS)}"
        )
    values = {SWEEP_FILTERS[key]: _filter_values(value, f"{prefix}.{key}") for key, value in filters.items()}
    return Sweep(
        **values,
        region=_field(body, "region", where),
        project_id=_field(body, "project_id", where),
        channels=_channels(body, where),
    )


def _sweeps(body: Mapping[str, Any], where: str) -> Iterator[Sweep | EventError]:
    """`{"sweeps": [{"region", "project_id", "sweep": {filters}, "channels"?}, …]}`: many scopes in one event.

    Each entry is a sweep of its own region and project; at most MAX_SWEEPS entries (like targets,
    the rest is one error: each sweep costs ELB list calls).
    """
    extra = sorted(str(k) for k in body if k != "sweeps")
    prefix = f"{where}.sweeps" if where else "sweeps"
    try:
        if extra:
            raise _InvalidEventError(where or "event", f"unknown field(s) {extra} beside 'sweeps'")
        items = _require_list(body["sweeps"], prefix)
        if not items:
            raise _InvalidEventError(prefix, "is empty")
        if len(items) > MAX_SWEEPS:
            raise _InvalidEventError(prefix, f"has {len(items)} entries; at most {MAX_SWEEPS} per event")
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    for index, item in enumerate(items):
        place = f"{prefix}[{index}]"
        try:
            entry = _require_mapping(item, place)
            if "sweep" not in entry:
                raise _InvalidEventError(place, "needs a 'sweep' object (use {} for every pool)")
            yield _sweep(entry, place)
        except _InvalidEventError as invalid:
            yield invalid.error


def _report(body: Mapping[str, Any], where: str) -> ReportRequest:
    """`{"report": "weekly", "channels"?: [...]}`."""
    extra = sorted(str(k) for k in body if k not in {"report", "channels"})
    if extra:
        raise _InvalidEventError(where or "event", f"unknown field(s) {extra} beside 'report'")
    if body["report"] not in REPORTS:
        place = f"{where}.report" if where else "report"
        asked = body["report"]
        got = repr(asked[:40]) if isinstance(asked, str) else _describe(asked)
        raise _InvalidEventError(place, f"must be one of {list(REPORTS)}, got {got}")
    return ReportRequest(str(body["report"]), _channels(body, where))


def _direct(data: Any, where: str) -> Iterator[Entry]:
    """A direct call: one target, `targets` with optional shared `region`/`project_id`, a sweep, a report."""
    try:
        body = _require_mapping(data, where or "event")
        if "report" in body:
            yield _report(body, where)
            return
        if "sweep" in body:
            yield _sweep(body, where)
            return
        if "sweeps" in body:
            yield from _sweeps(body, where)
            return
        if "targets" not in body:
            yield _target(body, where, {})
            return
        extra = sorted(str(k) for k in body if k not in {"targets", "region", "project_id", "channels"})
        if extra:
            raise _InvalidEventError(where or "event", f"unknown field(s) {extra} beside 'targets'")
        defaults: dict[str, Any] = {key: _field(body, key, where) for key in ("region", "project_id")}
        defaults["channels"] = _channels(body, where)
        prefix = f"{where}.targets" if where else "targets"
        items = _require_list(body["targets"], prefix)
        if not items:
            raise _InvalidEventError(prefix, "is empty")
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    for index, item in enumerate(items):
        try:
            yield _target(item, f"{prefix}[{index}]", defaults)
        except _InvalidEventError as invalid:
            yield invalid.error


def _embedded(text: Any, where: str) -> Iterator[Entry]:
    """A direct call carried as a JSON string (or, leniently, as an object) inside an envelope."""
    if isinstance(text, Mapping):
        yield from _direct(text, where)
        return
    try:
        data = _decode_json(text, where)
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    yield from _direct(data, where)


def _timer(event: Mapping[str, Any]) -> Iterator[Entry]:
    if "user_event" not in event or event["user_event"] in (None, ""):
        yield EventError("user_event", "is empty: put the watch request in the timer's additional info")
        return
    yield from _embedded(event["user_event"], "user_event")


def _smn(event: Mapping[str, Any]) -> Iterator[Entry]:
    try:
        records = _require_list(event["record"], "record")
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    from handler import cloudeye  # noqa: PLC0415 - only SMN-triggered runs read Cloud Eye alarms

    for index, record in enumerate(records):
        where = f"record[{index}].smn"
        smn = record.get("smn") if isinstance(record, Mapping) else None
        if not isinstance(smn, Mapping):
            yield EventError(where, "is missing or not an object")
            continue
        alarm = cloudeye.decode_alarm(smn.get("message"))
        if alarm is not None:  # a Cloud Eye alarm notification: check what it names
            for entry in cloudeye.alarm_requests(alarm, f"{where}.message"):
                if isinstance(entry, cloudeye.AlarmProblem):
                    yield EventError(entry.where, entry.message)
                else:
                    yield entry
            continue
        yield from _embedded(smn.get("message"), f"{where}.message")


def _apig(event: Mapping[str, Any]) -> Iterator[Entry]:
    body = event.get("body")
    if body in (None, ""):
        yield EventError("body", "is empty: POST the watch request as JSON")
        return
    if event.get("isBase64Encoded") is True:
        if not isinstance(body, str):
            yield EventError("body", f"must be a base64 string, got {_describe(body)}")
            return
        if len(body) > MAX_EVENT_BYTES * 4 // 3 + 4:
            yield EventError("body", f"is larger than {MAX_EVENT_BYTES} bytes")
            return
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            yield EventError("body", "is not valid base64 although isBase64Encoded is true")
            return
    yield from _embedded(body, "body")


def _kafka(event: Mapping[str, Any]) -> Iterator[Entry]:
    if "records" not in event and "messages" in event:
        # The flat DMS-for-Kafka event: {"trigger_type": "KAFKA", "messages": [...], "topic_id": ...}.
        messages = event["messages"]
        if not isinstance(messages, list):
            yield EventError("messages", f"must be a list, got {_describe(messages)}")
            return
        for position, message in enumerate(messages):
            yield from _embedded(message, f"messages[{position}]")
        return
    if "records" not in event:
        yield EventError("records", "is missing: a Kafka event carries records[].messages[] or messages[]")
        return
    try:
        records = _require_list(event["records"], "records")
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    for index, record in enumerate(records):
        where = f"records[{index}].messages"
        messages = record.get("messages") if isinstance(record, Mapping) else None
        if not isinstance(messages, list):
            yield EventError(where, "is missing or not a list")
            continue
        for position, message in enumerate(messages):
            yield from _embedded(message, f"{where}[{position}]")


def _cloudevent(data: Any, where: str) -> Iterator[Entry]:
    if not isinstance(data, Mapping):
        yield EventError(where, f"must be a CloudEvent object, got {_describe(data)}")
        return
    if "data_base64" in data and "data" not in data:
        encoded = data["data_base64"]
        try:
            decoded = base64.b64decode(encoded if isinstance(encoded, str) else "", validate=True)
        except (binascii.Error, ValueError):
            yield EventError(f"{where}.data_base64", "is not valid base64")
            return
        yield from _embedded(decoded, f"{where}.data_base64")
        return
    if data.get("data") is None:
        yield EventError(f"{where}.data", "is missing: the watch request goes in the CloudEvent's data")
        return
    yield from _embedded(data["data"], f"{where}.data")


def _eventgrid(event: Mapping[str, Any]) -> Iterator[Entry]:
    try:
        events = _require_list(event["events"], "events")
    except _InvalidEventError as invalid:
        yield invalid.error
        return
    for index, item in enumerate(events):
        yield from _cloudevent(item, f"events[{index}]")


def detect_source(event: Mapping[str, Any]) -> str:
    """Name the trigger that produced an event, from the fields each trigger is known to send."""
    trigger = str(event.get("trigger_type", "")).upper()
    if trigger == "TIMER" or ("user_event" in event and "trigger_name" in event):
        return "timer"
    if trigger == "KAFKA" or "records" in event:
        return "kafka"
    if "record" in event:
        return "smn"
    if "httpMethod" in event or "requestContext" in event or "isBase64Encoded" in event:
        return "apig"
    if "events" in event:
        return "eventgrid"
    if "specversion" in event:
        return "cloudevent"
    return "direct"


_READERS: dict[str, Callable[[Mapping[str, Any]], Iterator[Entry]]] = {
    "timer": _timer,
    "kafka": _kafka,
    "smn": _smn,
    "apig": _apig,
    "eventgrid": _eventgrid,
    "cloudevent": lambda event: _cloudevent(event, "event"),
    "direct": lambda event: _direct(event, ""),
}


def _too_large(event: Any) -> bool:
    """Whether an event is over the size limit, measured as the JSON the platform would have sent."""
    try:
        # Compact, as a client would send it: the spaces of json.dumps' default are not the event's.
        size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str))
    except (ValueError, TypeError, RecursionError):
        return True
    return size > MAX_EVENT_BYTES


def _collect(
    entries: Iterator[Entry],
) -> tuple[dict[Target, None], dict[Sweep | ReportRequest, None], list[EventError]]:
    """Targets and sweeps without duplicates, the first MAX_ERRORS errors and one "… and N more".

    Dicts keep the order and find a duplicate in constant time, so this stays linear in the input.
    """
    targets: dict[Target, None] = {}
    sweeps: dict[Sweep | ReportRequest, None] = {}
    errors: list[EventError] = []
    hidden = 0
    for entry in entries:
        if isinstance(entry, EventError):
            if len(errors) < MAX_ERRORS:
                errors.append(entry)
            else:
                hidden += 1
        elif isinstance(entry, Sweep | ReportRequest):
            sweeps.setdefault(entry, None)
        else:
            targets.setdefault(entry, None)
    if hidden:
        errors.append(EventError("event", f"… and {hidden} more errors (the first {MAX_ERRORS} are listed)"))
    return targets, sweeps, errors


def parse_event(event: Any) -> ParsedEvent:
    """Read any supported event into targets and errors; duplicates are dropped, order is kept."""
    try:
        if isinstance(event, str | bytes | bytearray):
            event = _decode_json(event, "event")
        if not isinstance(event, Mapping):
            raise _InvalidEventError("event", f"must be a JSON object, got {_describe(event)}")
        if _too_large(event):
            raise _InvalidEventError("event", f"is larger than {MAX_EVENT_BYTES} bytes (or not plain JSON)")
    except _InvalidEventError as invalid:
        return ParsedEvent("unknown", errors=(invalid.error,))
    source = detect_source(event)
    try:
        targets, sweeps, errors = _collect(_READERS[source](event))
    except RecursionError:  # a structure too deep to walk: the whole event is refused
        return ParsedEvent(source, errors=(EventError("event", "is nested too deeply to read"),))
    if len(targets) > MAX_TARGETS:
        errors.append(EventError("event", f"names {len(targets)} targets; at most {MAX_TARGETS} per event"))
        targets = {}
    report = next((entry for entry in sweeps if isinstance(entry, ReportRequest)), None)
    kept = collapse_sweeps([entry for entry in sweeps if isinstance(entry, Sweep)])
    if len(kept) > MAX_SWEEPS:
        hidden = len(kept) - MAX_SWEEPS
        message = (
            f"asks for {len(kept)} sweeps; at most {MAX_SWEEPS} per event: … and {hidden} more sweeps not run"
        )
        errors.append(EventError("event", message))
        kept = kept[:MAX_SWEEPS]
    return ParsedEvent(source, tuple(targets), tuple(errors), tuple(kept), report)


def collapse_sweeps(sweeps: list[Sweep]) -> list[Sweep]:
    """Sweeps that differ only in their load balancers or listeners, in as few list calls as say the same.

    Three hundred Cloud Eye alarms on load balancers of one project become one ListMasterSlavePools call
    per MAX_LOADBALANCERS_PER_SWEEP load balancers (the filters are lists, their values OR'd). A sweep
    narrowed to listeners of a load balancer another sweep lists whole is dropped; narrowed ones merge
    exactly (a listener belongs to one load balancer), as do sweeps of listeners alone. Sweeps with
    neither filter are kept as they are, in order.
    """
    groups: dict[tuple[Any, ...], _Merged] = {}
    kept: list[Sweep] = []
    for sweep in sweeps:
        if not sweep.loadbalancer_ids and not sweep.listener_ids:
            kept.append(sweep)
            continue
        key = (sweep.region, sweep.project_id, sweep.channels, sweep.names, sweep.enterprise_project_ids)
        merged = groups.setdefault(key, _Merged())
        if not sweep.loadbalancer_ids:
            merged.listeners_only.update(dict.fromkeys(sweep.listener_ids))
        elif not sweep.listener_ids:
            merged.whole.update(dict.fromkeys(sweep.loadbalancer_ids))
        else:
            for lb in sweep.loadbalancer_ids:
                merged.narrowed.setdefault(lb, {}).update(dict.fromkeys(sweep.listener_ids))
    for (region, project_id, channels, names, eps), merged in groups.items():
        base = Sweep(
            names=names, enterprise_project_ids=eps, region=region, project_id=project_id, channels=channels
        )
        kept.extend(replace(base, loadbalancer_ids=ids) for ids in _chunks(list(merged.whole)))
        rest = [lb for lb in merged.narrowed if lb not in merged.whole]
        for ids in _chunks(rest):
            listeners = tuple(dict.fromkeys(lst for lb in ids for lst in merged.narrowed[lb]))
            kept.append(replace(base, loadbalancer_ids=ids, listener_ids=listeners))
        kept.extend(replace(base, listener_ids=ids) for ids in _chunks(list(merged.listeners_only)))
    return kept


@dataclass(slots=True)
class _Merged:
    """One group's load balancers listed whole, narrowed to listeners, and listeners alone."""

    whole: dict[str, None] = field(default_factory=dict)
    narrowed: dict[str, dict[str, None]] = field(default_factory=dict)
    listeners_only: dict[str, None] = field(default_factory=dict)


def _chunks(ids: list[str]) -> Iterator[tuple[str, ...]]:
    for start in range(0, len(ids), MAX_LOADBALANCERS_PER_SWEEP):
        yield tuple(ids[start : start + MAX_LOADBALANCERS_PER_SWEEP])


def known_channels(parsed: ParsedEvent, known: Collection[str]) -> ParsedEvent:
    """The event without the targets and sweeps whose `channels` name no receiver or channel type here.

    Each is an EVENT.INVALID error instead (nothing is read for it): a typo in a name must not quietly
    send the alert nowhere. `known` holds the receivers' names and channel types.
    """
    kept_targets = [item for item in parsed.targets if _unknown(item.channels, known) is None]
    kept_sweeps = [item for item in parsed.sweeps if _unknown(item.channels, known) is None]
    everything: list[Target | Sweep] = [*parsed.targets, *parsed.sweeps]
    dropped = [item for item in everything if _unknown(item.channels, known) is not None]
    if not dropped:
        return parsed
    choices = ", ".join(sorted(known)) or "none is configured"
    errors = [
        EventError(
            "channels", f"names unknown receiver(s) {_unknown(item.channels, known)}; known here: {choices}"
        )
        for item in dropped
    ]
    return replace(
        parsed, targets=tuple(kept_targets), sweeps=tuple(kept_sweeps), errors=(*parsed.errors, *errors)
    )


def _unknown(channels: tuple[str, ...] | None, known: Collection[str]) -> list[str] | None:
    missing = sorted(name for name in channels or () if name not in known)
    return missing or None
