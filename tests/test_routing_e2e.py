"""Every alert reaches the team that owns the pool (issue 21), end to end.

One sweep finds 30 failed masters of three teams: payments matched by pool name, search by load
balancer, storage by a load balancer tag. Five receivers of four channel types, every one enforcing its
service's rate limits. Real handler, ELB simulator, SQLite store, loopback receivers that check the
signatures. Each receiver must get exactly its team's pools, once each, with its mentions in the
service's own fields, and the resolved notices must go to the same receivers after the routes changed.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack

import pytest

from elb_simulator.fleet import generate_fleet
from elb_simulator.server import ElbSimulator
from handler.app import invoke
from tests.builders import point_at
from tests.receivers import (
    DingTalkReceiver,
    FeishuReceiver,
    Reply,
    SlackReceiver,
    WeComReceiver,
    running_receivers,
)
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

SECRET = "routing-signing-secret-01"
POOL = re.compile(r"\b(?:pay|search|store)-\d{2}\b")
TEAMS = ("pay", "search", "store")


def fleet(project_id: str) -> tuple[list[dict], list[str]]:
    """30 failed pools on three load balancers: pay-NN on the first, search-NN and store-NN on the others."""
    pools = generate_fleet({"pools": 30, "failed_ratio": 1.0, "seed": 21, "loadbalancers": 3}, project_id)
    lbs = list(dict.fromkeys(pool["loadbalancers"][0]["id"] for pool in pools))
    for index, pool in enumerate(pools):
        team = TEAMS[lbs.index(pool["loadbalancers"][0]["id"])]
        pool["name"] = f"{team}-{index:02d}"
    return pools, lbs


def routing_file(lbs: list[str]) -> dict:
    return {
        "receivers": [
            {
                "name": "pay-feishu",
                "feishu": {"webhook": "${PAY_FEISHU_URL}", "secret": "${ROUTE_SECRET}"},
                "mention": {"user_ids": ["ou_7d8a6e6df7621556ce0d21922b676706"]},
            },
            {
                "name": "search-dingtalk",
                "dingtalk": {"webhook": "${SEARCH_DING_URL}", "secret": "${ROUTE_SECRET}"},
                "mention": {"mobiles": ["13800000000"]},
            },
            {
                "name": "search-feishu",
                "feishu": {"webhook": "${SEARCH_FEISHU_URL}", "secret": "${ROUTE_SECRET}"},
            },
            {"name": "store-wecom", "wecom": {"webhook": "${STORE_WECOM_URL}"}},
            {"name": "ops-slack", "slack": {"webhook": "${OPS_SLACK_URL}"}},
        ],
        "routes": [
            {
                "match": {"pool_name": "pay-*"},
                "receivers": ["pay-feishu"],
                "runbook_url": "https://wiki.example.com/runbooks/elb?pool={pool_id}",
            },
            {
                "match": {"loadbalancer_id": [lbs[1]], "severity": ["major", "critical"]},
                "receivers": ["search-dingtalk"],
                "continue": True,
            },
            {"match": {"loadbalancer_id": lbs[1]}, "receivers": ["search-feishu"]},
            {"match": {"tag": {"team": "stor*"}}, "receivers": ["store-wecom"]},
        ],
        "default_receivers": ["ops-slack"],
        "watcher_receivers": ["ops-slack"],
    }


@pytest.fixture
def teams(monkeypatch, tmp_path):
    scenario = demo_scenario()
    pools, lbs = fleet(scenario["project_id"])
    scenario["pools"], scenario["jobs"] = pools, []
    scenario["loadbalancers"] = [
        {"id": lbs[0], "name": "lb-pay", "tags": {"team": "payments"}},
        {"id": lbs[1], "name": "lb-search", "tags": {"team": "search"}},
        {"id": lbs[2], "name": "lb-store", "tags": {"team": "storage", "env": "prod"}},
    ]
    with ElbSimulator(scenario) as sim, ExitStack() as stack:
        point_at(sim, monkeypatch)
        receivers = {
            "pay-feishu": stack.enter_context(FeishuReceiver(SECRET)),
            "search-dingtalk": stack.enter_context(DingTalkReceiver(SECRET)),
            "search-feishu": stack.enter_context(FeishuReceiver(SECRET)),
            "store-wecom": stack.enter_context(WeComReceiver()),
            "ops-slack": stack.enter_context(SlackReceiver()),
        }
        for receiver in receivers.values():
            receiver.enforce_limits()
        variables = {
            "PAY_FEISHU_URL": "pay-feishu",
            "SEARCH_DING_URL": "search-dingtalk",
            "SEARCH_FEISHU_URL": "search-feishu",
            "STORE_WECOM_URL": "store-wecom",
            "OPS_SLACK_URL": "ops-slack",
        }
        for variable, name in variables.items():
            monkeypatch.setenv(variable, receivers[name].url)
        monkeypatch.setenv("ROUTE_SECRET", SECRET)
        path = tmp_path / "routes.json"
        path.write_text(json.dumps(routing_file(lbs)), encoding="utf-8")
        monkeypatch.setenv("ELB_WATCH_ROUTES", str(path))
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "1")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield sim, receivers, pools, path


def named(receiver) -> list[str]:
    """Every pool each accepted message names (once per message)."""
    found: list[str] = []
    for payload in receiver.accepted:
        found.extend(sorted(set(POOL.findall(json.dumps(payload, ensure_ascii=False)))))
    return found


def team_of(name: str) -> str:
    return name.split("-", maxsplit=1)[0]


EXPECTED = {
    "pay-feishu": "pay",
    "search-dingtalk": "search",
    "search-feishu": "search",
    "store-wecom": "store",
}
# Who each receiver's messages mention, as its service reads them (tests/receivers.py `mentioned_in`).
MENTIONED = {
    "pay-feishu": {"user:ou_7d8a6e6df7621556ce0d21922b676706"},
    "search-dingtalk": {"mobile:13800000000"},
    "search-feishu": set(),
    "store-wecom": set(),
}


def consoles(notifications: list[dict]) -> dict[str, set[str]]:
    """Each team's console links, from the records the result reports."""
    found: dict[str, set[str]] = {}
    for n in notifications:
        links = {link["url"] for link in n["links"] if link["name"] == "console"}
        found.setdefault(team_of(n["pool"]["name"]), set()).update(links)
    return found


def test_thirty_failed_masters_reach_their_own_teams_only_once_each(teams):
    sim, receivers, pools, _ = teams
    result = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert result["errors"] == []
    assert len(result["notifications"]) == 30
    by_team = {team: sorted(p["name"] for p in pools if team_of(p["name"]) == team) for team in TEAMS}
    assert all(len(names) >= 5 for names in by_team.values()), by_team
    for name, receiver in receivers.items():
        assert receiver.refused == 0, name
        got = named(receiver)
        if name == "ops-slack":
            assert got == [], "every pool matched a team's route: nothing for the default receiver"
            continue
        assert sorted(got) == by_team[EXPECTED[name]], name  # its own pools, each exactly once
        # Its mentions in the service's own fields (Feishu <at>, DingTalk at.atMobiles + "@…"), nobody
        # else's; and every message links its team's load balancer in the console.
        assert [set(m) for m in receiver.mentions] == [MENTIONED[name]] * len(receiver.accepted), name
    console = consoles(result["notifications"])
    for name, receiver in receivers.items():
        if name != "ops-slack":
            [team_console] = console[EXPECTED[name]]
            assert all(team_console in links for links in receiver.links), name
    # The result speaks of receivers: each delivery names its receiver beside its channel type.
    kinds = {(d["receiver"], d["channel"]) for d in result["deliveries"]}
    assert kinds == {
        ("pay-feishu", "feishu"),
        ("search-dingtalk", "dingtalk"),
        ("search-feishu", "feishu"),
        ("store-wecom", "wecom"),
    }
    assert {d["status"] for d in result["deliveries"]} == {"sent"}
    # Tags were read once per load balancer, and only because a route uses them.
    lb_reads = [r for r in sim.requests if r.path.partition("?")[0].endswith("/elb/loadbalancers")]
    assert 1 <= len(lb_reads) <= 3
    routes = {n["pool"]["name"]: n["route"] for n in result["notifications"]}
    pay = next(r for name, r in routes.items() if name.startswith("pay"))
    assert pay["matched"] == ["routes[0]"]
    assert pay["runbook_url"].startswith("https://wiki.example.com/runbooks/elb?pool=")
    search = next(r for name, r in routes.items() if name.startswith("search"))
    assert search["matched"] == ["routes[1]", "routes[2]"]
    assert search["receivers"] == ["search-dingtalk", "search-feishu"]

    again = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert again["deliveries"] == []


def test_each_message_one_by_one_links_its_pools_runbook_and_console(teams, monkeypatch):
    _, receivers, pools, _ = teams
    monkeypatch.setenv("ELB_WATCH_GROUP_THRESHOLD", "100")  # no digests: one message per pool
    result = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert {d["status"] for d in result["deliveries"]} == {"sent"}
    ids = {p["name"]: p["id"] for p in pools}
    pay = receivers["pay-feishu"]
    assert len(pay.accepted) == len([name for name in ids if team_of(name) == "pay"])
    for payload, links in zip(pay.accepted, pay.links, strict=True):
        [pool] = set(POOL.findall(json.dumps(payload, ensure_ascii=False)))
        runbook, console = links
        assert runbook == f"https://wiki.example.com/runbooks/elb?pool={ids[pool]}"
        assert console.startswith("https://console.huaweicloud.com/elb/?region=")
    for name in ("search-dingtalk", "search-feishu", "store-wecom"):
        receiver = receivers[name]
        assert receiver.accepted, name
        assert all(len(links) == 1 and "#/elb/detail/" in links[0] for links in receiver.links), name
    assert [set(m) for m in receivers["search-dingtalk"].mentions] == [MENTIONED["search-dingtalk"]] * len(
        receivers["search-dingtalk"].accepted
    )


def test_the_resolved_notices_go_to_the_receivers_that_got_the_firing_ones_after_routes_changed(teams):
    sim, receivers, pools, path = teams
    invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    fired = {name: sorted(named(receiver)) for name, receiver in receivers.items()}
    # The routes change: everything would now go to the ops Slack.
    document = json.loads(path.read_text(encoding="utf-8"))
    document["routes"] = []
    path.write_text(json.dumps(document), encoding="utf-8")
    for receiver in receivers.values():
        receiver.accepted.clear()
    for pool in pools:
        for member in pool["members"]:
            member["reason"] = None
            member["status"] = [dict(s, operating_status="ONLINE") for s in member["status"]]
        sim.set_pool(pool)
    result = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert {n["status"] for n in result["notifications"]} == {"resolved"}
    assert len(result["notifications"]) == 30
    for name, receiver in receivers.items():
        assert sorted(named(receiver)) == fired[name], name
        assert all(set(m) == MENTIONED.get(name, set()) for m in receiver.mentions), name


def test_a_receiver_that_fails_is_owed_alone_and_catches_up_without_resending_the_others(teams, monkeypatch):
    _, receivers, _, _ = teams
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    receivers["search-feishu"].fail_with(Reply(500), Reply(500))
    first = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    failed = {d["receiver"] for d in first["deliveries"] if d["status"] != "sent"}
    assert failed == {"search-feishu"}
    before = {name: len(receiver.accepted) for name, receiver in receivers.items()}
    second = invoke({"sweep": {}}, PlatformContext(remaining_ms=60_000))
    assert {d["receiver"] for d in second["deliveries"]} == {"search-feishu"}
    assert {d["status"] for d in second["deliveries"]} == {"sent"}
    for name, receiver in receivers.items():
        if name != "search-feishu":
            assert len(receiver.accepted) == before[name], name


def test_the_readme_example_routes_the_demo_pool_to_the_web_team_only(monkeypatch):
    # README "Route alerts to several teams", as written: the loopback receivers' variables become
    # the example file's ${NAME}s, the ones it replaces are unset, the others stay receivers.
    with (
        ElbSimulator(demo_scenario()) as sim,
        running_receivers(
            secret="readme-route-secret", smn_ak=sim.credentials.ak, smn_sk=sim.credentials.sk
        ) as receivers,
    ):
        point_at(sim, monkeypatch)
        env = receivers.env()
        moved = {
            "WEB_FEISHU_URL": "ELB_WATCH_FEISHU_WEBHOOK",
            "WEB_FEISHU_SECRET": "ELB_WATCH_FEISHU_SECRET",
            "PAY_DING_URL": "ELB_WATCH_DINGTALK_WEBHOOK",
            "PAY_DING_SECRET": "ELB_WATCH_DINGTALK_SECRET",
            "OPS_SLACK_URL": "ELB_WATCH_SLACK_WEBHOOK",
        }
        for name, value in env.items():
            if name not in moved.values():
                monkeypatch.setenv(name, value)
        for name, variable in moved.items():
            monkeypatch.setenv(name, env[variable])
        monkeypatch.setenv("ELB_WATCH_ROUTES", "examples/routes.yaml")
        result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
        assert result["errors"] == []
        assert [(d["receiver"], d["status"]) for d in result["deliveries"]] == [("web-feishu", "sent")]
        assert len(receivers.feishu.accepted) == 1
        others = [r for r in receivers.all() if r is not receivers.feishu]
        assert all(not r.received for r in others)
        [notification] = result["notifications"]
        assert notification["route"]["runbook_url"] == (
            f"https://wiki.example.com/runbooks/elb?pool={DEMO_POOL}&region=cn-north-4"
        )
