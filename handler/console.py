"""The Huawei Cloud console link of a pool, put in every finding's `links`. Pure.

The console has no documented deep link to one backend server group; the load balancer's detail page
(`https://console.huaweicloud.com/elb/?region=<region>#/elb/detail/<loadbalancer id>`, the shape the
console itself opens) lists its backend server groups, so that is where the link goes. Region and id
come from ELB and are URL-encoded, so neither can change where the link points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

CONSOLE = "https://console.huaweicloud.com"


def console_url(region: str, loadbalancer_id: str) -> str:
    """The console page of a load balancer in its region ("" without either)."""
    if not region or not loadbalancer_id:
        return ""
    return f"{CONSOLE}/elb/?region={quote(region, safe='')}#/elb/detail/{quote(loadbalancer_id, safe='')}"


def console_links(pool: Mapping[str, Any] | None, region: str) -> list[dict[str, str]]:
    """`[{"name": "console", "url": …}]` for a pool block's first load balancer, or [] when unknown."""
    ids = pool.get("loadbalancer_ids") if isinstance(pool, Mapping) else None
    first = next((lb for lb in ids if isinstance(lb, str) and lb), "") if isinstance(ids, list) else ""
    url = console_url(region if isinstance(region, str) else "", first)
    return [{"name": "console", "url": url}] if url else []
