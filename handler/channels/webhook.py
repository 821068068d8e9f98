"""Generic webhook: the v1 record in an Alertmanager-compatible (version "4") envelope. Pure.

Existing Alertmanager webhook consumers read `status`, `alerts[].labels`, `annotations`, `startsAt`,
`endsAt` and `fingerprint` unchanged; the full `elb-master-watch/v1` record rides in the alert's extra
`record` key (and the envelope says `schema`). With a secret, the header `X-Signature:
sha256=<hex HMAC-SHA256(secret, exact body bytes)>` lets the receiver check who sent it.

Beside Alertmanager's keys the envelope carries `links` (`[{name, label, url}]`: the runbook, the
console page) and `mention` (`{mobiles, user_ids, all}`: the receiver's, from the routing file), for a
consumer that forwards to a chat of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest, band
from handler.channels.message import NOBODY, Link, plain, record_links
from handler.channels.protocol import ACCEPTED, HttpRequest, Verdict, json_bytes
from handler.limits import compact_record

SCHEMA = "elb-master-watch/v1"
RECEIVER = "elb-master-watch"
# Alertmanager's "not ended yet" time.
ZERO_TIME = "0001-01-01T00:00:00Z"
SIGNATURE_HEADER = "X-Signature"
# A digest envelope is split (never truncated) to stay under what common receivers accept in one body.
DIGEST_BYTES = 256 * 1024
# One alert's record above this is carried cut like the result's (see `_carried`).
MAX_RECORD_BYTES = 1024 * 1024
# No documented limit: a generic receiver is ours to size.
RATE_LIMITS: tuple[tuple[int, float], ...] = ()


def alertname(kind: str) -> str:
    """The Alertmanager alert name for a finding kind: master_failed -> ElbMasterFailed."""
    words = [word for word in kind.replace("-", "_").split("_") if word.isalnum()]
    return "Elb" + "".join(word.capitalize() for word in words) if words else "ElbMasterWatch"


def _block(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def _labels(record: Mapping[str, Any]) -> dict[str, str]:
    """The alert's identity, the same when it fires and when it resolves (the state is in `status`).

    A resolved record says severity info; its labels keep the severity it fired with.
    """
    pool = _block(record, "pool")
    member = _block(record, "master") or _block(record, "standby")
    labels = {
        "alertname": alertname(plain(record.get("kind"))),
        "severity": plain(record.get("firing_severity")) or plain(record.get("severity")),
        "kind": plain(record.get("kind")),
        "region": plain(record.get("region")),
        "project_id": plain(record.get("project_id")),
        "pool_id": plain(pool.get("id")),
        "pool_name": plain(pool.get("name")),
        "member_id": plain(member.get("id")),
    }
    return {name: value for name, value in labels.items() if value}


def _annotations(record: Mapping[str, Any]) -> dict[str, str]:
    annotations = {
        "summary": plain(record.get("title")),
        "description": text if isinstance(text := record.get("text"), str) else plain(text),
        "notification_reason": plain(record.get("notification_reason")),
    }
    return {name: value for name, value in annotations.items() if value}


def _carried(record: Mapping[str, Any]) -> dict[str, Any]:
    """The whole record, unless it is too big for one body: then the result's cut (100 items + a count).

    Structured consumers get every failed item of any real check job; a 3,000-item job of 3 KB params
    would otherwise make a 9 MB body that receivers refuse.
    """
    whole = dict(record)
    return whole if len(json_bytes(whole)) <= MAX_RECORD_BYTES else compact_record(whole)


def _alert(record: Mapping[str, Any]) -> dict[str, Any]:
    resolved = plain(record.get("status")).lower() == "resolved"
    observed = plain(record.get("observed_at"))
    return {
        "status": "resolved" if resolved else "firing",
        "labels": _labels(record),
        "annotations": _annotations(record),
        "startsAt": plain(record.get("started_at")) or observed,
        "endsAt": observed if resolved else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": plain(record.get("fingerprint")),
        "record": _carried(record),
    }


def _group_key(group_labels: Mapping[str, str]) -> str:
    return "{}:{" + ", ".join(f"{name}={json.dumps(value)}" for name, value in group_labels.items()) + "}"


def _common(dicts: list[Mapping[str, str]]) -> dict[str, str]:
    """The name/value pairs every dict shares (Alertmanager's commonLabels/commonAnnotations)."""
    if not dicts:
        return {}
    return {name: value for name, value in dicts[0].items() if all(d.get(name) == value for d in dicts[1:])}


def _extras(links: tuple[Link, ...], mention: Mention) -> dict[str, Any]:
    return {
        "links": [{"name": link.name, "label": link.label, "url": link.url} for link in links],
        "mention": {"mobiles": list(mention.mobiles), "user_ids": list(mention.user_ids), "all": mention.all},
    }


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The envelope for one record (structured data: nothing is escaped or trimmed)."""
    alert = _alert(record)
    labels = alert["labels"]
    group_labels = {name: labels[name] for name in ("alertname", "pool_id") if name in labels}
    return {
        "version": "4",
        "groupKey": _group_key(group_labels),
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "",
        "alerts": [alert],
        "schema": SCHEMA,
        **_extras(record_links(record, locale), mention),
    }


def render_digest(digest: Digest) -> dict[str, Any]:
    """One envelope with an alert per finding of the digest (Alertmanager's grouped notification)."""
    alerts = [_alert(record) for record in digest.records]
    status, severity = band(digest.records[0]) if digest.records else ("firing", "info")
    group_labels = {"severity": severity, "status": status}
    return {
        "version": "4",
        "groupKey": _group_key(group_labels),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": _common([alert["labels"] for alert in alerts]),
        "commonAnnotations": _common([alert["annotations"] for alert in alerts]),
        "externalURL": "",
        "alerts": alerts,
        "schema": SCHEMA,
        "digest": {"title": digest.message.title, "part": digest.part, "parts": digest.parts},
        **_extras(digest.message.links, digest.message.mention),
    }


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's envelope stays under DIGEST_BYTES."""
    return len(json_bytes(render_digest(digest))) <= DIGEST_BYTES


def signature(secret: str, body: bytes) -> str:
    """The X-Signature value for a body: sha256=<hex HMAC-SHA256 keyed with the secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered envelope, with X-Signature over the exact body when there is a secret."""
    body = json_bytes(payload)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if channel.secret:
        headers[SIGNATURE_HEADER] = signature(channel.secret, body)
    return HttpRequest(channel.url, body, headers)


def judge(body: str) -> Verdict:
    """Any 2xx answer means the receiver took the envelope."""
    return ACCEPTED
