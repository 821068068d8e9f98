"""The routing file (`ELB_WATCH_ROUTES`): receivers, routes, default and watcher receivers. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from handler.channels.config import Channel


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """A parsed routing file."""

    receivers: tuple[Channel, ...] = ()
    uses_tags: bool = False
