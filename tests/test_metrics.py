"""Cloud Eye custom metrics (issue 24 item 2): what is pushed, through the real SDK, to a loopback CES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from handler import metrics
from handler.app import invoke
from handler.assess import assess_pool
from handler.ces import NO_TIME, describe
from handler.config import namespace_problem, read_settings
from handler.domain import Pool
from handler.elb_model import pool_from_api
from handler.threads import DeadlineExceeded
from tests.receivers import CesReceiver, Reply, WebhookReceiver
from tests.support import DEMO_POOL, PlatformContext, api_member, api_pool

DEMO_LB = "098b2f68-af1c-41a9-8efd-69958722af62"
HEALTHY_POOL = "5b1e0a9c-7d3f-4e2a-9c8b-6f4d2e1a0b7c"


@pytest.fixture
def webhook(monkeypatch):
    """A webhook receiver the alerts go to, with no store of the past (each run is a first sighting)."""
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("ELB_WATCH_STATE", "off")
        yield receiver


@pytest.fixture
def ces(simulator, monkeypatch):
    """A loopback Cloud Eye for the simulator's project and key pair, metrics on."""
    with CesReceiver(
        ak=simulator.credentials.ak,
        sk=simulator.credentials.sk,
        project_id=simulator.project_id,
        region=simulator.region,
    ) as receiver:
        for name, value in receiver.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_METRICS", "on")
        yield receiver


def healthy_pool(pool_id: str = HEALTHY_POOL) -> dict:
    """An active/standby pool whose master is ONLINE (its load balancer is lb-1)."""
    listeners = {"lsn-1": "ONLINE"}
    members = [
        api_member(f"{pool_id}-m", "master", listeners=listeners),
        api_member(f"{pool_id}-s", "slave", listeners=listeners),
    ]
    return api_pool(members, pool_id=pool_id, name="api-pool")


def by_metric(points, pool_id=None):
    """{metric: value} of the points pushed for one pool (or for the run, without a pool)."""
    found = {}
    for point in points:
        if point["dimensions"].get("pool_id") == pool_id:
            found[point["metric"]] = point["value"]
    return found


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["ELB.MasterWatch", "abc.d", "My_App.pool_01", "E.B"])
def test_a_custom_namespace_of_service_dot_item_is_accepted(namespace):
    assert namespace_problem(namespace) is None


TOO_LONG = "ELB." + "x" * 29  # 33 characters


@pytest.mark.parametrize(
    "namespace",
    [
        "SYS.ELB",
        "sys.elb",
        "AGT.x",
        "SRE.watch",
        "SERVICE.BMS",
        "ELB",
        "E.",
        "1ELB.x",
        "ELB.x-y",
        "A.b.c",
        TOO_LONG,
    ],
)
def test_a_namespace_cloud_eye_refuses_is_named(namespace):
    assert namespace_problem(namespace) is not None


def test_metrics_are_off_unless_switched_on_and_on_uses_the_default_namespace():
    assert read_settings({})[0].metrics_namespace is None
    assert (
        read_settings({"ELB_WATCH_METRICS": "off", "ELB_WATCH_METRICS_NAMESPACE": "A.b"})[0].metrics_namespace
        is None
    )
    assert read_settings({"ELB_WATCH_METRICS": "on"})[0].metrics_namespace == "ELB.MasterWatch"
    on = {"ELB_WATCH_METRICS": "on", "ELB_WATCH_METRICS_NAMESPACE": " Shop.Watch "}
    assert read_settings(on)[0].metrics_namespace == "Shop.Watch"


def test_a_reserved_namespace_turns_metrics_off_with_a_config_problem_naming_the_variable():
    settings, problems = read_settings({"ELB_WATCH_METRICS": "on", "ELB_WATCH_METRICS_NAMESPACE": "SYS.ELB"})
    assert settings.metrics_namespace is None
    [problem] = problems
    assert problem.startswith("ELB_WATCH_METRICS_NAMESPACE='SYS.ELB' is reserved by Cloud Eye")


# --- what is measured (pure) ----------------------------------------------------------------------


def _pool(members, **kwargs) -> Pool:
    return pool_from_api(api_pool(members, **kwargs))


def test_a_failed_master_with_the_standby_online_is_a_failover():
    pool = _pool(
        [
            api_member("m", "master", listeners={"lsn-1": "OFFLINE"}),
            api_member("s", "slave", listeners={"lsn-1": "ONLINE"}),
        ]
    )
    sample = metrics.pool_sample(pool, assess_pool(pool))
    assert (sample.master_up, sample.failover_active, sample.failed_check_items) == (0, 1, 0)
    assert sample.loadbalancer_id == "lb-1"


def test_a_failed_master_with_the_standby_down_is_no_failover_and_a_healthy_master_is_up():
    down = _pool(
        [
            api_member("m", "master", listeners={"lsn-1": "OFFLINE"}),
            api_member("s", "slave", listeners={"lsn-1": "OFFLINE"}),
        ]
    )
    assert (
        metrics.pool_sample(down, assess_pool(down)).master_up,
        metrics.pool_sample(down, assess_pool(down)).failover_active,
    ) == (0, 0)
    healthy = pool_from_api(healthy_pool())
    sample = metrics.pool_sample(healthy, assess_pool(healthy))
    assert (sample.master_up, sample.failover_active, sample.failed_check_items) == (1, 0, 0)


def test_batches_hold_at_most_the_items_and_bytes_cloud_eye_takes_and_lose_none():
    items = [
        metrics.wire_item(point, "ELB.MasterWatch", 1_700_000_000_000)
        for point in metrics.data_points(
            [metrics.PoolSample(f"pool-{n:05d}", "lb-1", 1, 0) for n in range(4000)],
            metrics.RunCounts(errors=0, sent=0),
            "watch",
        )
    ]
    assert len(items) == 3 + 3 * 4000
    sent = list(metrics.batches(items))
    assert [item for batch in sent for item in batch] == items
    assert len(sent) >= 2
    for batch in sent:
        assert len(batch) <= metrics.MAX_ITEMS_PER_CALL
        assert len(json.dumps(batch).encode()) <= metrics.MAX_BODY_BYTES
    small = list(metrics.batches(items[:25], max_items=10))
    assert [len(batch) for batch in small] == [10, 10, 5]


def test_a_pool_read_twice_is_measured_once_and_an_id_cloud_eye_refuses_is_left_out():
    first = metrics.PoolSample("pool-a", "lb-1", 0, 1, 2)
    samples = [first, metrics.PoolSample("pool-a", "lb-1", 1, 0), metrics.PoolSample("pool.b", "lb-1", 1, 0)]
    kept = metrics.measurable(samples)
    assert kept == [first]
    points = list(metrics.data_points(kept, metrics.RunCounts(errors=0, sent=0), "w"))
    assert len(points) == metrics.point_count(kept) == 6


def test_a_function_name_cloud_eye_cannot_take_as_a_dimension_value_becomes_the_default():
    assert metrics.watcher_name("elb-master-watch-prod") == "elb-master-watch-prod"
    assert metrics.watcher_name("") == metrics.DEFAULT_WATCHER
    assert metrics.watcher_name("bad name!") == metrics.DEFAULT_WATCHER


# --- end to end, through the SDK --------------------------------------------------------------------


def test_failed_over_and_healthy_pools_reach_cloud_eye_with_their_names_dimensions_and_values(
    simulator, ces, webhook
):
    simulator.set_pool(healthy_pool())
    result = invoke({"targets": [{"pool_id": DEMO_POOL}, {"pool_id": HEALTHY_POOL}]}, PlatformContext())
    assert result["ok"], result["errors"]
    [request] = ces.accepted  # one batch for the whole run
    points = ces.points()
    assert {p["namespace"] for p in points} == {"ELB.MasterWatch"}
    failed = [p for p in points if p["dimensions"].get("pool_id") == DEMO_POOL]
    assert {p["metric"] for p in failed} == set(metrics.POOL_METRICS)
    assert all(p["dimensions"] == {"pool_id": DEMO_POOL, "loadbalancer_id": DEMO_LB} for p in failed)
    # The demo's master is OFFLINE, its standby ONLINE, and the check job found 2 failed items.
    assert by_metric(points, DEMO_POOL) == {"master_up": 0, "failover_active": 1, "failed_check_items": 2}
    assert by_metric(points, HEALTHY_POOL) == {"master_up": 1, "failover_active": 0, "failed_check_items": 0}
    run = [p for p in points if "pool_id" not in p["dimensions"]]
    assert {p["dimensions"]["watcher"] for p in run} == {"elb-master-watch"}
    assert by_metric(points) == {"watch_runs": 1, "watch_errors": 0, "notifications_sent": 1}
    assert len(request) == 3 + 2 * 3


def test_a_sweep_pushes_every_pool_it_listed_with_the_diagnosis_of_the_failed_one(simulator, ces, webhook):
    simulator.set_pool(healthy_pool())
    result = invoke({"sweep": {}}, PlatformContext())
    assert result["ok"], result["errors"]
    points = ces.points()
    assert by_metric(points, DEMO_POOL) == {"master_up": 0, "failover_active": 1, "failed_check_items": 2}
    assert by_metric(points, HEALTHY_POOL) == {"master_up": 1, "failover_active": 0, "failed_check_items": 0}
    assert by_metric(points)["watch_runs"] == 1


def test_the_run_counts_its_errors_and_the_function_name_is_the_watcher(simulator, ces, webhook, monkeypatch):
    monkeypatch.setenv("RUNTIME_FUNC_NAME", "elb-watch-prod")
    result = invoke(
        {"targets": [{"pool_id": DEMO_POOL}, {"pool_id": "no-such-pool-0001"}]}, PlatformContext()
    )
    assert [e["code"] for e in result["errors"]] != []
    points = ces.points()
    run = by_metric(points)
    assert run["watch_errors"] == len(result["errors"]) >= 1
    assert run["notifications_sent"] == 1
    assert {p["dimensions"]["watcher"] for p in points if "watcher" in p["dimensions"]} == {"elb-watch-prod"}
    assert "no-such-pool-0001" not in {p["dimensions"].get("pool_id") for p in points}  # not assessed


def test_a_large_sweep_is_pushed_in_batches_within_cloud_eyes_limits(simulator, ces, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    for n in range(1200):
        simulator.set_pool(healthy_pool(f"pool-{n:05d}"))
    result = invoke({"sweep": {}}, PlatformContext(60_000))
    assert result["ok"], result["errors"]
    assert len(ces.accepted) >= 2  # over 512 KB in all: more than one request, each accepted
    assert all(len(json.dumps(body)) <= 512 * 1024 for body in ces.accepted)
    assert len(ces.points()) == 3 + 3 * (1200 + 1)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"error_code": "ces.0015", "error_msg": "Internal service error."}),
        Reply(429, {"error_code": "ces.0429", "error_msg": "Too many requests."}),
        Reply(401, {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information."}),
    ],
    ids=["500", "429", "401"],
)
def test_a_failing_cloud_eye_is_a_warning_after_the_alert_went_out(simulator, ces, webhook, reply):
    ces.fail_with(reply)
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert [d["status"] for d in result["deliveries"]] == ["sent"]
    assert len(webhook.accepted) == 1
    [entry] = result["errors"]
    assert (entry["code"], entry["severity"], entry["status"]) == (
        "METRICS.UNAVAILABLE",
        "warning",
        reply.status,
    )
    assert "0 of 6 data points pushed" in entry["message"]
    assert reply.body["error_code"] in entry["message"]
    assert webhook.received[0].at < ces.received[0].at  # delivered first, pushed after
    assert ces.accepted == []


def test_rejected_credentials_are_a_warning_and_no_secret_is_shown(simulator, ces, webhook, monkeypatch):
    monkeypatch.setattr(ces, "sk", "another-secret-key-0123456789abcdef")  # Cloud Eye knows another key
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    [entry] = result["errors"]
    assert (entry["code"], entry["status"]) == ("METRICS.UNAVAILABLE", 401)
    assert [d["status"] for d in result["deliveries"]] == ["sent"]
    assert simulator.credentials.sk not in json.dumps(result)


def test_a_hanging_cloud_eye_neither_delays_nor_loses_the_alert_and_the_run_ends_in_time(
    simulator, ces, webhook
):
    ces.fail_with(Reply(201, b"", delay=30))
    started = time.monotonic()
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext(6_000))
    took = time.monotonic() - started
    assert took < 6.0  # within the platform's time, though Cloud Eye never answered
    assert [d["status"] for d in result["deliveries"]] == ["sent"]
    assert len(webhook.accepted) == 1
    assert webhook.received[0].at < ces.received[0].at
    [entry] = result["errors"]
    assert (entry["code"], entry["severity"]) == ("METRICS.UNAVAILABLE", "warning")
    assert "no answer from Cloud Eye" in entry["message"]


class NamedFunction(PlatformContext):
    """FunctionGraph's context of a function with a name."""

    def getFunctionName(self) -> str:  # noqa: N802 - platform method name
        return "elb-watch-eu"


def test_the_watcher_dimension_is_the_name_functiongraph_gives_the_function(simulator, ces, webhook):
    invoke({"pool_id": DEMO_POOL}, NamedFunction())
    assert {p["dimensions"]["watcher"] for p in ces.points() if "watcher" in p["dimensions"]} == {
        "elb-watch-eu"
    }


def test_a_push_with_no_time_left_and_one_cut_at_the_deadline_say_which_it_was():
    assert describe(DeadlineExceeded(NO_TIME))[0] == "no time left in the run to call Cloud Eye"
    assert describe(DeadlineExceeded("no answer within 2.0 s"))[0] == (
        "no answer from Cloud Eye within the run's time left"
    )


def test_a_bad_namespace_is_a_config_error_metrics_stay_off_and_the_watch_goes_on(
    simulator, ces, webhook, monkeypatch
):
    monkeypatch.setenv("ELB_WATCH_METRICS_NAMESPACE", "SYS.MasterWatch")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    codes = [e["code"] for e in result["errors"]]
    assert codes == ["CONFIG.INVALID"]
    assert "ELB_WATCH_METRICS_NAMESPACE" in result["errors"][0]["message"]
    assert "master_failed" in [n["kind"] for n in result["notifications"]]
    assert "master_failed" in json.dumps(webhook.accepted)
    assert ces.received == []


def test_a_dry_run_and_a_run_with_metrics_off_push_nothing(simulator, ces, webhook, monkeypatch):
    invoke({"pool_id": DEMO_POOL}, PlatformContext(), dry_run=True)
    monkeypatch.setenv("ELB_WATCH_METRICS", "off")
    invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert ces.received == []


def test_a_watch_with_metrics_off_imports_neither_the_cloud_eye_sdk_nor_the_metrics_modules(
    simulator, tmp_path
):
    code = (
        "import sys, json\n"
        "from handler.app import invoke\n"
        f"result = invoke({{'pool_id': {DEMO_POOL!r}}}, None, log_to='stderr')\n"
        "kinds = [n['kind'] for n in result['notifications']]\n"
        "names = ('huaweicloudsdkces', 'handler.metrics', 'handler.ces')\n"
        "print(json.dumps([kinds, [m for m in sys.modules if m.startswith(names)]]))\n"
    )
    env = {**os.environ, "ELB_WATCH_STATE": "off", "ELB_WATCH_DIAGNOSE": "off", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    kinds, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert kinds == ["master_failed"]  # the pool was watched
    assert modules == []
