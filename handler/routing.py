"""Stage route: each finding to the receivers of the routes its pool matches (`ELB_WATCH_ROUTES`).

The decision rides in the record (`route`: receivers, the routes that matched, the runbook link), so
the lifecycle sends it to them (`handler.receivers.audience`) and the result and `alerts list` show
it; the runbook link joins the record's `links`. Without a routing file nothing is added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from handler.domain import Notification
from handler.routes import RouteConfig, route

if TYPE_CHECKING:
    from handler.notifying import Published
    from handler.receivers import Receivers

NO_TAGS: Mapping[str, Mapping[str, str]] = {}


def lb_tags(record: Mapping[str, Any], tags: Mapping[str, Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The tags of each load balancer of the record's pool that the read stage could read."""
    pool = record.get("pool")
    ids = pool.get("loadbalancer_ids") if isinstance(pool, Mapping) else None
    return [tags[lb] for lb in ids if isinstance(lb, str) and lb in tags] if isinstance(ids, list) else []


def routed(
    notification: Notification,
    config: RouteConfig,
    tags: Mapping[str, Mapping[str, str]],
    default: Sequence[str],
) -> Notification:
    """The notification with its route block, and the runbook link in its links."""
    record = notification.to_record()
    decision = route(config, record, lb_tags(record, tags), default=default)
    extra = {**notification.extra, "route": decision.as_dict()}
    if decision.runbook_url:
        links = [link for link in extra.get("links") or [] if isinstance(link, Mapping)]
        extra["links"] = [{"name": "runbook", "url": decision.runbook_url}, *links]
    return replace(notification, extra=extra)


def route_findings(
    published: Published, receivers: Receivers, tags: Mapping[str, Mapping[str, str]] = NO_TAGS
) -> Published:
    """Stage route: every finding with the receivers its routes name (unchanged without routes)."""
    config = receivers.routes
    if config is None:
        return published
    default = tuple(c.name for c in receivers.channels if c not in config.receivers)
    notifications = tuple(routed(n, config, tags, default) for n in published.notifications)
    return replace(published, notifications=notifications)
