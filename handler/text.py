"""Texts from outside (ELB, chat services, events) made safe to carry: no lone surrogates, no secrets.

`redact` is the one way to hide secrets (in a text or a nested value); `clip` the one way to shorten
a text: it redacts first and cuts after, so a secret that straddles the cut cannot survive as a prefix.

The run's secrets live here, in a context variable (`set_secrets`; `handler.logs.set_secrets` is the
same), each in every form it can be echoed in: as given, percent-encoded (`%2B`, `%3D`, upper and
lower case hex), with `+` for a space, and decoded. Worker threads run in a copy of the caller's
context (`handler.threads`, the delivery lanes), so they scrub with the same secrets before cutting.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

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


_SECRETS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("elb_watch_secrets", default=())
_PERCENT = re.compile("%[0-9A-F]{2}")


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form the secrets can be echoed in, longest first (a longer form is replaced before its parts).

    As given; percent-encoded (`quote(safe="")`, `quote()` keeping "/", `quote_plus`), with upper- and
    lower-case hex; and decoded (`unquote`, `unquote_plus`), for a secret given in its encoded form.
    """
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        found.add(secret)
        for form in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
            found.add(form)
            found.add(_PERCENT.sub(lambda m: m.group(0).lower(), form))
        # A decoded form much shorter than the secret (mostly escapes) would blank ordinary words.
        shortest = min(8, len(secret))
        found.update(form for form in (unquote(secret), unquote_plus(secret)) if len(form) >= shortest)
    return tuple(sorted((form for form in found if form), key=lambda form: (-len(form), form)))


def set_secrets(secrets: Iterable[str]) -> None:
    """Register this invocation's secret values (in every form, `secret_forms`) in this context."""
    _SECRETS.set(secret_forms(secrets))


@contextlib.contextmanager
def more_secrets(secrets: Iterable[str]) -> Iterator[None]:
    """Register `secrets` too (every form) while the block runs, then put the previous ones back."""
    extra = tuple(secret for secret in secrets if secret)
    if not extra:
        yield
        return
    token = _SECRETS.set(secret_forms((*_SECRETS.get(), *extra)))
    try:
        yield
    finally:
        _SECRETS.reset(token)


def registered_secrets() -> tuple[str, ...]:
    """The secrets this invocation registered (`set_secrets`), in every form, longest first."""
    return _SECRETS.get()


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with every given and registered secret (in every form) replaced by *** (the one replacer).

    Every string nested in dicts, lists and tuples (keys too) is scrubbed; other values are kept.
    """
    given = tuple(secret for secret in secrets if secret)
    found = secret_forms((*given, *_SECRETS.get())) if given else _SECRETS.get()
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
