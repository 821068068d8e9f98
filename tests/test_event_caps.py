"""What one event may cost: sweeps capped per event, Cloud Eye alarms on the same load balancers collapsed,
list calls bounded per event. Real SDK over real HTTP against the simulator, which counts the calls.
"""

from __future__ import annotations

import copy
import json

import pytest

import handler
from elb_simulator import ElbSimulator
from elb_simulator.fleet import generate_fleet
from handler.domain import Sweep
from handler.events import MAX_LOADBALANCERS_PER_SWEEP, MAX_SWEEPS, collapse_sweeps, parse_event
from handler.watch import MAX_LIST_CALLS_PER_EVENT
from tests.builders import point_at
from tests.support import DEMO_POOL, PlatformContext, demo_scenario, load_event

FLEET = {"pools": 600, "failed_ratio": 0.0, "seed": 11, "loadbalancers": 30}


@pytest.fixture
def fleet(monkeypatch):
    scenario = demo_scenario()
    scenario["pools"], scenario["jobs"] = [], []
    scenario["fleet"] = FLEET
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    with ElbSimulator(scenario) as sim:
        point_at(sim, monkeypatch)
        yield sim


def loadbalancers(sim) -> list[str]:
    pools = generate_fleet(FLEET, sim.project_id)
    return list(dict.fromkeys(ref["id"] for pool in pools for ref in pool["loadbalancers"]))


def kafka(messages: list[dict]) -> dict:
    event = load_event("kafka.json")
    event["records"][0]["messages"] = [json.dumps(message) for message in messages]
    return event


def cloud_eye(lb_ids: list[str]) -> dict:
    event = load_event("ces_alarm.json")
    template = event["record"][0]
    records = []
    for lb in lb_ids:
        record = copy.deepcopy(template)
        alarm = json.loads(record["smn"]["message"])
        # The alarm as Cloud Eye sends it, less its long texts (300 full ones are over 256 KiB).
        for long_text in ("sms_content", "template_variable", "alarmValue"):
            alarm.pop(long_text)
        alarm["dimension"] = f"lbaas_instance_id:{lb}"
        record["smn"] = {"message": json.dumps(alarm, separators=(",", ":")), "type": "notification"}
        record.pop("event_subscription_urn")
        records.append(record)
    event["record"] = records
    return event


def test_2000_sweeps_in_one_kafka_event_are_capped(fleet):
    messages = [{"sweep": {"name": [f"pool-{index}"]}} for index in range(2000)]
    result = handler.handler(kafka(messages), PlatformContext(remaining_ms=30_000))
    assert len(result["sweeps"]) == MAX_SWEEPS
    [capped] = [e for e in result["errors"] if "more sweeps" in e["message"]]
    assert capped["code"] == "EVENT.INVALID"
    assert f"… and {2000 - MAX_SWEEPS} more sweeps" in capped["message"]
    assert fleet.count("master-slave-pools", "GET") == MAX_SWEEPS


def test_300_cloud_eye_alarms_on_the_same_load_balancers_are_one_list_call(fleet):
    lbs = loadbalancers(fleet)[:10]
    result = handler.handler(
        cloud_eye([lbs[i % 10] for i in range(300)]), PlatformContext(remaining_ms=30_000)
    )
    assert result["errors"] == []
    [sweep] = result["sweeps"]
    assert sorted(sweep["filters"]["loadbalancer_id"]) == sorted(lbs)
    assert fleet.count("master-slave-pools", "GET") == 1
    on_them = [
        p for p in generate_fleet(FLEET, fleet.project_id) if {r["id"] for r in p["loadbalancers"]} & set(lbs)
    ]
    assert sweep["pools"] == len(on_them)


def test_alarms_on_30_load_balancers_take_one_call_per_20(fleet):
    lbs = loadbalancers(fleet)
    result = handler.handler(cloud_eye(lbs * 3), PlatformContext(remaining_ms=30_000))
    assert len(result["sweeps"]) == 2
    assert fleet.count("master-slave-pools", "GET") == 2
    assert sum(s["pools"] for s in result["sweeps"]) == FLEET["pools"]


def test_list_calls_are_bounded_per_event_and_shared_by_its_sweeps(fleet, monkeypatch):
    monkeypatch.setattr("handler.reading.MAX_LIST_CALLS_PER_EVENT", 3)
    lbs = loadbalancers(fleet)
    # Five sweeps that cannot be merged (each narrowed by name as well): one list call each.
    messages = [{"sweep": {"loadbalancer_id": [lb], "name": [f"n{i}"]}} for i, lb in enumerate(lbs[:5])]
    result = handler.handler(kafka(messages), PlatformContext(remaining_ms=30_000))
    assert [s["pages"] for s in result["sweeps"]] == [1, 1, 1, 0, 0]
    assert fleet.count("master-slave-pools", "GET") == 3
    limited = [e for e in result["errors"] if e["code"] == "WATCH.LIST_LIMIT"]
    assert len(limited) == 2
    assert "list calls are used up" in limited[0]["message"]
    assert "stopped after 0 pages and 0 pools" in limited[0]["message"]


class EndlessPages:
    """An ElbReader whose every page is full and names a new marker: a listing that never ends."""

    def __init__(self):
        self.calls = 0

    def list_pools_page(self, sweep, marker):
        from handler.domain import Pool  # noqa: PLC0415
        from handler.elb import PoolPage  # noqa: PLC0415

        self.calls += 1
        return PoolPage((Pool(id=f"pool-{self.calls}"),), f"marker-{self.calls}")


def test_a_listing_that_never_ends_stops_at_the_event_bound():
    from handler.watch import sweep_pools  # noqa: PLC0415

    reader = EndlessPages()
    outcome = sweep_pools(Sweep(), reader, "r", "p")
    assert reader.calls == MAX_LIST_CALLS_PER_EVENT
    assert [e.code for e in outcome.errors] == ["WATCH.LIST_LIMIT"]
    assert len(outcome.assessed_pool_ids) == MAX_LIST_CALLS_PER_EVENT


# --- the pure collapse --------------------------------------------------------------------------


def test_collapse_keeps_what_differs_and_merges_what_is_the_same():
    whole = [Sweep(loadbalancer_ids=(f"lb{i}",), region="r") for i in range(25)]
    narrowed_on_listed = Sweep(loadbalancer_ids=("lb3",), listener_ids=("l3",), region="r")
    narrowed = [Sweep(loadbalancer_ids=("lbx",), listener_ids=("lx1",), region="r")]
    narrowed += [Sweep(loadbalancer_ids=("lbx",), listener_ids=("lx2",), region="r")]
    listener_only = [Sweep(listener_ids=(f"l{i}",), region="r") for i in range(3)]
    other_region = Sweep(loadbalancer_ids=("lb0",), region="s")
    project = Sweep(region="r")
    kept = collapse_sweeps([*whole, narrowed_on_listed, *narrowed, *listener_only, other_region, project])
    assert kept[0] == project
    by_lbs = {(s.region, s.loadbalancer_ids, s.listener_ids) for s in kept[1:]}
    assert by_lbs == {
        ("r", tuple(f"lb{i}" for i in range(MAX_LOADBALANCERS_PER_SWEEP)), ()),
        ("r", tuple(f"lb{i}" for i in range(MAX_LOADBALANCERS_PER_SWEEP, 25)), ()),
        ("r", ("lbx",), ("lx1", "lx2")),
        ("r", (), ("l0", "l1", "l2")),
        ("s", ("lb0",), ()),
    }


def test_sweeps_past_the_cap_are_one_error_saying_how_many():
    many = parse_event(kafka([{"sweep": {"name": [f"p{i}"]}} for i in range(MAX_SWEEPS + 7)]))
    assert len(many.sweeps) == MAX_SWEEPS
    assert [e.message for e in many.errors] == [
        f"asks for {MAX_SWEEPS + 7} sweeps; at most {MAX_SWEEPS} per event: … and 7 more sweeps not run"
    ]


# --- a platform budget already spent --------------------------------------------------------------


@pytest.mark.parametrize("remaining_ms", [0, 40])
def test_a_spent_platform_budget_is_said_as_such_and_pages_nobody(
    simulator, monkeypatch, tmp_path, remaining_ms
):
    from tests.receivers import WebhookReceiver  # noqa: PLC0415

    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=remaining_ms))
        assert [e["code"] for e in result["errors"]] == ["WATCH.TIME_BUDGET"]
        assert result["errors"][0]["message"].startswith("no time left to read pool")
        assert result["notifications"] == []
        assert simulator.count() == 0, "no ELB call was started"
        assert receiver.accepted == []
