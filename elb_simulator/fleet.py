"""Fleets of generated pools, for sweeps and benchmarks: thousands of pools from a seed."""

from __future__ import annotations

import random
import uuid
from typing import Any

FLEET_KEYS = ("pools", "failed_ratio", "seed", "loadbalancers")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _member(rng: random.Random, role: str, index: int, listener: str, *, failed: bool) -> dict[str, Any]:
    octet = index % 250 + 2
    return {
        "id": _uuid(rng),
        "name": f"{role}-{index:05d}",
        "admin_state_up": True,
        "subnet_cidr_id": "",
        "protocol_port": 8080,
        "address": f"10.{index // 62500 % 250}.{index // 250 % 250}.{octet}",
        "ip_version": "v4",
        "device_owner": "",
        "device_id": "",
        "operating_status": "ONLINE",
        "reason": {"reason_code": "CONNECT_REFUSED", "expected_response": None, "healthcheck_response": None}
        if failed
        else None,
        "member_type": "ip",
        "instance_id": "",
        "role": role,
        "status": [{"listener_id": listener, "operating_status": "OFFLINE" if failed else "ONLINE"}],
    }


def generate_fleet(spec: dict[str, Any], project_id: str) -> list[dict[str, Any]]:
    """Pools for a fleet spec {"pools": N, "failed_ratio": 0.01, "seed": 7, "loadbalancers": 100}.

    The same spec always gives the same pools (ids, names and which masters failed).
    """
    rng = random.Random(spec.get("seed", 0))  # noqa: S311 - reproducible test data, not security
    count = int(spec["pools"])
    failed_ratio = float(spec.get("failed_ratio", 0.0))
    loadbalancers = [_uuid(rng) for _ in range(max(1, int(spec.get("loadbalancers", 100))))]
    pools = []
    for index in range(count):
        listener = _uuid(rng)
        failed = rng.random() < failed_ratio
        pools.append(
            {
                "id": _uuid(rng),
                "name": f"fleet-pool-{index:05d}",
                "description": "",
                "lb_algorithm": "ROUND_ROBIN",
                "protocol": "TCP",
                "project_id": project_id,
                "enterprise_project_id": "0",
                "ip_version": "v4",
                "type": "ip",
                "vpc_id": "",
                "session_persistence": None,
                "listeners": [{"id": listener}],
                "loadbalancers": [{"id": loadbalancers[index % len(loadbalancers)]}],
                "healthmonitor": {
                    "id": _uuid(rng),
                    "name": "",
                    "type": "TCP",
                    "admin_state_up": True,
                    "delay": 5,
                    "timeout": 3,
                    "max_retries": 3,
                    "max_retries_down": 3,
                    "monitor_port": None,
                    "domain_name": "",
                    "expected_codes": "",
                    "http_method": "",
                    "url_path": "",
                },
                "members": [
                    _member(rng, "master", index, listener, failed=failed),
                    _member(rng, "slave", index, listener, failed=False),
                ],
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            }
        )
    return pools
