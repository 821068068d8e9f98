"""The sweep's pagination guard: a repeating or cycling next_marker stops within one extra list call.

Real SDK over real HTTP against the simulator's hostile "paging" modes; no mocks.
"""

from __future__ import annotations

import math

import pytest

import handler
from elb_simulator import ElbSimulator
from handler.app import WARM
from tests.builders import point_at
from tests.support import PlatformContext, demo_scenario


@pytest.fixture(autouse=True)
def fresh_job_memory():
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def sweep_against(monkeypatch, pools, paging):
    """Sweep a generated fleet (0.3% failed masters, diagnosis on) served with the given paging mode."""
    scenario = demo_scenario()
    scenario["pools"] = []
    scenario["jobs"] = []
    scenario["fleet"] = {"pools": pools, "failed_ratio": 0.003, "seed": 7, "loadbalancers": 10}
    scenario["paging"] = paging
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    with ElbSimulator(scenario) as sim:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("ELB_WATCH_RETRY_BASE_SECONDS", "0.02")
        monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.02")
        order = sim.pool_ids()
        failed = set(sim.failed_pool_ids())
        result = handler.handler({"sweep": {}}, PlatformContext(remaining_ms=30_000))
        list_calls = sim.count("master-slave-pools", "GET")
    return result, list_calls, failed, order


def malformed(result):
    return [e for e in result["errors"] if e.get("code") == "ELB.MALFORMED_RESPONSE"]


def test_repeating_marker_stops_after_one_extra_call_and_diagnoses_what_was_read(monkeypatch):
    result, list_calls, failed, order = sweep_against(monkeypatch, 4000, "repeat")
    first_page = set(order[:2000])
    read_failed = failed & first_page
    assert read_failed, "the seed gives failed masters on the first page"
    assert list_calls <= 1 + 1  # one page read (served again and again), one extra call at most
    [error] = malformed(result)
    assert order[1999] in error["message"], "the error names the repeated marker"
    [summary] = result["sweeps"]
    assert summary["pools"] == 2000, "each pool counted once"
    assert summary["pages"] == list_calls
    assert summary["status"] == "error"
    notified = {record["pool"]["id"] for record in result["notifications"]}
    assert notified == read_failed
    assert all(record["check"] is not None for record in result["notifications"])
    assert summary["diagnosed"] == len(read_failed)


def test_cycling_marker_stops_after_one_extra_call_and_diagnoses_what_was_read(monkeypatch):
    result, list_calls, failed, order = sweep_against(monkeypatch, 8000, "cycle")
    read = set(order[:6000])  # pages A, B, then the page after B, whose next_marker is A again
    assert list_calls <= 3 + 1
    [error] = malformed(result)
    assert order[1999] in error["message"], "the error names marker A"
    [summary] = result["sweeps"]
    assert summary["pools"] == 6000
    assert summary["pages"] == list_calls
    notified = {record["pool"]["id"] for record in result["notifications"]}
    assert notified == failed & read
    assert notified
    assert all(record["check"] is not None for record in result["notifications"])


@pytest.mark.parametrize("pools", [2000, 4001])
def test_normal_multi_page_listing_is_unaffected(monkeypatch, pools):
    result, list_calls, failed, _order = sweep_against(monkeypatch, pools, "normal")
    assert malformed(result) == []
    assert result["errors"] == []
    [summary] = result["sweeps"]
    assert summary["status"] == "assessed"
    assert summary["pools"] == pools
    assert list_calls == summary["pages"] == math.ceil(pools / 2000)
    assert {record["pool"]["id"] for record in result["notifications"]} == failed
