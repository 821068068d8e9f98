"""watcher_error: one state per component and scope; changed, never resolved + firing; resolved by proof.

End to end through the real handler and SDK: the ELB endpoint override is pointed at a server that
never answers (a timeout), then at a closed port (refused), then back at the simulator; the simulator
answers 403 for a project that is not its own; a real redis-server is killed and started again on its
port. Every loopback channel receiver checks signatures as the real service does.
"""

from __future__ import annotations

import copy
import socket

import pytest

from handler.app import invoke
from tests.faulty_servers import SilentServer
from tests.receivers import running_receivers
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

pytest_plugins = ("tests.redis_server",)

HEALTHY_POOL = copy.deepcopy(demo_scenario()["pools"][0])
HEALTHY_POOL["members"][0]["status"] = []
HEALTHY_POOL["members"][0]["reason"] = None


@pytest.fixture
def receivers(simulator, monkeypatch, tmp_path):
    """Every loopback receiver, a SQLite store of this test's own, a healthy pool, short timeouts."""
    simulator.set_pool(HEALTHY_POOL)
    with running_receivers(
        secret="scope-signing-secret-01", smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk
    ) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "1")
        monkeypatch.setenv("ELB_WATCH_READ_TIMEOUT", "0.3")
        monkeypatch.setenv("ELB_WATCH_CONNECT_TIMEOUT", "0.3")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield running


def watcher_messages(receivers) -> list[tuple[str, str, str]]:
    """(status, reason, code) of every watcher_error the generic webhook got, in order."""
    return [
        (
            alert["record"]["status"],
            alert["record"]["notification_reason"],
            alert["record"]["watcher"]["code"],
        )
        for envelope in receivers.webhook.accepted
        for alert in envelope["alerts"]
        if alert["record"]["kind"] == "watcher_error"
    ]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_timeout_then_a_refusal_is_one_reach_alert_changed_and_no_works_again(
    simulator, receivers, monkeypatch
):
    with SilentServer() as silent:
        monkeypatch.setenv(simulator.env_name, silent.url)
        timed_out = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert [e["code"] for e in timed_out["errors"]] == ["WATCH.TIMEOUT"]
    monkeypatch.setenv(simulator.env_name, f"http://127.0.0.1:{closed_port()}")
    refused = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert [e["code"] for e in refused["errors"]] == ["WATCH.CONNECTION"]
    again = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert again["notifications"] == []
    assert watcher_messages(receivers) == [
        ("firing", "first", "WATCH.TIMEOUT"),
        ("firing", "changed", "WATCH.CONNECTION"),
    ]
    [first, changed] = [n for run in (timed_out, refused) for n in run["notifications"]]
    assert first["fingerprint"] == changed["fingerprint"]
    assert changed["title"] == "[CRITICAL] elb-master-watch cannot reach ELB: WATCH.CONNECTION"
    assert (changed["region"], changed["project_id"]) == (simulator.region, simulator.project_id)
    # The network is back: one "works again", from the run that got an answer.
    monkeypatch.setenv(simulator.env_name, simulator.endpoint)
    back = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert back["ok"] is True
    assert watcher_messages(receivers)[2:] == [("resolved", "resolved", "WATCH.CONNECTION")]
    for receiver in receivers.all():
        assert len(receiver.accepted) == 3, type(receiver).__name__


def test_a_good_run_of_one_project_leaves_another_projects_permission_alert_firing(simulator, receivers):
    other = {"pool_id": DEMO_POOL, "project_id": "0b5e0c3a2f0000aa1f2bc00d1e2f3a4b"}
    denied = invoke(other, PlatformContext())
    assert [e["status"] for e in denied["errors"]] == [403]
    [alert] = denied["notifications"]
    assert alert["project_id"] == other["project_id"]
    assert alert["watcher"]["scope"] == f"watcher:elb-access:{simulator.region}/{other['project_id']}"
    good = invoke({"pool_id": DEMO_POOL}, PlatformContext())  # the function's own project: fine
    assert good["ok"] is True
    assert good["notifications"] == []
    assert invoke(other, PlatformContext())["notifications"] == []
    assert watcher_messages(receivers) == [("firing", "first", denied["errors"][0]["code"])]


def test_the_store_comes_back_and_each_channel_gets_one_resolved(
    simulator, receivers, monkeypatch, private_redis
):
    with private_redis() as server:
        monkeypatch.setenv("ELB_WATCH_STATE", f"{server.url}?timeout=0.3")
        server.stop()
        down = [invoke({"pool_id": DEMO_POOL}, PlatformContext()) for _ in range(3)]
        assert [run["deduplication"] for run in down] == ["unavailable"] * 3
        assert [[n["watcher"]["code"] for n in run["notifications"]] for run in down] == [
            ["WATCH.STATE"],
            [],
            [],
        ]
        server.start(port=server.port)
        back = invoke({"pool_id": DEMO_POOL}, PlatformContext())
        assert back["deduplication"] == "on"
        assert [(n["status"], n["watcher"]["code"]) for n in back["notifications"]] == [
            ("resolved", "WATCH.STATE")
        ]
        assert {d["status"] for d in back["deliveries"]} == {"sent"}
        assert len(back["deliveries"]) == 8
        assert invoke({"pool_id": DEMO_POOL}, PlatformContext())["notifications"] == []
    assert watcher_messages(receivers) == [
        ("firing", "first", "WATCH.STATE"),
        ("resolved", "resolved", "WATCH.STATE"),
    ]
    for receiver in receivers.all():
        assert len(receiver.accepted) == 2, type(receiver).__name__
