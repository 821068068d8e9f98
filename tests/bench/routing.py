"""Bench rows for routing (issue 21): the cost of a 50-route, 20-receiver file, cold and per finding.

    cold   a fresh process (import + one invocation of the demo failed master, sent to one loopback
           webhook) with ELB_WATCH_ROUTES set to a YAML file of 20 receivers and 50 routes, against the
           same process without it; interleaved, medians. Target: within 5 %, for the file as
           `package --include` ships it (with its compiled copy, handler.routing_file); the YAML file
           alone (parsed by PyYAML's pure-Python loader at every cold start) is shown beside it.
    route  stage route over 10,000 findings with that file (tags included). Target: under 50 ms.

Run alone: `python tests/bench/routing.py` (`make bench` includes it).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from elb_simulator.server import ElbSimulator  # noqa: E402
from tests.receivers import WebhookReceiver  # noqa: E402
from tests.support import DEMO_POOL, demo_scenario  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
RECEIVERS = 20
ROUTES = 50

CHILD = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, {root!r})
from handler import handler
class Context:
    def getRemainingTimeInMilliSeconds(self): return 30000
result = handler({{"pool_id": {pool!r}}}, Context())
seconds = time.perf_counter() - t
sent = [d for d in result["deliveries"] if d["status"] == "sent"]
assert [d["receiver"] for d in sent] == ["webhook"], result["deliveries"]
import json
print(json.dumps({{"seconds": seconds}}))
"""


def routing_yaml() -> str:
    """20 receivers (four channel types) and 50 routes; the last one sends web-* to the env webhook."""
    kinds = ("feishu", "dingtalk", "slack", "wecom")
    lines = ["receivers:"]
    for index in range(RECEIVERS):
        kind = kinds[index % len(kinds)]
        lines += [
            f"  - name: team-{index:02d}",
            f'    {kind}: {{webhook: "https://hooks.example.com/{kind}/${{TEAM_{index:02d}_TOKEN}}"}}',
            f'    mention: {{mobiles: ["1380000{index:04d}"]}}',
        ]
    lines.append("routes:")
    for index in range(ROUTES - 1):
        team = f"team-{index % RECEIVERS:02d}"
        match = (
            f'{{tag: {{team: "t{index}"}}}}'
            if index % 5 == 0
            else f'{{pool_name: "svc{index}-*", severity: [critical, major]}}'
        )
        lines += [f"  - match: {match}", f"    receivers: [{team}]"]
        if index % 3 == 0:
            lines.append('    runbook_url: "https://wiki.example.com/rb?pool={pool_id}"')
    lines += ['  - match: {pool_name: "web-*"}', "    receivers: [webhook]"]
    lines += ["default_receivers: [team-00]", "watcher_receivers: [team-01]"]
    return "\n".join(lines) + "\n"


def _env(sim: ElbSimulator, hook: WebhookReceiver, routes: Path | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        **sim.env(),
        "HUAWEICLOUD_SDK_AK": sim.credentials.ak,
        "HUAWEICLOUD_SDK_SK": sim.credentials.sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
        "ELB_WATCH_REGION": sim.region,
        "ELB_WATCH_DIAGNOSE": "off",
        "ELB_WATCH_STATE": "off",
        "ELB_WATCH_WEBHOOK_URL": hook.url,
        "ELB_WATCH_LOG_LEVEL": "error",
    }
    if routes is not None:
        env["ELB_WATCH_ROUTES"] = str(routes)
        env.update({f"TEAM_{index:02d}_TOKEN": f"token-{index:02d}-abcdef" for index in range(RECEIVERS)})
    return env


def _child(env: dict[str, str]) -> float:
    code = textwrap.dedent(CHILD.format(root=str(ROOT), pool=DEMO_POOL))
    with tempfile.TemporaryDirectory(prefix="elb-master-watch-bench-") as tmp:
        done = subprocess.run(
            [sys.executable, "-I", "-c", code],
            env={**env, "TMPDIR": tmp},
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
        )
    if done.returncode != 0:
        raise RuntimeError(f"bench child failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def cold(progress: Any = None) -> tuple[float, float, float]:
    """Median cold start (import + one invocation) without the routing file, with it as shipped (YAML and
    its compiled copy), and with the YAML file alone, in seconds."""
    from handler.routing_file import compile_yaml, compiled_path  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="elb-master-watch-routes-") as folder:
        alone = Path(folder) / "alone" / "routes.yaml"
        shipped = Path(folder) / "shipped" / "routes.yaml"
        for path in (alone, shipped):
            path.parent.mkdir()
            path.write_text(routing_yaml(), encoding="utf-8")
        compiled_path(shipped).write_text(compile_yaml(routing_yaml()), encoding="utf-8")
        with ElbSimulator(demo_scenario()) as sim, WebhookReceiver() as hook:
            plain, routed, yaml_only = [], [], []
            for round_ in range(RUNS):
                if progress is not None:
                    progress(f"routing: cold start {round_ + 1}/{RUNS} without and with a 50-route file")
                plain.append(_child(_env(sim, hook, None)))
                routed.append(_child(_env(sim, hook, shipped)))
                yaml_only.append(_child(_env(sim, hook, alone)))
    return statistics.median(plain), statistics.median(routed), statistics.median(yaml_only)


def route_many(findings: int = 10_000) -> tuple[float, float]:
    """Median seconds of stage route over `findings` notifications with the 50-route file: (wall, CPU).

    CPU time (`time.process_time`) is what the stage costs; on a shared VM the wall clock also counts
    the time the hypervisor gave the CPU to someone else.
    """
    import yaml  # noqa: PLC0415 - the bench's own imports stay out of the cold-start children

    from handler.channels.config import Channel  # noqa: PLC0415
    from handler.domain import Notification  # noqa: PLC0415
    from handler.receivers import Receivers  # noqa: PLC0415
    from handler.routes import parse  # noqa: PLC0415
    from handler.routing import decide_routes  # noqa: PLC0415

    env = {f"TEAM_{index:02d}_TOKEN": f"token-{index:02d}" for index in range(RECEIVERS)}
    webhook = Channel("webhook", url="https://hooks.example.com/env")
    config = parse(yaml.safe_load(routing_yaml()), env, (webhook,))
    receivers = Receivers((webhook, *config.receivers), (), config)
    notifications = tuple(
        Notification(
            fingerprint=f"fp{index:05d}",
            kind="master_failed",
            severity="major",
            title="t",
            pool={
                "id": f"pool-{index}",
                "name": f"svc{index % 60}-{index}",
                "loadbalancer_ids": [f"lb-{index % 40}"],
            },
            region="cn-north-4",
            project_id="p",
        )
        for index in range(findings)
    )
    tags = {f"lb-{index}": {"team": f"t{index * 5}"} for index in range(40)}
    times, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        routed = decide_routes(notifications, receivers, tags)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    assert len(routed) == findings
    return statistics.median(times), statistics.median(cpu)


def routing_rows(progress: Any = None) -> list[tuple[str, str, str, bool]]:
    """The two routing rows of the bench table: (name, result, target, met)."""
    plain, routed, yaml_only = cold(progress)
    rows = [
        (
            (
                f"Cold start with a {ROUTES}-route, {RECEIVERS}-receiver YAML routing file as `package "
                "--include` ships it (with its compiled copy; import + 1 invocation, dev venv, `-I`) "
                "vs without"
            ),
            f"{routed * 1000:.0f} ms vs {plain * 1000:.0f} ms = **{routed / plain:.3f}x**",
            "<= 1.05x",
            routed / plain <= 1.05,
        ),
        (
            "The same YAML file alone (no compiled copy: PyYAML's pure-Python parser at every cold start)",
            f"{yaml_only * 1000:.0f} ms vs {plain * 1000:.0f} ms = {yaml_only / plain:.3f}x",
            "shown, no target (ship it with `package --include`)",
            True,
        ),
    ]
    if progress is not None:
        progress("routing: stage route over 10,000 findings")
    seconds, cpu = route_many()
    rows.append(
        (
            f"Stage route: 10,000 findings through {ROUTES} routes (tags included)",
            f"{cpu * 1000:.1f} ms CPU ({seconds * 1000:.1f} ms wall)",
            "< 50 ms CPU",
            cpu < 0.050,
        )
    )
    return rows


if __name__ == "__main__":
    for name, result, target, met in routing_rows(lambda step: print(step, file=sys.stderr, flush=True)):
        print(f"| {name} | {result} | {target} | {'yes' if met else 'MISSED'} |")
