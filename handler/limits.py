"""Caps on what one invocation returns: a bounded error list and a result well under the platform's limit.

FunctionGraph refuses a synchronous response over 6 MB; the result is kept under MAX_RESULT_BYTES and
says what was cut (`truncated`), so the caller always gets an answer it can read.
"""

from __future__ import annotations

import json
from typing import Any

from handler.text import clean_value

MAX_ERRORS = 100
MAX_RESULT_BYTES = 1_000_000
# A notification in the result or the log lists at most this many failed items (channels trim their own).
MAX_RECORD_ITEMS = 100
# ... and its plain `text` at most this many characters.
MAX_RECORD_TEXT = 20_000
# What one ELB answer may cost. A body is read in chunks and refused over this many bytes
# (ELB.RESPONSE_TOO_LARGE): the largest real answer, a 2,000-pool ListMasterSlavePools page, is 3.3 MB
# in the simulator (longer names, more listeners: a few times that), and a 40 MB member name must not
# take a 128 MB function down (refused, it peaks at about 71 MB RSS; just under the cap, about 110 MB).
MAX_ELB_RESPONSE_BYTES = 16 * 1024 * 1024
# ... and holding more JSON values than this (counted as its commas, before it is parsed): 16 MB of `{}`
# would parse into 5 million objects (1 GB). A 2,000-pool page holds about 120,000.
MAX_ELB_RESPONSE_VALUES = 400_000
# Each text field ELB sends is cut to these many characters (ending in "…") where its wire JSON becomes
# domain values (handler.elb_model), before it reaches a record, a log line or the store.
MAX_NAME_CHARS = 255  # names, ids, statuses, addresses: every short field
MAX_REASON_CHARS = 1024  # a check item's reason and reason_template, a health check's responses
MAX_PARAM_CHARS = 256  # each reason_params value
MAX_REASON_PARAMS = 32  # reason_params values kept per check item
MAX_CHECK_ITEMS = 1000  # check items kept per result group (the rest are counted)
MAX_MEMBERS = 10  # members read per pool (an active/standby pool has two; the rest are not read)
# The lists that may be cut when the result is still too big.
_CUTTABLE = ("deliveries", "held", "targets", "sweeps", "notifications", "errors")


# Room left for what compacting adds while it cuts (a "failed_items_omitted" count, an ellipsis).
_SHRINK_SLACK = 4096


def _size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, ensure_ascii=False, default=str).encode("utf-8", "replace"))


def _encoded_size(result: dict[str, Any]) -> int | None:
    """The size of the result's UTF-8 JSON, or None when it cannot be written as UTF-8 (or as JSON)."""
    try:
        return len(json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"))
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return None


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


def compact_record(record: dict[str, Any]) -> dict[str, Any]:
    """A notification record for the result or a log line: failed items and text cut, with counts.

    A check job of 3,000 items of 3 KB would make one 18 MB record; the cut keeps the first
    MAX_RECORD_ITEMS items and says how many were left out (`check.failed_items_omitted`, as SMN's
    machine subscribers get it). Records within the limits come back unchanged (the same object).
    """
    check = record.get("check")
    items = check.get("failed_items") if isinstance(check, dict) else None
    text = record.get("text")
    long_list = isinstance(items, list) and len(items) > MAX_RECORD_ITEMS
    long_text = isinstance(text, str) and len(text) > MAX_RECORD_TEXT
    if not long_list and not long_text:
        return record
    compact = dict(record)
    if long_list and isinstance(check, dict) and isinstance(items, list):
        omitted = len(items) - MAX_RECORD_ITEMS + int(check.get("failed_items_omitted") or 0)
        compact["check"] = {
            **check,
            "failed_items": items[:MAX_RECORD_ITEMS],
            "failed_items_omitted": omitted,
        }
    if long_text and isinstance(text, str):
        compact["text"] = text[: MAX_RECORD_TEXT - 1] + "…"
    return compact


def bound_result(result: dict[str, Any], limit: int = MAX_RESULT_BYTES) -> dict[str, Any]:
    """The result made safe to return: UTF-8-encodable, errors capped, and at most `limit` bytes of JSON.

    Lists are halved from the end (in `_CUTTABLE` order) until the result fits; `truncated` then
    says how many entries of each list were left out.
    """
    size = _encoded_size(result)
    if size is None:
        result = clean_value(result)
    notifications = [
        compact_record(r) if isinstance(r, dict) else r for r in result.get("notifications") or []
    ]
    result = {
        **result,
        "notifications": notifications,
        "errors": cap_errors(list(result.get("errors") or [])),
    }
    # Compacting records and capping errors only shrink the result: measured before, it still fits.
    if (size is not None and size <= limit - _SHRINK_SLACK) or _size(result) <= limit:
        return result
    cut: dict[str, int] = {}
    # The biggest list first: a few small deliveries are worth keeping.
    for key in sorted(_CUTTABLE, key=lambda name: -_size({"x": result.get(name) or []})):
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
