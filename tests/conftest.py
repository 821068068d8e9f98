"""Fixtures: the embedded ELB simulator on loopback, with the real SDK pointed at it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from elb_simulator import ElbSimulator
from handler.wiring import WARM
from tests.builders import OPENED_STORES, point_at
from tests.support import demo_scenario

# `make test` (and CI) must be deterministic: the same examples every run, so a red build is a change,
# not luck. `make fuzz` explores new random examples; what it finds becomes an @example in the test.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

SDK_ENV = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "RUNTIME_PROJECT_ID",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's credentials or settings, or another test's default state store.

    With ELB_WATCH_STATE unset the handler keeps state in a SQLite file under tempfile.gettempdir():
    each test gets its own temp directory, so its first invocation is a first sighting.
    """
    for name in list(os.environ):
        if name.startswith(("ELB_WATCH_", "HUAWEICLOUD_SDK_")) or name in SDK_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("tmpdir")))


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ElbSimulator]:
    """The demo scenario on 127.0.0.1, with env set as a user of the SDK would set it."""
    with ElbSimulator(demo_scenario()) as sim:
        point_at(sim, monkeypatch)
        # Fast schedules: the behaviour under test is the same, the waits are shorter.
        monkeypatch.setenv("ELB_WATCH_RETRY_BASE_SECONDS", "0.02")
        monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.02")
        yield sim


@pytest.fixture(params=["sqlite", "redis"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An `ELB_WATCH_STATE` URL for each kind of store (Redis: the module's redis_server plugin)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture(autouse=True)
def forget_own_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm instance's memory of the watcher's own alerts (kept while a store is down) is per test."""
    monkeypatch.setattr(WARM, "_own_states", {})


@pytest.fixture(autouse=True)
def close_stores() -> Iterator[None]:
    """Close every store a test opened with tests.builders.opened, whatever happened in it."""
    yield
    while OPENED_STORES:
        OPENED_STORES.pop().close()
