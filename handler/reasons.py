"""Turning ELB's reason codes and check-item templates into sentences a person can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

from handler import wording

_PLACEHOLDER = re.compile(r"\{\$([^{}$]+)\}")


def placeholder_names(template: str) -> list[str]:
    """The distinct `{$name}` placeholders of a template, in order of first appearance."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in names:
            names.append(name)
    return names


def render_reason(template: str | None, params: Sequence[str] | None, reason: str | None = None) -> str:
    """Render a check item's `reason_template` with its `reason_params`.

    Distinct placeholder names take the params by position, in order of first appearance; a name that
    appears twice gets the same value. Substitution is one pass, so a value is inserted literally and
    never scanned again. Missing params leave `{$name}` visible; extra params are ignored. An empty
    template falls back to `reason`.
    """
    if not template:
        return reason or ""
    values = dict(zip(placeholder_names(template), params or (), strict=False))

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


def describe_reason_code(
    code: str | None,
    expected: str | None = None,
    actual: str | None = None,
    locale: str = "en",
) -> str:
    """Describe a health-check reason code in the locale's words, with expected vs actual codes."""
    words = wording.reason_words(locale)
    if not code:
        return words["none"]
    known = wording.reason_codes(locale).get(code.upper())
    text = words["unknown"].format(code=code) if known is None else known
    if expected or actual:
        text += words["expected"].format(expected=expected or "?", actual=actual or "?")
    return text
