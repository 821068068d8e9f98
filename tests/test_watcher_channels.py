"""WATCH.CHANNELS only when every channel failed: one dead channel never pages the seven that work."""

from __future__ import annotations

import pytest

from handler.app import invoke
from tests.receivers import Reply, running_receivers
from tests.support import DEMO_POOL, PlatformContext


@pytest.fixture
def receivers(simulator, monkeypatch, tmp_path):
    """Every loopback receiver, a SQLite store of this test's own, no diagnosis."""
    with running_receivers(
        secret="channels-signing-secret-01", smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk
    ) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        yield running


def test_a_dead_channel_whose_catch_up_fails_raises_no_every_channel_failed(receivers):
    receivers.slack.fail_with(*[Reply(403, "invalid_token")] * 20)
    first = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    statuses = {d["channel"]: d["status"] for d in first["deliveries"]}
    assert statuses.pop("slack") == "failed"
    assert set(statuses.values()) == {"sent"}
    second = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    # The only delivery owed is Slack's catch-up; it fails again.
    assert [(d["channel"], d["status"]) for d in second["deliveries"]] == [("slack", "failed")]
    assert [n["kind"] for n in second["notifications"]] == ["master_failed"]
    for receiver in receivers.all():
        if receiver is not receivers.slack:
            titles = str(receiver.accepted)
            assert "WATCH.CHANNELS" not in titles, type(receiver).__name__
            assert len(receiver.accepted) == 1, type(receiver).__name__
