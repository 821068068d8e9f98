"""Cloud Eye custom metrics: what each run measures, as CreateMetricData items in batches. Pure.

Per pool assessed: `master_up` (1 when the master is ONLINE), `failover_active` (1 when the master is
down or missing and the standby ONLINE: the standby serves) and `failed_check_items` (the failed items
of the check job that diagnosed it, 0 without one), with dimensions `pool_id` and `loadbalancer_id`.
Per run: `watch_runs` (1), `watch_errors` (the result's error entries) and `notifications_sent` (the
deliveries sent), with the dimension `watcher` (the function's name). `handler.ces` pushes them.

Cloud Eye's limits (CreateMetricData, API v1): 1 to 10,000 items and at most 512 KB a request; ttl 1
to 604,800 s; collect_time in ms, from 3 days before to 10 minutes after now; at most 3 dimensions a
metric, a name `[A-Za-z][A-Za-z0-9_-]{0,31}`, a value `[A-Za-z0-9][A-Za-z0-9_-]{0,255}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from handler.domain import Finding, Pool

MASTER_UP = "master_up"
FAILOVER_ACTIVE = "failover_active"
FAILED_CHECK_ITEMS = "failed_check_items"
WATCH_RUNS = "watch_runs"
WATCH_ERRORS = "watch_errors"
NOTIFICATIONS_SENT = "notifications_sent"
POOL_METRICS = (MASTER_UP, FAILOVER_ACTIVE, FAILED_CHECK_ITEMS)
RUN_METRICS = (WATCH_RUNS, WATCH_ERRORS, NOTIFICATIONS_SENT)

POOL_DIMENSION = "pool_id"
LOADBALANCER_DIMENSION = "loadbalancer_id"
WATCHER_DIMENSION = "watcher"
# The `watcher` of a run outside FunctionGraph (no function name), and the loadbalancer_id of a pool
# ELB lists without a load balancer (a dimension value cannot be empty).
DEFAULT_WATCHER = "elb-master-watch"
NO_LOADBALANCER = "none"

MAX_ITEMS_PER_CALL = 10_000
MAX_BODY_BYTES = 512 * 1024
# Kept below MAX_BODY_BYTES: the SDK's serialization may differ from ours by a few bytes an item.
BATCH_BYTES = 480 * 1024
# Cloud Eye shows raw data points for 2 days; keeping them longer only costs its storage.
TTL_SECONDS = 172_800
COUNT_UNIT = "count"
_DIMENSION_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")
_FAILED_MASTER = frozenset({"master_failed", "no_master"})
_ABOUT_MASTER = frozenset({"master_failed", "no_master", "master_unknown", "no_monitor"})


@dataclass(frozen=True, slots=True)
class PoolSample:
    """One pool's metrics in one run."""

    pool_id: str
    loadbalancer_id: str
    master_up: int
    failover_active: int
    failed_check_items: int = 0


@dataclass(frozen=True, slots=True)
class RunCounts:
    """One run's metrics: its error entries and the deliveries it sent."""

    errors: int
    sent: int


@dataclass(frozen=True, slots=True)
class DataPoint:
    """One value of one metric, with its dimensions (name, value) in Cloud Eye's order."""

    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    value: int
    unit: str | None = None


def pool_sample(pool: Pool, findings: Iterable[Finding]) -> PoolSample:
    """A pool's metrics from its findings (assess_pool's): none means the master is healthy."""
    master_up, failover, items = 1, 0, 0
    for finding in findings:
        if finding.pool is None or finding.pool.id != pool.id:
            continue
        if finding.kind in _ABOUT_MASTER:
            master_up = int(finding.master is not None and finding.master.state == "ONLINE")
            standby_up = finding.standby is not None and finding.standby.state == "ONLINE"
            failover = int(finding.kind in _FAILED_MASTER and standby_up)
        if finding.check is not None:
            items = max(items, len(finding.check.failed_items))
    loadbalancer = pool.loadbalancer_ids[0] if pool.loadbalancer_ids else NO_LOADBALANCER
    return PoolSample(pool.id, loadbalancer, master_up, failover, items)


def with_check_items(samples: Sequence[PoolSample], findings: Iterable[Finding]) -> list[PoolSample]:
    """The samples with `failed_check_items` from the diagnosed findings (diagnosis runs after assessing)."""
    items: dict[str, int] = {}
    for finding in findings:
        if finding.pool is not None and finding.check is not None:
            count = len(finding.check.failed_items)
            items[finding.pool.id] = max(items.get(finding.pool.id, 0), count)
    return [
        replace(sample, failed_check_items=items[sample.pool_id]) if sample.pool_id in items else sample
        for sample in samples
    ]


def watcher_name(candidate: str) -> str:
    """The `watcher` dimension: the function's name when Cloud Eye takes it as a value, else the default."""
    return candidate if _DIMENSION_VALUE.fullmatch(candidate) else DEFAULT_WATCHER


def measurable(samples: Iterable[PoolSample]) -> list[PoolSample]:
    """The samples Cloud Eye can take: each pool once (its first sample), ids that are dimension values."""
    seen: set[str] = set()
    kept: list[PoolSample] = []
    for sample in samples:
        values = (sample.pool_id, sample.loadbalancer_id)
        if sample.pool_id not in seen and all(_DIMENSION_VALUE.fullmatch(value) for value in values):
            seen.add(sample.pool_id)
            kept.append(sample)
    return kept


def point_count(samples: Sequence[PoolSample]) -> int:
    """How many data points `data_points` yields for these (measurable) samples."""
    return len(RUN_METRICS) + len(POOL_METRICS) * len(samples)


def data_points(samples: Iterable[PoolSample], counts: RunCounts, watcher: str) -> Iterator[DataPoint]:
    """Every data point of a run: the run's three, then three per (measurable) pool sample."""
    run = ((WATCHER_DIMENSION, watcher_name(watcher)),)
    yield DataPoint(WATCH_RUNS, run, 1, COUNT_UNIT)
    yield DataPoint(WATCH_ERRORS, run, counts.errors, COUNT_UNIT)
    yield DataPoint(NOTIFICATIONS_SENT, run, counts.sent, COUNT_UNIT)
    for sample in samples:
        dimensions = ((POOL_DIMENSION, sample.pool_id), (LOADBALANCER_DIMENSION, sample.loadbalancer_id))
        yield DataPoint(MASTER_UP, dimensions, sample.master_up)
        yield DataPoint(FAILOVER_ACTIVE, dimensions, sample.failover_active)
        yield DataPoint(FAILED_CHECK_ITEMS, dimensions, sample.failed_check_items, COUNT_UNIT)


def wire_item(point: DataPoint, namespace: str, collect_ms: int) -> dict[str, Any]:
    """A data point as CreateMetricData's request item (the SDK's CreateMetricDataRequestBody fields)."""
    item: dict[str, Any] = {
        "metric": {
            "namespace": namespace,
            "metric_name": point.metric_name,
            "dimensions": [{"name": name, "value": value} for name, value in point.dimensions],
        },
        "ttl": TTL_SECONDS,
        "collect_time": collect_ms,
        "value": point.value,
    }
    if point.unit is not None:
        item["unit"] = point.unit
    return item


def batches(
    items: Iterable[Mapping[str, Any]], *, max_items: int = MAX_ITEMS_PER_CALL, max_bytes: int = BATCH_BYTES
) -> Iterator[list[Mapping[str, Any]]]:
    """The items in as few requests as Cloud Eye takes: at most `max_items` and `max_bytes` of JSON each.

    Lazy: one batch is built at a time (a 50,000-pool sweep's 150,000 items at once would be ~150 MB).
    """
    batch: list[Mapping[str, Any]] = []
    size = 2  # the brackets of the array
    for item in items:
        cost = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 2  # and ", "
        if batch and (len(batch) >= max_items or size + cost > max_bytes):
            yield batch
            batch, size = [], 2
        batch.append(item)
        size += cost
    if batch:
        yield batch
