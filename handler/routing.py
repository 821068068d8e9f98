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
from handler.routes import Route, RouteConfig, Routed, fields_from, route_fields
from handler.windows import Muted, muting

if TYPE_CHECKING:
    from handler.pipeline import Muting
    from handler.receivers import Receivers

NO_TAGS: Mapping[str, Mapping[str, str]] = {}


def lb_tags(pool: Any, tags: Mapping[str, Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The tags of each load balancer of a pool block that the read stage could read."""
    if not tags or not (type(pool) is dict or isinstance(pool, Mapping)):
        return []
    ids = pool.get("loadbalancer_ids")
    return [tags[lb] for lb in ids if type(lb) is str and lb in tags] if type(ids) is list else []


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


def window_muting(config: RouteConfig | None, now: float) -> Muting | None:
    """Stage mute's rule: which receivers a time interval holds a notification for at `now`.

    A receiver is held when every route that matched the notification (its record's `route` block)
    and names it is muted now (a `mute_time_intervals` window active, or outside all its
    `active_time_intervals`); one route that is not gives it the notification, as in Alertmanager.
    The watcher's own alerts and what no route matched are never held. None: no route has windows.
    """
    if config is None or not any(route.mute or route.active for route in config.routes):
        return None
    by_place = {route.place: route for route in config.routes}
    windows = config.windows
    decided: dict[str, Muted | None] = {}

    def route_muted(route: Route) -> Muted | None:
        if route.place not in decided:
            mute = [windows[name] for name in route.mute if name in windows]
            active = [windows[name] for name in route.active if name in windows]
            decided[route.place] = muting(mute, active, now) if mute or active else None
        return decided[route.place]

    def held(notification: Notification, receiver: str) -> Muted | None:
        block = notification.extra.get("route")
        matched = block.get("matched") if isinstance(block, Mapping) else None
        if notification.kind == "watcher_error" or not isinstance(matched, list):
            return None
        routes = [by_place[p] for p in matched if p in by_place and receiver in by_place[p].receivers]
        holds = [route_muted(route) for route in routes]
        if not holds or any(hold is None for hold in holds):
            return None
        # Held until the first of its routes lets it through.
        return min((hold for hold in holds if hold is not None), key=lambda hold: hold.until or float("inf"))

    return held
