"""Turning ELB's reason codes and check-item templates into sentences a person can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

from handler import wording
from handler.limits import MAX_REASON_CHARS
from handler.text import ELLIPSIS

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


def item_reason(
    template: str | None, params: Sequence[str], reason: str | None, *, listed: bool = True
) -> str:
    """What a failed check item says, as truthfully as ELB's answer allows.

    The template is rendered only when it fits: `reason_params` a list (`listed`) with one value per
    distinct placeholder. Otherwise ELB's own `reason` text is shown; without one, the template as ELB
    sent it (placeholders visible) and the params, each quoted, so nothing is put in the wrong place.
    At most MAX_REASON_CHARS characters (cut with "…").
    """
    text = _item_text(template, params, reason, listed=listed)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + ELLIPSIS


def _item_text(template: str | None, params: Sequence[str], reason: str | None, *, listed: bool) -> str:
    if not template:
        if reason:
            return reason
        return _unrendered("", params, listed=listed) if params else ""
    if listed and len(placeholder_names(template)) == len(params):
        return render_reason(template, params)
    if reason:
        return reason
    return _unrendered(template, params, listed=listed)


def _unrendered(template: str, params: Sequence[str], *, listed: bool) -> str:
    """A template that cannot be rendered, with what ELB sent for it (each param quoted)."""
    shown = ", ".join(f'"{param}"' for param in params)
    if not listed:
        why = f"ELB's reason_params is not a list: {shown}"
    elif not template:
        why = f"ELB gave no reason, only reason_params: {shown}"
    else:
        count = len(placeholder_names(template))
        why = f"ELB's {len(params)} reason_params do not fit its {count} placeholders: {shown or 'none'}"
    return f"{template} ({why})" if template else f"({why})"


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
