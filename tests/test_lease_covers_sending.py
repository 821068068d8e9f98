"""A lease lasts as long as the run may still send: a slow channel never lets a second run send again.

The function timeout is 60 s; a lease capped at 30 s ran out while one channel was still retrying, and
an invocation that started after that sent the alert to every healthy channel a second time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest

from handler.app import invoke
from handler.notifying import LEASE_MARGIN_SECONDS, lease_ms
from tests.receivers import Reply, running_receivers
from tests.support import DEMO_POOL, PlatformContext

HANG_SECONDS = 4.0
PLATFORM_MS = 60_000


@pytest.fixture
def receivers(simulator, monkeypatch, tmp_path):
    """Every loopback receiver, a SQLite store of this test's own, no diagnosis (one ELB read)."""
    with running_receivers(
        secret="lease-signing-secret-0001", smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk
    ) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield running


def _wait_for(condition: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_lease_is_taken_to_the_platform_deadline_not_30_seconds():
    assert lease_ms(55.0) == int((55.0 + LEASE_MARGIN_SECONDS) * 1000)
    assert lease_ms(900.0) > 30_000  # a 15-minute function keeps its lease for as long as it runs
    assert lease_ms(-3.0) == 1000  # a spent budget still asks for a valid lease


def test_a_second_run_while_a_channel_hangs_sends_nothing_twice(receivers, tmp_path):
    receivers.slack.fail_with(Reply(200, "ok", delay=HANG_SECONDS))  # Slack hangs, then accepts
    first: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: first.update(invoke({"pool_id": DEMO_POOL}, PlatformContext(PLATFORM_MS)))
    )
    worker.start()
    try:
        assert _wait_for(lambda: receivers.slack.received, 10), "the first run never reached Slack"
        with sqlite3.connect(tmp_path / "state.db") as conn:
            expiries = [row[0] for row in conn.execute("SELECT expires_at FROM lease")]
        # Held for the whole platform time, so no run that starts later (33 s, 50 s in) can take it.
        assert expiries
        assert min(expiries) > time.time() + PLATFORM_MS / 1000 - 10
        second = invoke({"pool_id": DEMO_POOL}, PlatformContext(PLATFORM_MS))
    finally:
        worker.join(30)
    assert not worker.is_alive()
    assert {d["status"] for d in second["deliveries"]} == {"skipped"}
    assert all("another invocation" in d["error"] for d in second["deliveries"])
    assert {d["status"] for d in first["deliveries"]} == {"sent"}
    # Slack's one (scripted) answer is not an acceptance of its own: it got one request, no second.
    assert len(receivers.slack.received) == 1
    for receiver in receivers.all():
        if receiver is not receivers.slack:
            assert len(receiver.accepted) == 1, type(receiver).__name__
    with sqlite3.connect(tmp_path / "state.db") as conn:
        assert conn.execute("SELECT count(*) FROM lease").fetchone() == (0,)  # given back at the end
