"""Texts from outside (ELB, chat services, events) made safe to carry: no lone surrogates, no secrets.

`redact` is the one way to hide secrets (in a text or a nested value); `clip` the one way to shorten
a text: it redacts first and cuts after, so a secret that straddles the cut cannot survive as a prefix.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

REPLACEMENT = "\ufffd"
REDACTED = "***"
ELLIPSIS = "…"
_SURROGATE = re.compile("[\ud800-\udfff]")


def whole_number(text: str) -> bool:
    """True for ASCII digits only: str.isdigit() also accepts '¹' or '①', which int() refuses."""
    return text.isascii() and text.isdigit()


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


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with every given and registered secret replaced by *** (the one secret replacer).

    Every string nested in dicts, lists and tuples (keys too) is scrubbed; other values are kept.
    """
    found = tuple(secret for secret in (*secrets, *registered_secrets()) if secret)
    return _redact(value, found) if found else value


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value


def clip(
    text: Any,
    limit: int,
    secrets: Iterable[str] = (),
    *,
    one_line: bool = True,
    measure: Callable[[str], int] | None = None,
) -> str:
    """The one way to shorten a text: scrub secrets, then (one_line) fold whitespace, then cut with "…".

    Scrubbing comes first, so a secret that straddles the cut cannot survive as a prefix. `limit`
    counts characters (code points), or whatever `measure` counts: the size the text will have as
    a channel sends it (escaped, in bytes, in UTF-16 units), so the cut falls between characters
    of the plain text, never inside an escape. A cut text loses its trailing blanks before the "…";
    a measured text too short for even "…" becomes "".
    """
    line: str = redact(clean(str(text)), secrets)
    if one_line:
        line = " ".join(line.split())
    if measure is None:
        return line if len(line) <= limit else line[: max(0, limit - 1)].rstrip() + ELLIPSIS
    if measure(line) <= limit:
        return line
    low, high = 0, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(line[:middle].rstrip() + ELLIPSIS) <= limit:
            low = middle
        else:
            high = middle - 1
    return line[:low].rstrip() + ELLIPSIS if low else ""
