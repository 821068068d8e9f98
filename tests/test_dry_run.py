"""A dry run changes nothing: no check job started, no store file created, no pacing history written."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest

from handler.app import WARM, invoke
from handler.state import open_store
from handler.state.url import instance_file
from tests.support import DEMO_POOL, PlatformContext

DEMO_MASTER = "2e7b36d2-66c8-4825-bcd2-211d99978680"
DEMO_LISTENER = "0b11747a-b139-492f-9692-2df0b1c87193"


@pytest.fixture(autouse=True)
def fresh_job_memory():
    """No job remembered from another test: the dry run would otherwise reuse it."""
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def dry(event, **kwargs):
    return invoke(event, PlatformContext(remaining_ms=30_000), dry_run=True, **kwargs)


def test_a_dry_run_starts_no_check_job_and_lists_the_one_it_would_start(simulator):
    result = dry({"pool_id": DEMO_POOL})
    assert simulator.created_jobs == []
    assert simulator.count("/health-check", "POST") == 0
    assert result["would_start"] == [
        {"pool_id": DEMO_POOL, "member_id": DEMO_MASTER, "listener_id": DEMO_LISTENER}
    ]
    [record] = result["notifications"]
    assert record["kind"] == "master_failed"
    assert record["check"] is None  # not diagnosed: that would have started the job
    assert result["errors"] == []


def test_a_dry_run_reads_a_job_already_started_but_starts_none(simulator):
    invoke({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=30_000))  # a real run starts one
    assert len(simulator.created_jobs) == 1
    result = dry({"pool_id": DEMO_POOL})
    assert len(simulator.created_jobs) == 1
    assert result["would_start"] == []


def test_a_real_run_has_no_would_start_field(simulator):
    assert "would_start" not in invoke({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=30_000))


def test_a_dry_run_creates_no_default_store_file(simulator):
    directory = Path(tempfile.gettempdir())
    before = sorted(p.name for p in directory.iterdir())
    result = dry({"pool_id": DEMO_POOL})
    assert result["deduplication"] == "instance"
    assert not (directory / instance_file()).exists()
    assert sorted(p.name for p in directory.iterdir()) == before


def test_a_dry_run_creates_no_named_sqlite_file(simulator, monkeypatch, tmp_path):
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path}/sub/state.db")
    dry({"pool_id": DEMO_POOL})
    assert not (tmp_path / "sub").exists()


def test_a_dry_run_writes_no_state_and_no_pacing_history_to_an_existing_store(
    simulator, monkeypatch, tmp_path
):
    from tests.receivers import running_receivers  # noqa: PLC0415

    path = tmp_path / "state.db"
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{path}")
    with running_receivers(secret="local-signing-secret") as receivers:
        for name, value in receivers.env().items():
            monkeypatch.setenv(name, value)
        result = dry({"pool_id": DEMO_POOL})
        assert {d["status"] for d in result["deliveries"]} == {"dry_run"}
        assert path.exists() is False  # not even created
        # Once the file exists, a dry run that renders every message still adds nothing to it.
        store = open_store(f"sqlite:///{path}")
        assert store is not None
        store.silences()  # creates the file and its tables
        store.close()
        rows_before = _rows(path)
        again = dry({"pool_id": DEMO_POOL})
        assert again["notifications"][0]["notification_reason"] == "first"
        assert {d["status"] for d in again["deliveries"]} == {"dry_run"}
        assert sum(len(r.accepted) for r in receivers.all()) == 0
    assert _rows(path) == rows_before == {"alert_state": [], "memo": [], "lease": []}


def _rows(path: Path) -> dict[str, list[bytes]]:
    conn = sqlite3.connect(path)
    conn.text_factory = bytes
    try:
        return {
            "alert_state": sorted(row[0] for row in conn.execute("SELECT fingerprint FROM alert_state")),
            "memo": sorted(row[0] for row in conn.execute("SELECT key FROM memo")),
            "lease": sorted(row[0] for row in conn.execute("SELECT fingerprint FROM lease")),
        }
    finally:
        conn.close()


def test_the_same_run_for_real_does_write_state_and_pacing(simulator, monkeypatch, tmp_path):
    """The counterpart of the test above: what the dry run left out is what a real run writes."""
    from tests.receivers import running_receivers  # noqa: PLC0415

    path = tmp_path / "state.db"
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{path}")
    with running_receivers(secret="local-signing-secret") as receivers:
        for name, value in receivers.env().items():
            monkeypatch.setenv(name, value)
        invoke({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=30_000))
    rows = _rows(path)
    assert rows["alert_state"]
    assert any(key.startswith(b"pace:") for key in rows["memo"])


def test_the_text_view_says_which_jobs_a_dry_run_would_start(simulator):
    from handler.textview import render_result  # noqa: PLC0415

    text = render_result(dry({"pool_id": DEMO_POOL}))
    assert text.startswith("DRY RUN: nothing was sent, no check job was started and no state was written.")
    assert f"Would start 1 member check job(s) (a real run starts them):\n  member {DEMO_MASTER}" in text
