"""Member check jobs that report "processing" for their first reads, then their final result."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .scenario import PROCESSING_FOREVER, RESULT_GROUPS


def total_check_items(member_check: Mapping[str, Any]) -> int:
    """check_item_total_num of the final result, or the number of its check items."""
    declared = member_check.get("check_item_total_num")
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared
    return sum(len(group_items) for _, group_items in _groups(member_check))


def job_snapshot(job: Mapping[str, Any], read_index: int) -> dict[str, Any]:
    """What read number `read_index` (0-based) of a job entry returns as its "member_check"."""
    processing_reads: int = job.get("processing_reads", 0)
    final: Mapping[str, Any] = job["member_check"]
    if processing_reads == PROCESSING_FOREVER or read_index < processing_reads:
        return processing_snapshot(final, read_index, processing_reads)
    return copy.deepcopy(dict(final))


def processing_snapshot(final: Mapping[str, Any], read_index: int, processing_reads: int) -> dict[str, Any]:
    """A "processing" view of a final member_check for read `read_index` of `processing_reads`.

    check_item_finished_num is floor(total * (i + 1) / (N + 1)) (0 when processing forever); a result
    group keeps its check_items only once every item up to and including it (in the order config,
    acl, security_group) counts as finished, so the items grow with the counter.
    """
    total = total_check_items(final)
    if processing_reads == PROCESSING_FOREVER:
        finished = 0
    else:
        finished = total * (read_index + 1) // (processing_reads + 1)
    snapshot = copy.deepcopy(dict(final))
    snapshot["status"] = "processing"
    snapshot["check_item_finished_num"] = finished
    result = snapshot.get("result")
    if not isinstance(result, dict):
        return snapshot
    reported = 0
    still_finishing = False
    for name in RESULT_GROUPS:
        group = result.get(name)
        if not isinstance(group, dict):
            continue
        items = group.get("check_items") or []
        reported += len(items)
        if still_finishing or reported > finished:
            still_finishing = True
            group["check_items"] = []
        group["check_status"] = "processing"
        group["check_result"] = True
    return snapshot


def _groups(member_check: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(name, check_items) of each result group present, in the order config, acl, security_group."""
    result = member_check.get("result")
    if not isinstance(result, Mapping):
        return []
    groups: list[tuple[str, list[Any]]] = []
    for name in RESULT_GROUPS:
        group = result.get(name)
        if isinstance(group, Mapping):
            items = group.get("check_items") or []
            groups.append((name, list(items)))
    return groups
