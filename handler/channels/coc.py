"""COC (Cloud Operations Center): the CreateReportCustomEvent body for one record. Pure.

COC's custom-alarm intake (`POST /v1/event/huawei/custom/{integration_key}`) pairs an alarm and its
recovery by `alarmId`: a firing record is sent with `alarmStatus` alarm, its resolved notice with
`alarmStatus` ok and the same id (the record's fingerprint), so COC's transfer rules can open an
incident and close it again. Mandatory fields (COC API reference): alarmId, alarmName, alarmLevel,
time (epoch milliseconds), nameSpace, applicationId, alarmDesc and alarmSource; alarmId, alarmName,
alarmDesc and URL are at most 255 characters each. One event per finding: COC has no digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from handler import console
from handler.channels.config import COC_DEFAULT_APPLICATION as DEFAULT_APPLICATION
from handler.channels.message import fit, plain
from handler.channels.webhook import alertname
from handler.limits import compact_record
from handler.text import clip

FIELD_CHARS = 255
# The service namespace of the alarm: the pools are ELB resources (Cloud Eye's name for ELB).
NAMESPACE = "SYS.ELB"
ALARM_SOURCE = "elb-master-watch"
LEVELS = {"critical": "Critical", "major": "Major", "warning": "Minor", "info": "Info"}
# COC's alarm names are Chinese characters, letters, digits, - and _ (API reference, zh).
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+")
_ALARM_ID = re.compile(r"[0-9A-Za-z]{1,255}")
# The intake takes alarms one by one: a finding is never merged into a digest (alarmId pairs them).
DIGESTS = False
# No documented rate for the intake; the API gateway's 429 is retried like every channel's.
RATE_LIMITS: tuple[tuple[int, float], ...] = ()
# `additional` has no documented limit: the record rides whole up to this, then by whole failed items.
ADDITIONAL_BYTES = 64 * 1024


def _block(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def alarm_id(record: Mapping[str, Any]) -> str:
    """The record's fingerprint (letters and digits), or a stable hash of whatever it is."""
    fingerprint = plain(record.get("fingerprint"))
    if _ALARM_ID.fullmatch(fingerprint):
        return fingerprint
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:32]


def alarm_name(record: Mapping[str, Any]) -> str:
    """ElbMasterFailed_<pool name>: the same when it fires and when it resolves."""
    name = alertname(plain(record.get("kind")))
    pool = _NAME_UNSAFE.sub("_", plain(_block(record, "pool").get("name"))).strip("_")
    return (f"{name}_{pool}" if pool else name)[:FIELD_CHARS]


def level(record: Mapping[str, Any]) -> str:
    """COC's level for the severity it fired with (a resolved notice keeps it): warning is Minor."""
    severity = plain(record.get("firing_severity")) or plain(record.get("severity"))
    return LEVELS.get(severity.lower(), "Major")


def epoch_ms(observed_at: Any) -> int | None:
    """An ISO 8601 time (the record's observed_at) as epoch milliseconds, None if it is not one."""
    try:
        moment = datetime.fromisoformat(str(observed_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(moment.timestamp() * 1000) if moment.tzinfo is not None else None


def console_url(record: Mapping[str, Any]) -> str:
    """The record's console link (`links`, name console), else the pool's load balancer in the console."""
    links = [link for link in record.get("links") or () if isinstance(link, Mapping)]
    found = next((plain(link.get("url")) for link in links if link.get("name") == "console"), "")
    if not found:
        balancers = _block(record, "pool").get("loadbalancer_ids")
        first = plain(balancers[0]) if isinstance(balancers, list) and balancers else ""
        found = console.console_url(plain(record.get("region")), first)
    return found if len(found) <= FIELD_CHARS else ""


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))


def additional(record: Mapping[str, Any]) -> dict[str, Any]:
    """The v1 record as `additional`: cut like the result's, then by failed items to ADDITIONAL_BYTES."""
    compact = compact_record(dict(record))
    check = compact.get("check")
    items = check.get("failed_items") if isinstance(check, Mapping) else None
    if not isinstance(check, Mapping) or not isinstance(items, list):
        return compact
    omitted = int(check.get("failed_items_omitted") or 0)

    def build(shown: int) -> dict[str, Any]:
        if shown >= len(items):
            return compact
        cut = {**check, "failed_items": items[:shown], "failed_items_omitted": omitted + len(items) - shown}
        return {**compact, "check": cut}

    return fit(build, len(items), _json_bytes, ADDITIONAL_BYTES)


def render(record: Mapping[str, Any], locale: str = "en") -> dict[str, Any]:
    """The ReportCustomEventRequestBody fields (COC's JSON names) for one record.

    `time` is None when the record has no readable observed_at (the sender stamps it then);
    `applicationId` is the default, which the sender replaces with the receiver's own.
    """
    del locale  # the description is the record's own rendered text, already in its locale
    pool = _block(record, "pool")
    title, text = plain(record.get("title")), record.get("text")
    description = clip(f"{title}: {text}" if isinstance(text, str) and text else title, FIELD_CHARS)
    body: dict[str, Any] = {
        "alarmId": alarm_id(record),
        "alarmName": alarm_name(record),
        "alarmLevel": level(record),
        "time": epoch_ms(record.get("observed_at")),
        "nameSpace": NAMESPACE,
        "regionId": plain(record.get("region")),
        "applicationId": DEFAULT_APPLICATION,
        "resourceId": plain(pool.get("id"))[:FIELD_CHARS],
        "resourceName": plain(pool.get("name"))[:FIELD_CHARS],
        "alarmDesc": description or alarm_name(record),
        "URL": console_url(record),
        "alarmStatus": "ok" if record.get("status") == "resolved" else "alarm",
        "alarmSource": ALARM_SOURCE,
        "additional": additional(record),
    }
    return {key: value for key, value in body.items() if value not in ("", None) or key == "time"}
