"""Who gets each notification: the receivers of this deployment and the routing file's routes. Pure.

Without `ELB_WATCH_ROUTES` every configured channel is a receiver named after its channel type and
every notification goes to all of them, exactly as before routes existed. With a routing file
(`handler.routes`), a finding goes to the receivers of the routes its pool matches (else the default
receivers), a watcher_error to the watcher receivers, and a resolved notice to the receivers that got
the firing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from handler.channels.config import Channel

if TYPE_CHECKING:
    from handler.routes import RouteConfig


@dataclass(frozen=True, slots=True)
class Receivers:
    """Every receiver of this deployment, the problems that turned some off, and the routes, if any.

    `channels` are the receivers (environment channels first, then the routing file's), each a
    `Channel` whose `name` is the receiver's; `problems` one message per receiver left out (a bad
    variable, a bad routing file entry); `routes` the parsed routing file, None without one.
    """

    channels: tuple[Channel, ...] = ()
    problems: tuple[str, ...] = ()
    routes: RouteConfig | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The receivers' names, in order."""
        return tuple(channel.name for channel in self.channels)

    @property
    def wants_tags(self) -> bool:
        """Whether some route matches on load balancer tags (then the read stage reads them)."""
        return self.routes is not None and self.routes.uses_tags
