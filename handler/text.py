"""Texts from outside (ELB, chat services, events) made safe to carry: no lone surrogates, no secrets.

`clip` is the one way to shorten such a text: it scrubs every registered secret first and cuts after,
so a secret that straddles the cut cannot survive as a prefix.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

REPLACEMENT = "\ufffd"
REDACTED = "***"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """The text with every lone surrogate (valid JSON, not encodable as UTF-8) replaced by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def clean_value(value: Any) -> Any:
    """`clean` applied to every string (keys too) nested in dicts, lists and tuples; others untouched."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean_value(key): clean_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(item) for item in value]
    return value


def encodable(value: Any) -> bool:
    """Whether the value's JSON form (non-ASCII kept) can be written as UTF-8."""
    import json  # noqa: PLC0415 - cheap, keeps this module's import free of it

    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return False
    return True


def registered_secrets() -> tuple[str, ...]:
    """The secrets this invocation registered with `handler.logs.set_secrets` (none if logs is unused)."""
    logs = sys.modules.get("handler.logs")
    return logs.current_secrets() if logs is not None else ()


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with the given and the registered secrets replaced by ***."""
    for secret in (*secrets, *registered_secrets()):
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def clip(text: Any, limit: int, secrets: Iterable[str] = ()) -> str:
    """One clean line of at most `limit` characters: scrubbed first, whitespace folded, then cut with "…"."""
    line = " ".join(scrub_text(clean(str(text)), secrets).split())
    return line if len(line) <= limit else line[: max(0, limit - 1)] + "…"
