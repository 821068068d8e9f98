"""SMN topic: the PublishMessage subject and message_structure for one record. Pure.

message_structure is a JSON string with a `default` (required; what any protocol without its own key
gets), `email` (the full plain text), `sms` (one short line, without [] or 【】, which operators reject)
and, for machine subscribers (`http`, `https`, `functiongraph`, `functionstage`), the record as JSON.
Limits: subject at most 512 bytes, the whole JSON message at most 256 KB, SMS at most 490 characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handler.channels.digest import Digest
from handler.channels.escape import sms_text
from handler.channels.message import (
    Message,
    display_title,
    fit,
    headline,
    plain,
    summarize,
)
from handler.text import clip

SUBJECT_BYTES = 512
MESSAGE_BYTES = 256 * 1024
SMS_CHARS = 490
# A short SMS: one line a phone shows whole.
SMS_TARGET_CHARS = 200
MACHINE_PROTOCOLS = ("http", "https", "functiongraph", "functionstage")
# PublishMessage has API throttling (HTTP 429, retried); no per-topic message rate is documented.
RATE_LIMITS: tuple[tuple[int, float], ...] = ()


def _utf8_bytes(text: str) -> int:
    """SMN counts the subject in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def _plain_text(message: Message, shown: int) -> str:
    lines = [display_title(message), "", " · ".join(headline(message))]
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts]
    # Plain URLs: every mail client links them (mentions are not an email or SMS thing: ignored).
    lines += [f"{link.label}: {link.url}" for link in message.links]
    if message.items:
        lines += ["", f"{message.items_heading} ({len(message.items)}):"]
        lines += [
            f"- [{item.tag}] {item.text}" if item.tag else f"- {item.text}" for item in message.items[:shown]
        ]
        if shown < len(message.items):
            lines.append(f"- {message.more(len(message.items) - shown)}")
    if message.note:
        lines.append(message.note)
    lines += ["", f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}"]
    return "\n".join(lines)


def _sms(message: Message, region: str) -> str:
    context = ", ".join(part for part in (region, message.observed_at) if part)
    line = f"{display_title(message)} ({context})" if context else display_title(message)
    return clip(sms_text(line), min(SMS_TARGET_CHARS, SMS_CHARS))


def _machine_record(record: Mapping[str, Any], text: str, shown: int, total: int) -> dict[str, Any]:
    """The record for machine subscribers; when items were trimmed, its check and text say so."""
    if shown >= total:
        return dict(record)
    check = dict(record.get("check") or {})
    check["failed_items"] = list(check.get("failed_items") or [])[:shown]
    check["failed_items_omitted"] = total - shown
    return {**record, "check": check, "text": text}


def _structure(
    record: Mapping[str, Any], message: Message, shown: int, items_in_record: int, *, machine: bool = True
) -> str:
    text = _plain_text(message, shown)
    structure = {"default": text, "email": text, "sms": _sms(message, plain(record.get("region")))}
    if machine:
        view = _machine_record(record, text, min(shown, items_in_record), items_in_record)
        structure.update(dict.fromkeys(MACHINE_PROTOCOLS, json.dumps(view, ensure_ascii=False)))
    return json.dumps(structure, ensure_ascii=False)


def _size(value: str) -> int:
    return len(value.encode("utf-8"))


def render(record: Mapping[str, Any], locale: str = "en") -> dict[str, str]:
    """The PublishMessage fields for one record, trimmed by failed items to SMN's limits."""
    message = summarize(record, locale)
    subject = clip(display_title(message), SUBJECT_BYTES, one_line=False, measure=_utf8_bytes)
    check = record.get("check")
    failed = check.get("failed_items") if isinstance(check, Mapping) else None
    items_in_record = len(failed) if isinstance(failed, list) else 0
    total = len(message.items)
    structure = fit(
        lambda shown: _structure(record, message, shown, items_in_record), total, _size, MESSAGE_BYTES
    )
    if _size(structure) > MESSAGE_BYTES:
        # A record too big even without its items: machine subscribers get the default text instead.
        structure = fit(
            lambda shown: _structure(record, message, shown, items_in_record, machine=False),
            total,
            _size,
            MESSAGE_BYTES,
        )
    return {"subject": subject, "message_structure": structure}


def _digest_structure(digest: Digest) -> str:
    message = digest.message
    text = _plain_text(message, len(message.items))
    regions = {plain(record.get("region")) for record in digest.records}
    sms = _sms(message, regions.pop() if len(regions) == 1 else "")
    machine = json.dumps(
        {
            "schema": "elb-master-watch/v1",
            "digest": {"title": message.title, "part": digest.part, "parts": digest.parts},
            "notifications": [dict(record) for record in digest.records],
        },
        ensure_ascii=False,
    )
    structure = {"default": text, "email": text, "sms": sms, **dict.fromkeys(MACHINE_PROTOCOLS, machine)}
    return json.dumps(structure, ensure_ascii=False)


def digest_fits(digest: Digest) -> bool:
    """Whether the digest (full text for email, every record for machine subscribers) fits 256 KB."""
    return _size(_digest_structure(digest)) <= MESSAGE_BYTES


def render_digest(digest: Digest) -> dict[str, str]:
    """The PublishMessage fields for a digest: email gets every line, SMS one line that counts."""
    subject = clip(display_title(digest.message), SUBJECT_BYTES, one_line=False, measure=_utf8_bytes)
    return {"subject": subject, "message_structure": _digest_structure(digest)}
