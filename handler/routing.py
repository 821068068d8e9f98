"""Stage route: each finding to the receivers of the routes its pool matches (`ELB_WATCH_ROUTES`).

The stage decides (fingerprint → `Routed`: receivers, the routes that matched, the runbook link); the
decision then rides in the record the lifecycle keeps (`route`, and the runbook in `links`), so the
lifecycle sends it to those receivers (`handler.receivers.audience`) and the result and `alerts list`
show it. Without a routing file nothing is decided or added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from handler.domain import Notification
from handler.routes import Routed, fields_from, route_fields

if TYPE_CHECKING:
    from handler.receivers import Receivers

NO_TAGS: Mapping[str, Mapping[str, str]] = {}


def lb_tags(pool: Any, tags: Mapping[str, Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The tags of each load balancer of a pool block that the read stage could read."""
    ids = pool.get("loadbalancer_ids") if isinstance(pool, Mapping) and tags else None
    return [tags[lb] for lb in ids if isinstance(lb, str) and lb in tags] if isinstance(ids, list) else []


def decide_routes(
    notifications: Sequence[Notification], receivers: Receivers, tags: Mapping[str, Mapping[str, str]]
) -> dict[str, Routed]:
    """Where each notification goes, by fingerprint (empty without a routing file)."""
    config = receivers.routes
    if config is None:
        return {}
    default = tuple(c.name for c in receivers.channels if c not in config.receivers)
    decided = {}
    used = config.index.used
    for n in notifications:
        fields = fields_from(n.pool, n.check, (n.region, n.project_id, n.kind, n.severity), used)
        decided[n.fingerprint] = route_fields(config, fields, lb_tags(n.pool, tags), default=default)
    return decided


def with_route(record: dict[str, Any], decision: Routed | None) -> dict[str, Any]:
    """The record with its route block, and the runbook link first in its links (as is without one)."""
    if decision is None:
        return record
    record["route"] = decision.as_dict()
    if decision.runbook_url:
        links = [link for link in record.get("links") or [] if isinstance(link, Mapping)]
        record["links"] = [{"name": "runbook", "url": decision.runbook_url}, *links]
    return record
