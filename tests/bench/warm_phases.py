"""Where a warm invocation's time goes: `.venv/bin/python tests/bench/warm_phases.py [ELB_WATCH_STATE]`.

The simulator runs in its own process (as in production, ELB's work is not on our CPU); the function
runs warm in this one, 500 times, with a perf_counter wrapper around each phase. The wrappers cost a
little themselves; compare phases with each other, and use `make bench` for the ratios.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import DEMO_JOB, DEMO_POOL, demo_scenario  # noqa: E402 - after the path is set

RUNS = 500
TOTALS: collections.Counter[str] = collections.Counter()


def timed(owner: Any, name: str, label: str) -> None:
    """Replace owner.name by a wrapper that adds its wall time to TOTALS[label]."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TOTALS[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def instrument() -> None:
    """Wrap the phases of a warm run (the modules are imported here, after the path is set)."""
    from handler import app, elb, invocation, pipeline  # noqa: PLC0415
    from handler.state import base, sqlite_store  # noqa: PLC0415

    timed(app, "_configure", "settings and wiring")
    # The stages as handler.invocation.run calls them (names looked up in that module).
    for stage in ("start", "parse_event", "read", "publish", "notify", "result", "summarize"):
        timed(invocation, stage, f"stage {stage}")
    timed(elb.ElbGateway, "show_pool", "ELB show_pool (in a worker)")
    timed(elb.ElbGateway, "show_check_job", "ELB show_check_job")
    timed(pipeline, "decide", "lifecycle decide")
    for method in ("load", "lease", "save"):
        timed(sqlite_store.SqliteStore, method, f"sqlite {method}")
    timed(base, "decode_state", "decode a stored state")


def main() -> None:
    """Serve the demo scenario from a child process and time warm invocations against it."""
    scenario = demo_scenario(processing_reads=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.json"
        path.write_text(json.dumps(scenario))
        server = subprocess.Popen(
            [sys.executable, "-m", "elb_simulator", str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            assert server.stdout is not None
            server.stdout.readline()
            for line in server.stdout:
                name, _, value = line.removeprefix("export ").strip().partition("=")
                os.environ[name] = value
                if name.startswith("HUAWEICLOUD_SDK_REGION_ELB_"):
                    break
            run(scenario, sys.argv[1] if len(sys.argv) > 1 else None)
        finally:
            server.terminate()
            server.wait(5)


def run(scenario: dict[str, Any], state: str | None) -> None:
    """Warm up, then time RUNS invocations of one failed master plus its check job."""
    credentials = scenario["credentials"][0]
    os.environ.update(
        HUAWEICLOUD_SDK_AK=credentials["ak"],
        HUAWEICLOUD_SDK_SK=credentials["sk"],
        HUAWEICLOUD_SDK_PROJECT_ID=scenario["project_id"],
        ELB_WATCH_REGION=scenario["region"],
        ELB_WATCH_LOG_LEVEL="warning",
    )
    if state is not None:
        os.environ["ELB_WATCH_STATE"] = state
    import handler  # noqa: PLC0415

    instrument()

    class Context:
        def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802 - the platform's name
            return 30000

    event = {"pool_id": DEMO_POOL, "job_id": DEMO_JOB}
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - the function's log lines
    try:
        for _ in range(30):
            handler.handler(event, Context())
        TOTALS.clear()
        started = time.perf_counter()
        for _ in range(RUNS):
            handler.handler(event, Context())
        total = time.perf_counter() - started
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    print(f"{total / RUNS * 1e6:8.0f} us  one warm invocation (state: {state or 'instance'})")
    for label, seconds in TOTALS.most_common():
        print(f"{seconds / RUNS * 1e6:8.0f} us  {label}")


if __name__ == "__main__":
    main()
