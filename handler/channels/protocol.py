"""What a webhook channel hands the transport, and how a service's answer is judged. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handler.text import clip

# How much of a service's answer is quoted in an error: enough to read its code and message.
ANSWER_CHARS = 200


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One POST to send: the URL (may carry tokens: never logged), headers and the exact body bytes."""

    url: str = field(repr=False)
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a 2xx answer means: sent, or an error (and whether trying again may help)."""

    error: str | None = None
    retryable: bool = False
    # The service refused because we sent too fast: owed to a later try, never a permanent failure.
    throttled: bool = False

    @property
    def ok(self) -> bool:
        """Whether the service accepted the message."""
        return self.error is None


ACCEPTED = Verdict()


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact body bytes for a JSON payload: compact, UTF-8 (the size limits count these bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def quote_answer(body: str) -> str:
    """A short, single-line quote of a service's answer for an error message."""
    return clip(body, ANSWER_CHARS)


def json_answer(body: str) -> Mapping[str, Any] | None:
    """The answer parsed as a JSON object, or None."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, Mapping) else None


def coded_answer(
    service: str,
    body: str,
    code_keys: tuple[str, ...],
    message_keys: tuple[str, ...],
    retry_codes: frozenset[int] = frozenset(),
    *,
    throttle_codes: frozenset[int] = frozenset(),
) -> Verdict:
    """Judge a JSON answer that carries a numeric status code in its body (0 means accepted)."""
    answer = json_answer(body)
    if answer is None:
        return Verdict(f"{service} answered something that is not JSON: {quote_answer(body)!r}")
    code = next((answer[key] for key in code_keys if key in answer), None)
    message = next((str(answer[key]) for key in message_keys if key in answer), "")
    if code is None:
        return Verdict(f"{service} answered without {code_keys[0]!r}: {quote_answer(body)!r}")
    if code in {0, "0"}:
        return ACCEPTED
    error = f"{service} {code_keys[0]} {code}: {quote_answer(message)}"
    if code in throttle_codes:
        return Verdict(f"{error} (rate limited)", retryable=True, throttled=True)
    return Verdict(error, retryable=code in retry_codes)
