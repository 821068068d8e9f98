"""One deadline for every wait: a trickling ELB, a locked SQLite file, a silent Redis, a trickling receiver.

All through the real handler (and the CLI), the real SDK, real sockets on 127.0.0.1. Each test asserts
the promise: the invocation ends within its timeout + 1 s, and every configured channel still got
every alert.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from elb_simulator import ElbSimulator, endpoint_env_name
from handler.app import WARM, invoke
from handler.budget import Budget
from handler.state import StoreUnavailable
from handler.state.bounded import BoundedStore
from handler.state.sqlite_store import SqliteStore
from handler.state.url import instance_store_url
from tests.builders import point_at
from tests.faulty_servers import SilentServer, TricklingHttpServer
from tests.receivers import running_receivers
from tests.support import DEMO_JOB, DEMO_POOL, PlatformContext, demo_scenario

ROOT = Path(__file__).resolve().parents[1]
REGION = "cn-north-4"
CHANNELS = ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams")


@pytest.fixture(autouse=True)
def fresh_job_memory():
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def _sdk_env(monkeypatch, endpoint: str) -> None:
    monkeypatch.setenv(endpoint_env_name(REGION), endpoint)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "TRICKLETESTAK00000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "trickle-test-sk-0123456789abcdef")
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "04dd36f964000fe22f9ac00bc85b1a1d")
    monkeypatch.setenv("ELB_WATCH_REGION", REGION)
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")


# --- a trickling ELB ------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["headers", "body"])
@pytest.mark.parametrize("event", [{"pool_id": DEMO_POOL}, {"pool_id": DEMO_POOL, "job_id": DEMO_JOB}])
def test_trickling_elb_answer_is_cut_at_the_deadline(monkeypatch, part, event):
    """Alone, or read in a worker while the job is polled, a trickling read ends at the deadline."""
    with TricklingHttpServer(part=part, interval=0.3) as server:
        _sdk_env(monkeypatch, server.url)
        started = time.monotonic()
        result = invoke(event, PlatformContext(remaining_ms=3000))
        elapsed = time.monotonic() - started
    assert server.accepted >= len(event), "the SDK really talked to the trickling server"
    assert elapsed <= 3 + 1, elapsed
    assert [error["code"] for error in result["errors"]] == ["WATCH.TIMEOUT"] * len(event)
    assert all("no complete answer" in error["message"] for error in result["errors"])
    assert result["ok"] is False


def _cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[Any, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "handler", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    return done, time.monotonic() - started


def test_cli_with_a_trickling_elb_prints_a_result_within_the_timeout(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pool_id": DEMO_POOL}))
    with TricklingHttpServer(part="body", interval=0.3) as server:
        env = {
            **os.environ,
            endpoint_env_name(REGION): server.url,
            "HUAWEICLOUD_SDK_AK": "TRICKLETESTAK00000001",
            "HUAWEICLOUD_SDK_SK": "trickle-test-sk-0123456789abcdef",
            "HUAWEICLOUD_SDK_PROJECT_ID": "04dd36f964000fe22f9ac00bc85b1a1d",
            "ELB_WATCH_REGION": REGION,
            "ELB_WATCH_DIAGNOSE": "off",
        }
        done, elapsed = _cli(["invoke", str(event), "--timeout", "3"], env, timeout=30)
    result = json.loads(done.stdout)
    assert [e["code"] for e in result["errors"]] == ["WATCH.TIMEOUT"]
    assert done.returncode == 1
    # The process itself (interpreter start included) ends soon after the 3 s timeout.
    assert elapsed <= 3 + 1.5, elapsed


def test_cli_exits_although_a_receiver_still_trickles(tmp_path):
    """Delivery threads are daemons: the process ends when the handler returns, not when the send does."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(demo_scenario()))
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pool_id": DEMO_POOL}))
    with TricklingHttpServer(part="body", interval=0.3) as receiver:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ELB_WATCH_", "HUAWEICLOUD_SDK_"))},
            "ELB_WATCH_WEBHOOK_URL": receiver.url + "/hook",
            "ELB_WATCH_DIAGNOSE": "off",
        }
        done, elapsed = _cli(["invoke", str(event), "--timeout", "3", "--simulate", str(scenario)], env, 30)
    result = json.loads(done.stdout)
    [alert] = [record for record in result["notifications"] if record["kind"] == "master_failed"]
    [delivery] = [d for d in result["deliveries"] if d["fingerprint"] == alert["fingerprint"]]
    assert delivery["channel"] == "webhook"
    assert delivery["status"] == "failed"
    assert receiver.accepted >= 1
    assert elapsed <= 3 + 1.5, elapsed


# --- a store that cannot answer: locked SQLite file, silent Redis ----------------------------------


@pytest.fixture
def fleet_of_20(monkeypatch):
    """20 pools whose masters all failed, with check jobs to diagnose; all six receivers configured."""
    scenario = demo_scenario()
    template = scenario["diagnoses"]
    scenario["pools"] = []
    scenario["jobs"] = []
    scenario["fleet"] = {"pools": 20, "failed_ratio": 1.0, "seed": 3, "loadbalancers": 2}
    scenario["diagnoses"] = template
    with ElbSimulator(scenario) as sim:
        point_at(sim, monkeypatch)
        monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.2")
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "on")
        with running_receivers(
            secret="deadline-signing-secret-01", smn_ak=sim.credentials.ak, smn_sk=sim.credentials.sk
        ) as receivers:
            for name, value in receivers.env().items():
                monkeypatch.setenv(name, value)
            yield sim, receivers


def _sweep_within_12_seconds(sim, receivers):
    failed = set(sim.failed_pool_ids())
    assert len(failed) == 20
    started = time.monotonic()
    result = invoke({"sweep": {}}, PlatformContext(remaining_ms=12_000))
    elapsed = time.monotonic() - started
    assert elapsed <= 12 + 1, elapsed
    assert result["deduplication"] == "unavailable"
    alerts = [record for record in result["notifications"] if record["kind"] != "watcher_error"]
    assert {record["pool"]["id"] for record in alerts} == failed
    # The watcher says it is blind: the store failed, so these alerts are not de-duplicated.
    blind = [record for record in result["notifications"] if record["kind"] == "watcher_error"]
    assert [record["watcher"]["code"] for record in blind] == ["WATCH.STATE"]
    statuses = {(d["channel"], d["status"]) for d in result["deliveries"]}
    assert statuses == {(channel, "sent") for channel in CHANNELS}, statuses
    names = {record["pool"]["name"] for record in alerts}
    for receiver in receivers.all():
        # 20 findings arrive as digests: every failed pool is named in what each channel accepted.
        got = json.dumps(receiver.accepted, ensure_ascii=False)
        assert all(name in got for name in names), type(receiver).__name__
    return result, elapsed


def _locked_sqlite(path: Path) -> sqlite3.Connection:
    """Another process's view of the file: a rollback-journal database held in an EXCLUSIVE transaction."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("CREATE TABLE IF NOT EXISTS other (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO other VALUES (1)")
    return holder


def test_sweep_with_a_locked_sqlite_store_still_alerts_every_channel(fleet_of_20, monkeypatch, tmp_path):
    sim, receivers = fleet_of_20
    path = tmp_path / "state.db"
    holder = _locked_sqlite(path)
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{path}")
    try:
        result, _ = _sweep_within_12_seconds(sim, receivers)
    finally:
        holder.close()
    assert all(record["check"] for record in result["notifications"] if record["kind"] != "watcher_error"), (
        "diagnosis still ran"
    )


def test_sweep_with_the_default_instance_store_locked_still_alerts_every_channel(fleet_of_20, monkeypatch):
    """The default store runs in the invocation's own thread (no hand-off): its waits are still cut."""
    sim, receivers = fleet_of_20
    path = Path(instance_store_url().removeprefix("sqlite://"))
    holder = _locked_sqlite(path)
    try:
        result, _ = _sweep_within_12_seconds(sim, receivers)
    finally:
        holder.close()
    blind = [record for record in result["notifications"] if record["kind"] == "watcher_error"]
    assert str(path) in blind[0]["watcher"]["message"], blind  # says which file it could not use


def test_sweep_with_a_silent_redis_store_still_alerts_every_channel(fleet_of_20, monkeypatch):
    pytest.importorskip("redis")
    sim, receivers = fleet_of_20
    with SilentServer() as silent:
        # The URL allows 30 s per socket wait; the invocation's slice cuts it.
        monkeypatch.setenv("ELB_WATCH_STATE", f"redis://127.0.0.1:{silent.port}/0?timeout=30")
        result, _ = _sweep_within_12_seconds(sim, receivers)
        assert silent.accepted >= 1, "redis-py really connected to the silent server"
    assert all(record["check"] for record in result["notifications"] if record["kind"] != "watcher_error"), (
        "diagnosis still ran"
    )


# --- the bounded store on its own ---------------------------------------------------------------


def test_a_store_that_fails_once_is_given_up_for_the_invocation(tmp_path):
    path = tmp_path / "state.db"
    holder = _locked_sqlite(path)
    try:
        inner = SqliteStore(str(path), busy_timeout=30.0)  # its own wait would be 30 s
        store = BoundedStore(inner, Budget(10.0, total=10.0), cap=0.5)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"no answer within 0\.5 s|locked"):
            store.recall("key")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="given up for this invocation"):
            store.load(["pool-1"])
        second = time.monotonic() - started
    finally:
        holder.close()
    assert first <= 0.5 + 0.5, first
    assert second <= 0.1, second
    assert store.abandoned is not None


def test_an_inline_store_call_is_cut_to_its_slice_in_the_callers_thread(tmp_path):
    path = tmp_path / "state.db"
    holder = _locked_sqlite(path)
    threads: list[str] = []

    class Watched(SqliteStore):
        def recall(self, key: str) -> str | None:
            threads.append(threading.current_thread().name)
            return super().recall(key)

    try:
        store = BoundedStore(
            Watched(str(path), busy_timeout=30.0), Budget(10.0, total=10.0), cap=0.5, inline=True
        )
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.recall("key")
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    assert threads == [threading.current_thread().name]
    assert elapsed <= 0.5 + 0.5, elapsed
    assert store.abandoned is not None


def test_a_call_behind_an_abandoned_one_waits_no_longer_than_its_limit(tmp_path):
    """An earlier invocation's call, still waiting on a locked file, holds the connection: the next
    call gives up after its own wait instead of queueing behind it."""
    path = tmp_path / "state.db"
    store = SqliteStore(str(path), busy_timeout=3.0)
    store.recall("warm-up")  # the connection exists, in WAL mode
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer
    earlier = threading.Thread(target=_remember_quietly, args=(store,), daemon=True)
    earlier.start()
    time.sleep(0.2)  # the earlier call now waits up to 3 s for the writer, holding the connection
    try:
        store.limit_wait(0.3)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="for an earlier call"):
            store.recall("key")
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        earlier.join(5)
    assert elapsed <= 0.3 + 0.5, elapsed


def _remember_quietly(store: SqliteStore) -> None:
    with contextlib.suppress(StoreUnavailable):  # it gives up when the writer lets go or after 3 s
        store.remember("k", "v", 60)


def test_a_store_call_never_starts_past_the_deadline(tmp_path):
    store = BoundedStore(SqliteStore(str(tmp_path / "s.db")), Budget(1.0, total=1.0), keep=1.0)
    with pytest.raises(StoreUnavailable, match="no time left"):
        store.recall("key")


def test_lone_surrogates_in_the_event_still_give_a_writable_result(simulator):
    event = {"pool_id": DEMO_POOL + "\udc80", "extra\ud800": 1, "channels": ["feishu\udfff"]}
    result = invoke(event, PlatformContext())
    assert result["errors"]
    assert all(e["code"] == "EVENT.INVALID" for e in result["errors"])
    json.dumps(result, ensure_ascii=False).encode("utf-8")


def test_a_3000_item_check_job_reaches_every_channel_in_3_seconds(monkeypatch, capsys):
    scenario = demo_scenario()
    job = scenario["jobs"][0]["member_check"]
    job["result"]["acl"]["check_result"] = False
    job["result"]["acl"]["check_items"] = [
        {
            "name": f"acl_item_{index}",
            "reason": None,
            "severity": "Major",
            "subject": "networkAcl",
            "reason_template": "healthCheck port {$port} is not allowed by ACL {$acl_id}",
            "reason_params": ["p" * 1500, "a" * 1500],
        }
        for index in range(3000)
    ]
    with ElbSimulator(scenario) as sim:
        point_at(sim, monkeypatch)
        with running_receivers(smn_ak=sim.credentials.ak, smn_sk=sim.credentials.sk) as receivers:
            for name, value in receivers.env().items():
                monkeypatch.setenv(name, value)
            started = time.monotonic()
            result = invoke({"pool_id": DEMO_POOL, "job_id": DEMO_JOB}, PlatformContext(remaining_ms=3000))
            elapsed = time.monotonic() - started
            accepted = {type(r).__name__: len(r.accepted) for r in receivers.all()}
    assert elapsed <= 3 + 1, elapsed
    assert {d["channel"]: d["status"] for d in result["deliveries"]} == dict.fromkeys(CHANNELS, "sent")
    assert set(accepted.values()) == {1}, accepted
    [record] = result["notifications"]
    assert len(record["check"]["failed_items"]) == 100
    assert record["check"]["failed_items_omitted"] >= 2900
    assert len(json.dumps(result, ensure_ascii=False).encode()) < 1_000_000
    longest = max(len(line) for line in capsys.readouterr().out.splitlines())
    assert longest < 1_000_000, "no log line carries the whole 18 MB record"
