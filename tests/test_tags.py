"""Load balancer tags for routes on `tag` (issue 21): the gateway call, the read stage, the warm cache.

Real SDK over real HTTP to the embedded simulator; the routing file is not read here, so the wiring is
built from the environment and given a RouteConfig that uses tags, as the routing file's parser will.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import replace

import pytest
import structlog

from elb_simulator import ElbSimulator, Fault
from handler import elb, invocation, logs
from handler.budget import Budget
from handler.config import Credentials, Settings, load_settings
from handler.domain import ElbApiError, Sweep
from handler.elb_model import MAX_TAGS, tags_from_api
from handler.instance import SdkClients
from handler.limits import MAX_NAME_CHARS
from handler.routes import Route, RouteConfig
from handler.tag_cache import TAG_TTL_SECONDS, TagCache
from handler.tags import MAX_TAG_CALLS_PER_EVENT, TAGS_UNAVAILABLE, pool_tags, read_scope
from handler.wiring import WARM, build_wiring
from tests.builders import Clock, point_at
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

DEMO_LB = "098b2f68-af1c-41a9-8efd-69958722af62"
LB_PATH = "/elb/loadbalancers"


@pytest.fixture(autouse=True)
def fresh_instance(monkeypatch):
    """Each test starts with no tags and no check jobs kept by the warm instance."""
    monkeypatch.setattr(WARM, "_tags", TagCache())
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def serve(monkeypatch, scenario):
    sim = ElbSimulator(scenario).start()
    point_at(sim, monkeypatch)
    monkeypatch.setenv("ELB_WATCH_RETRY_BASE_SECONDS", "0.01")
    monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.02")
    return sim


@pytest.fixture
def demo(monkeypatch):
    scenario = demo_scenario()
    scenario["loadbalancers"] = [{"id": DEMO_LB, "name": "web-lb", "tags": {"team": "search"}}]
    sim = serve(monkeypatch, scenario)
    yield sim
    sim.stop()


def fleet(monkeypatch, pools, loadbalancers, failed_ratio):
    scenario = demo_scenario()
    scenario["pools"] = []
    scenario["jobs"] = []
    scenario["fleet"] = {
        "pools": pools,
        "failed_ratio": failed_ratio,
        "seed": 7,
        "loadbalancers": loadbalancers,
    }
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    return serve(monkeypatch, scenario)


def invoke(event, *, wants_tags=True, remaining_ms=30_000):
    """One invocation as handler.app runs it, with a routing file that does (or does not) use tags."""
    env = dict(os.environ)
    settings = load_settings(env)
    wiring = build_wiring(env, time.time, settings.locale)
    on_tag = Route("routes[0]", tags=(("team", "*"),))
    routes = RouteConfig(routes=(on_tag,) if wants_tags else (Route("routes[0]", match=(("kind", ("*",)),)),))
    wiring = replace(wiring, receivers=replace(wiring.receivers, routes=routes))
    logs.configure("stderr", settings.log_level)
    fixed, wiring = invocation.start(PlatformContext(remaining_ms=remaining_ms), env, settings, wiring)
    outcome = invocation.run(event, None, fixed, wiring)
    return outcome, invocation.result(outcome, fixed, wiring)


def gateway(sim, **settings):
    return elb.ElbGateway(
        region=sim.region,
        project_id=sim.project_id,
        credentials=Credentials(sim.credentials.ak, sim.credentials.sk),
        settings=Settings(**{"max_attempts": 3, "retry_base": 0.01, **settings}),
        budget=Budget(20.0),
        clients=SdkClients(),
    )


def failed_loadbalancers(sim):
    failed = set(sim.failed_pool_ids())
    # The fleet's pools are served in a list; their load balancers are read back through the SDK.
    gw = gateway(sim)
    pools = gw.list_pools_page(Sweep(), None).pools
    return {lb for pool in pools if pool.id in failed for lb in pool.loadbalancer_ids}, {
        lb for pool in pools for lb in pool.loadbalancer_ids
    }


# ---- the gateway call --------------------------------------------------------------------------------


def test_gateway_reads_the_tags_of_the_ids_asked_for_with_repeated_id_filters(demo):
    demo.set_loadbalancer({"id": "lb-other", "tags": {"team": "payments"}})
    page = gateway(demo).list_loadbalancer_tags_page([DEMO_LB, DEMO_LB])
    assert page.tags == {DEMO_LB: {"team": "search"}}
    assert page.next_marker is None
    [request] = [r for r in demo.requests if LB_PATH in r.path]
    assert request.path.count("id=") == 1, "each id once"
    assert "limit=1" in request.path


def test_gateway_refuses_more_ids_than_a_chunk(demo):
    with pytest.raises(ValueError, match="1 to 50"):
        gateway(demo).list_loadbalancer_tags_page([f"lb-{i}" for i in range(elb.TAG_CHUNK + 1)])
    assert demo.count(LB_PATH) == 0


def test_gateway_retries_a_5xx_on_the_tags_call(demo):
    demo.add_fault(Fault(path=LB_PATH, status=503, times=1))
    gw = gateway(demo)
    assert gw.list_loadbalancer_tags_page([DEMO_LB]).tags == {DEMO_LB: {"team": "search"}}
    assert demo.count(LB_PATH) == 2
    assert gw.calls == 2


def test_a_refused_tags_call_is_an_error_but_does_not_blind_the_watcher(demo):
    demo.add_fault(Fault(path=LB_PATH, status=403))
    gw = gateway(demo)
    gw.show_pool(DEMO_POOL)
    with pytest.raises(ElbApiError) as refused:
        gw.list_loadbalancer_tags_page([DEMO_LB])
    assert refused.value.status == 403
    health = gw.health()
    assert health.denied is None, "the pools were read: ELB access is not what failed"
    assert health.authorized


def test_a_page_over_the_limit_is_malformed(demo):
    # ELB answering more load balancers than asked for: the listing cannot be trusted.
    body = '{"loadbalancers": [{"id": "a"}, {"id": "b"}], "page_info": {}}'
    demo.add_fault(Fault(path=LB_PATH, status=200, body=body))
    with pytest.raises(ElbApiError) as wrong:
        gateway(demo, max_attempts=1).list_loadbalancer_tags_page([DEMO_LB])
    assert wrong.value.code == "ELB.MALFORMED_RESPONSE"


def test_tags_are_mapped_forgivingly_and_bounded():
    long = "v" * (MAX_NAME_CHARS + 10)
    hostile = [{"key": "team", "value": "search"}, {"key": "", "value": "x"}, {"value": "no key"}, "text"]
    hostile += [{"key": "empty", "value": None}, {"key": "long", "value": long}]
    tags = tags_from_api(hostile)
    assert tags == {"team": "search", "empty": "", "long": long[: MAX_NAME_CHARS - 1] + "…"}
    assert tags_from_api(None) == tags_from_api("x") == tags_from_api({"team": "x"}) == {}
    many = [{"key": f"k{i}", "value": "v"} for i in range(MAX_TAGS + 5)]
    assert len(tags_from_api(many)) == MAX_TAGS


def test_read_scope_chunks_ids_and_gives_unlisted_load_balancers_no_tags(monkeypatch):
    sim = fleet(monkeypatch, pools=0, loadbalancers=1, failed_ratio=0)
    try:
        for index in range(60):
            sim.set_loadbalancer({"id": f"lb-{index:02d}", "tags": {"n": str(index)}})
        outcome = read_scope(gateway(sim), [*(f"lb-{i:02d}" for i in range(60)), "lb-gone"], max_calls=5)
        calls = sim.count(LB_PATH)
    finally:
        sim.stop()
    assert outcome.error is None
    assert calls == outcome.calls == math.ceil(61 / elb.TAG_CHUNK)
    assert outcome.tags["lb-07"] == {"n": "7"}
    assert outcome.tags["lb-gone"] == {}, "a load balancer ELB does not list has no tags"


def test_read_scope_keeps_what_it_read_before_a_failure(monkeypatch):
    sim = fleet(monkeypatch, pools=0, loadbalancers=1, failed_ratio=0)
    try:
        for index in range(60):
            sim.set_loadbalancer({"id": f"lb-{index:02d}"})
        sim.add_fault(Fault(path=LB_PATH, times=1))  # the first call is answered as usual
        sim.add_fault(Fault(path=LB_PATH, status=403))  # every later one is refused
        ids = [f"lb-{i:02d}" for i in range(60)]
        outcome = read_scope(gateway(sim), ids, max_calls=5)
    finally:
        sim.stop()
    assert set(outcome.tags) == set(ids[: elb.TAG_CHUNK])
    assert outcome.unread == tuple(ids[elb.TAG_CHUNK :])
    assert outcome.error is not None
    assert outcome.error.status == 403


def test_read_scope_stops_at_its_call_limit():
    cache_reader_ids = [f"lb-{i:02d}" for i in range(60)]
    outcome = read_scope(_NeverCalled(), cache_reader_ids, max_calls=0)
    assert outcome.calls == 0
    assert outcome.unread == tuple(cache_reader_ids)
    assert outcome.error is not None
    assert outcome.error.code == "WATCH.LIST_LIMIT"


class _NeverCalled:
    def list_loadbalancer_tags_page(self, loadbalancer_ids, marker=None):
        raise AssertionError("no call is left")


# ---- the read stage ----------------------------------------------------------------------------------


def test_tags_are_read_once_per_load_balancer_of_the_pools_with_findings(monkeypatch):
    sim = fleet(monkeypatch, pools=60, loadbalancers=30, failed_ratio=0.1)
    try:
        wanted, every = failed_loadbalancers(sim)
        before = sim.count(LB_PATH)
        outcome, result = invoke({"sweep": {}})
        calls = sim.count(LB_PATH) - before
    finally:
        sim.stop()
    assert wanted, "the seed fails some pools"
    assert wanted < every, "not those of every load balancer"
    assert set(outcome.reading.tags) == wanted, "only the load balancers of pools that will be routed"
    assert calls == math.ceil(len(wanted) / elb.TAG_CHUNK)
    assert all(tags == {} for tags in outcome.reading.tags.values()), (
        "the fleet's load balancers are untagged"
    )
    assert result["errors"] == []


def test_the_tags_of_a_finding_are_on_the_reading(demo):
    outcome, result = invoke({"pool_id": DEMO_POOL})
    assert outcome.reading.tags == {DEMO_LB: {"team": "search"}}
    [finding] = [f for w in outcome.reading.watched for f in w.findings]
    assert pool_tags(outcome.reading.tags, finding.pool.loadbalancer_ids) == {"team": "search"}
    assert result["notifications"]


def test_a_warm_instance_reads_tags_again_only_after_the_ttl(demo, monkeypatch):
    clock = Clock(1000.0)
    monkeypatch.setattr(WARM, "_tags", TagCache(clock=clock))
    invoke({"pool_id": DEMO_POOL})
    assert demo.count(LB_PATH) == 1
    demo.set_loadbalancer({"id": DEMO_LB, "tags": {"team": "payments"}})
    clock.now += TAG_TTL_SECONDS - 1
    second, _ = invoke({"pool_id": DEMO_POOL})
    assert demo.count(LB_PATH) == 1, "cached by the warm instance"
    assert second.reading.tags == {DEMO_LB: {"team": "search"}}
    clock.now += 2
    third, _ = invoke({"pool_id": DEMO_POOL})
    assert demo.count(LB_PATH) == 2
    assert third.reading.tags == {DEMO_LB: {"team": "payments"}}


def test_the_cache_is_per_region_and_project():
    cache = TagCache()
    cache.keep(("cn-north-4", "p1"), {"lb": {"team": "a"}})
    assert cache.known(("cn-north-4", "p1"), ["lb", "other"]) == {"lb": {"team": "a"}}
    assert cache.known(("cn-north-4", "p2"), ["lb"]) == {}
    assert cache.known(("cn-east-3", "p1"), ["lb"]) == {}


def test_tags_are_not_read_without_a_route_on_tag(demo):
    outcome, result = invoke({"pool_id": DEMO_POOL}, wants_tags=False)
    assert outcome.reading.tags == {}
    assert demo.count(LB_PATH) == 0
    assert result["notifications"]


def test_the_function_reads_no_tags_without_a_routing_file(demo):
    import handler  # noqa: PLC0415 - the platform's entry point, as a platform calls it

    result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=30_000))
    assert result["notifications"]
    assert result["errors"] == []
    assert demo.count(LB_PATH) == 0


def test_no_tags_are_read_when_nothing_was_found(monkeypatch):
    sim = fleet(monkeypatch, pools=20, loadbalancers=5, failed_ratio=0)
    try:
        outcome, _ = invoke({"sweep": {}})
        assert sim.count(LB_PATH) == 0
    finally:
        sim.stop()
    assert outcome.reading.tags == {}


@pytest.mark.parametrize("status", [500, 403])
def test_a_failed_tag_read_is_one_warning_and_the_alert_still_goes_out(demo, status):
    demo.add_fault(Fault(path=LB_PATH, status=status))
    with logs.held(), structlog.testing.capture_logs() as captured:
        outcome, result = invoke({"pool_id": DEMO_POOL})
    assert outcome.reading.tags == {}, "unknown: routes on tag do not match the pool"
    [error] = result["errors"]
    assert error["code"] == TAGS_UNAVAILABLE
    assert error["severity"] == "warning"
    assert error["status"] == status
    assert error["target"]["loadbalancer_ids"] == [DEMO_LB]
    assert "routes on `tag` do not match" in error["message"]
    kinds = [record["kind"] for record in result["notifications"]]
    assert "master_failed" in kinds, "the finding still goes out"
    assert "watcher_error" not in kinds, "the pools were read: no 'cannot access ELB' alert"
    [line] = [entry for entry in captured if entry["event"] == "tags.unavailable"]
    assert line["log_level"] == "warning"
    assert line["code"] == TAGS_UNAVAILABLE


def test_a_failed_tag_read_is_not_cached(demo):
    demo.add_fault(Fault(path=LB_PATH, status=500, times=4))
    invoke({"pool_id": DEMO_POOL})
    again, result = invoke({"pool_id": DEMO_POOL})
    assert again.reading.tags == {DEMO_LB: {"team": "search"}}
    assert result["errors"] == []


def test_an_event_reads_tags_with_a_bounded_number_of_calls(monkeypatch):
    count = (MAX_TAG_CALLS_PER_EVENT + 1) * elb.TAG_CHUNK
    sim = fleet(monkeypatch, pools=count, loadbalancers=count, failed_ratio=1.0)
    try:
        outcome, result = invoke({"sweep": {}}, remaining_ms=60_000)
        calls = sim.count(LB_PATH)
    finally:
        sim.stop()
    assert calls == MAX_TAG_CALLS_PER_EVENT
    assert len(outcome.reading.tags) == MAX_TAG_CALLS_PER_EVENT * elb.TAG_CHUNK
    [error] = [e for e in result["errors"] if e["code"] == TAGS_UNAVAILABLE]
    assert "WATCH.LIST_LIMIT" in error["message"]
    assert f"tags of {elb.TAG_CHUNK} load balancer(s) unread" in error["message"]


def test_pools_sharing_a_load_balancer_read_its_tags_once(demo):
    twin = copy.deepcopy(demo_scenario()["pools"][0])
    twin["id"] = "twin-pool"
    demo.set_pool(twin)
    outcome, result = invoke({"targets": [{"pool_id": DEMO_POOL}, {"pool_id": "twin-pool"}]})
    findings = [f for w in outcome.reading.watched for f in w.findings]
    assert {f.pool.id for f in findings} == {DEMO_POOL, "twin-pool"}
    [request] = [r for r in demo.requests if LB_PATH in r.path]
    assert request.path.count("id=") == 1
    assert outcome.reading.tags == {DEMO_LB: {"team": "search"}}
    assert result["errors"] == []
