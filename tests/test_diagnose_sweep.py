"""Auto-diagnosis (CreateMemberHealthCheckJob) and the fleet sweep (ListMasterSlavePools), end to end."""

from __future__ import annotations

import json
import math
import time

import pytest

import handler
from elb_simulator import ElbSimulator, Fault
from handler.app import WARM
from handler.events import parse_event
from tests.support import DEMO_POOL, PlatformContext, demo_scenario, load_event

DEMO_MASTER = "2e7b36d2-66c8-4825-bcd2-211d99978680"
DEMO_LISTENER = "0b11747a-b139-492f-9692-2df0b1c87193"


@pytest.fixture(autouse=True)
def fresh_job_memory():
    """Each test starts with no remembered diagnosis jobs (the memory is per warm instance)."""
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def run(event, remaining_ms=30_000):
    return handler.handler(event, PlatformContext(remaining_ms=remaining_ms))


def fleet(monkeypatch, pools, failed_ratio=0.0, **extra):
    scenario = demo_scenario()
    scenario["pools"] = []
    scenario["jobs"] = []
    scenario["fleet"] = {"pools": pools, "failed_ratio": failed_ratio, "seed": 7, "loadbalancers": 10}
    scenario.update(extra)
    sim = ElbSimulator(scenario).start()
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    return sim


# --- auto-diagnosis -------------------------------------------------------------------------------


def test_failed_master_is_diagnosed_without_a_job_in_the_event(simulator):
    result = run({"pool_id": DEMO_POOL})
    [record] = result["notifications"]
    assert record["check"] is not None
    assert [item["name"] for item in record["check"]["failed_items"]] == [
        "acl_check_hc_dest_port_ingress",
        "security_group_check_hc_source_ip_ingress",
    ]
    [job] = simulator.created_jobs
    assert (job["member_id"], job["listener_id"]) == (DEMO_MASTER, DEMO_LISTENER)
    assert record["check"]["job_id"] == job["job_id"]
    assert result["errors"] == []


def test_job_is_reused_within_the_ttl_instead_of_starting_another(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")  # both runs notify, so both show the job they used
    first = run({"pool_id": DEMO_POOL})
    second = run({"pool_id": DEMO_POOL})
    assert len(simulator.created_jobs) == 1
    assert simulator.count("/health-check", "POST") == 1
    assert first["notifications"][0]["check"]["job_id"] == second["notifications"][0]["check"]["job_id"]


def test_job_is_started_again_after_the_ttl(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE_TTL", "0")
    run({"pool_id": DEMO_POOL})
    run({"pool_id": DEMO_POOL})
    assert len(simulator.created_jobs) == 2


def test_diagnosis_can_be_turned_off(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    result = run({"pool_id": DEMO_POOL})
    assert result["notifications"][0]["check"] is None
    assert simulator.count("/health-check") == 0


def test_named_job_means_no_new_job(simulator):
    run(load_event("direct.json"))
    assert simulator.created_jobs == []


def test_healthy_pool_is_not_diagnosed(simulator):
    pool = demo_scenario()["pools"][0]
    pool["members"][0]["status"] = []
    simulator.set_pool(pool)
    assert run({"pool_id": DEMO_POOL})["notifications"] == []
    assert simulator.created_jobs == []


@pytest.mark.parametrize("fault", [Fault(method="POST", status=500), Fault(method="POST", reset=True)])
def test_a_write_that_may_have_reached_elb_is_not_repeated(simulator, fault):
    simulator.add_fault(fault)
    result = run({"pool_id": DEMO_POOL})
    assert simulator.count("/health-check", "POST") == 1
    [record] = result["notifications"]
    assert record["kind"] == "master_failed"
    assert record["check"] is None, "the notification still goes out, without reasons"
    assert "diagnosis of master" in result["errors"][0]["message"]


def test_a_throttled_write_is_retried(simulator):
    simulator.add_fault(Fault(method="POST", status=429, times=1))
    result = run({"pool_id": DEMO_POOL})
    assert simulator.count("/health-check", "POST") == 2
    assert len(simulator.created_jobs) == 1
    assert result["notifications"][0]["check"]["failed_items"]


def test_reused_job_that_elb_forgot_is_replaced(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")  # the in-process memo, which the test plants a job in
    run({"pool_id": DEMO_POOL})
    forgotten = simulator.created_jobs[0]["job_id"]
    WARM.started_jobs.remember(DEMO_MASTER, DEMO_LISTENER, "job-that-no-longer-exists", ttl=900)
    result = run({"pool_id": DEMO_POOL})
    assert len(simulator.created_jobs) == 2
    assert result["notifications"][0]["check"]["job_id"] not in {forgotten, "job-that-no-longer-exists"}
    assert result["errors"] == []


# --- sweep events ---------------------------------------------------------------------------------


def test_sweep_event_is_parsed_with_filters():
    parsed = parse_event(
        {"sweep": {"loadbalancer_id": ["lb-1", "lb-2"], "name": "web"}, "region": "cn-north-4"}
    )
    assert parsed.errors == ()
    [sweep] = parsed.sweeps
    assert sweep.loadbalancer_ids == ("lb-1", "lb-2")
    assert sweep.names == ("web",)
    assert sweep.region == "cn-north-4"


def test_sweep_in_a_timer_event():
    timer = load_event("timer.json") | {"user_event": json.dumps({"sweep": {}})}
    parsed = parse_event(timer)
    assert parsed.source == "timer"
    assert len(parsed.sweeps) == 1


@pytest.mark.parametrize(
    ("event", "where"),
    [
        ({"sweep": {"vpc_id": ["x"]}}, "sweep"),
        ({"sweep": {"name": []}}, "sweep.name"),
        ({"sweep": {"name": [3]}}, "sweep.name[0]"),
        ({"sweep": []}, "sweep"),
        ({"sweep": {}, "pool_id": "p"}, "event"),
    ],
)
def test_bad_sweeps_are_located_errors(event, where):
    parsed = parse_event(event)
    assert parsed.sweeps == ()
    assert parsed.errors[0].where == where


# --- sweeps against a generated fleet ---------------------------------------------------------------


@pytest.mark.parametrize("pools", [1, 1999, 2000, 4000, 4001])
def test_healthy_sweep_costs_one_list_call_per_2000_pools(monkeypatch, simulator, pools):
    sim = fleet(monkeypatch, pools)
    try:
        result = run({"sweep": {}})
    finally:
        sim.stop()
    assert result["ok"] is True
    assert result["notifications"] == []
    [summary] = result["sweeps"]
    assert summary["pools"] == pools
    assert sim.count() == math.ceil(pools / 2000)
    assert summary["pages"] == math.ceil(pools / 2000)


def test_sweep_finds_and_diagnoses_every_failed_master(monkeypatch, simulator):
    template = demo_scenario()["diagnoses"]
    sim = fleet(monkeypatch, 3000, failed_ratio=0.01, diagnoses=template)
    try:
        failed = set(sim.failed_pool_ids())
        result = run({"sweep": {}})
        list_calls = sim.count("master-slave-pools", "GET")
        creates = sim.count("/health-check", "POST")
        reads = sim.count("/check/jobs/", "GET")
    finally:
        sim.stop()
    assert failed, "the seed gives some failed masters"
    notified = {record["pool"]["id"] for record in result["notifications"]}
    assert notified == failed
    assert all(record["check"]["failed_items"] for record in result["notifications"])
    assert list_calls == 2
    assert creates == len(failed)
    assert reads >= len(failed)
    assert result["sweeps"][0]["diagnosed"] == len(failed)
    assert result["errors"] == []


def test_sweep_filters_reach_the_api(monkeypatch, simulator):
    sim = fleet(monkeypatch, 50)
    try:
        everything = run({"sweep": {}})["sweeps"][0]["pools"]
        pool = demo_scenario()["pools"][0] | {"id": "only-me", "name": "only-me"}
        sim.set_pool(pool)
        result = run({"sweep": {"name": ["only-me"]}})
    finally:
        sim.stop()
    assert everything == 50
    assert result["sweeps"][0]["pools"] == 1
    assert [record["pool"]["id"] for record in result["notifications"]] == ["only-me"]


def test_sweep_listing_error_keeps_what_was_read(monkeypatch, simulator):
    sim = fleet(monkeypatch, 4500, failed_ratio=0.01)
    sim.add_fault(Fault(path="master-slave-pools", status=403, times=None))
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    try:
        result = run({"sweep": {}})
    finally:
        sim.stop()
    assert result["ok"] is False
    assert result["errors"][0]["status"] == 403
    assert result["sweeps"][0]["status"] == "error"


def test_diagnoses_respect_the_api_rate_limit(monkeypatch, simulator):
    template = demo_scenario()["diagnoses"]
    sim = fleet(monkeypatch, 1000, failed_ratio=0.02, diagnoses=template)
    monkeypatch.setenv("ELB_WATCH_API_RATE", "20")
    try:
        started = time.monotonic()
        result = run({"sweep": {}})
        elapsed = time.monotonic() - started
        calls = sim.count()
    finally:
        sim.stop()
    assert len(result["notifications"]) >= 4
    # A token bucket: a one-second burst of 20, then 20 per second, so n calls take >= (n - 20) / 20 s.
    assert calls > 40
    assert elapsed >= (calls - 20) / 20 * 0.9


def test_sweep_reports_what_the_budget_could_not_diagnose(monkeypatch, simulator):
    template = demo_scenario()["diagnoses"]["*"] | {"processing_reads": -1}
    sim = fleet(monkeypatch, 300, failed_ratio=0.05, diagnoses={"*": template})
    monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.2")
    try:
        failed = sim.failed_pool_ids()
        started = time.monotonic()
        result = run({"sweep": {}}, remaining_ms=3000)
        elapsed = time.monotonic() - started
    finally:
        sim.stop()
    assert elapsed < 3.0
    assert len(result["notifications"]) == len(failed), "every failed master is reported, checked or not"
    codes = [e["code"] for e in result["errors"]]
    assert "WATCH.CHECK_JOB_INCOMPLETE" in codes
    assert set(codes) <= {"WATCH.CHECK_JOB_INCOMPLETE", "WATCH.TIME_BUDGET"}


def test_job_started_by_another_instance_is_reused_through_the_store(simulator, monkeypatch, tmp_path):
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    first = run({"pool_id": DEMO_POOL})
    WARM.started_jobs.clear()
    second = run({"pool_id": DEMO_POOL})
    assert len(simulator.created_jobs) == 1
    job_id = simulator.created_jobs[0]["job_id"]
    assert first["notifications"][0]["check"]["job_id"] == job_id
    assert second["held"] or second["notifications"] == [], "the store also de-duplicates the alert"
