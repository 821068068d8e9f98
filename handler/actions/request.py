"""An APIG request for an action link, read into a small value. Pure: never raises on bad input."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from handler.actions import PREFIX

MAX_FORM_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """The method, the token (the path after /a/), the submitted form fields and the source address."""

    method: str
    token: str
    source: str
    form: Mapping[str, str] = field(default_factory=dict)


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("headers")
    if not isinstance(raw, Mapping):
        return {}
    return {str(name).lower(): str(value) for name, value in raw.items() if isinstance(value, str | int)}


def source_address(event: Mapping[str, Any]) -> str:
    """Who asked: APIG's source IP, else X-Real-IP, else the last X-Forwarded-For hop (the gateway's)."""
    context = event.get("requestContext")
    found = context.get("sourceIp") if isinstance(context, Mapping) else None
    headers = _headers(event)
    if not isinstance(found, str) or not found:
        found = headers.get("x-real-ip") or headers.get("x-forwarded-for", "").split(",")[-1]
    kept = "".join(c for c in found.strip() if c.isalnum() or c in ".:-_")[:64]
    return kept or "unknown"


def _form(event: Mapping[str, Any]) -> dict[str, str]:
    body = event.get("body")
    if not isinstance(body, str) or not body:
        return {}
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body[: MAX_FORM_BYTES * 2], validate=True)
        except (binascii.Error, ValueError):
            return {}
        body = raw.decode("utf-8", "replace")
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body, keep_blank_values=True, max_num_fields=20)
    return {name: values[0] for name, values in fields.items() if values}


def read_request(event: Mapping[str, Any]) -> ActionRequest:
    """The action request an APIG event carries (an empty token when the path names none)."""
    method = str(event.get("httpMethod") or "GET").upper()[:10]
    path = str(event.get("path") or "")
    token = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    try:
        parsed = _form(event) if method == "POST" else {}
    except ValueError:  # more fields than max_num_fields
        parsed = {}
    return ActionRequest(method, token.strip("/")[:400], source_address(event), parsed)
