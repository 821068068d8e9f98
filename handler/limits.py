"""Caps on what one invocation returns: a bounded error list and a result well under the platform's limit.

FunctionGraph refuses a synchronous response over 6 MB; the result is kept under MAX_RESULT_BYTES and
says what was cut (`truncated`), so the caller always gets an answer it can read.
"""

from __future__ import annotations

import json
from typing import Any

from handler.text import clean_value, encodable

MAX_ERRORS = 100
MAX_RESULT_BYTES = 1_000_000
# Cut in this order: per-delivery detail first, the error list last.
_CUTTABLE = ("deliveries", "held", "targets", "sweeps", "notifications", "errors")


def _size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, ensure_ascii=False, default=str).encode("utf-8", "replace"))


def cap_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first MAX_ERRORS entries and, if there were more, one entry saying how many were left out.

    One entry over MAX_ERRORS passes: the event parser's own "… and N more" entry, already a count.
    """
    if len(errors) <= MAX_ERRORS + 1:
        return errors
    hidden = len(errors) - MAX_ERRORS
    more = {
        "target": None,
        "code": "WATCH.ERRORS_TRUNCATED",
        "status": None,
        "message": f"… and {hidden} more errors (the first {MAX_ERRORS} are listed; the log has them all)",
        "request_id": None,
    }
    return [*errors[:MAX_ERRORS], more]


def bound_result(result: dict[str, Any], limit: int = MAX_RESULT_BYTES) -> dict[str, Any]:
    """The result made safe to return: UTF-8-encodable, errors capped, and at most `limit` bytes of JSON.

    Lists are halved from the end (in `_CUTTABLE` order) until the result fits; `truncated` then
    says how many entries of each list were left out.
    """
    if not encodable(result):
        result = clean_value(result)
    result = {**result, "errors": cap_errors(list(result.get("errors") or []))}
    if _size(result) <= limit:
        return result
    cut: dict[str, int] = {}
    for key in _CUTTABLE:
        entries = list(result.get(key) or [])
        while entries and _size(result) > limit:
            keep = len(entries) // 2
            cut[key] = cut.get(key, 0) + len(entries) - keep
            entries = entries[:keep]
            result[key] = entries
        if _size(result) <= limit:
            break
    result["truncated"] = {
        "limit_bytes": limit,
        "left_out": cut,
        "note": "the result was over its size limit: these lists were cut; the log has every entry",
    }
    return result
