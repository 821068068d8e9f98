"""Who gets each notification: the receivers of this deployment and the routing file's routes. Pure.

Without `ELB_WATCH_ROUTES` every configured channel is a receiver named after its channel type and
every notification goes to all of them, exactly as before routes existed. With a routing file
(`handler.routes`), a finding goes to the receivers of the routes its pool matches (else the default
receivers), a watcher_error to the watcher receivers, and a resolved notice to the receivers that got
the firing one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handler.channels.config import Channel
from handler.lifecycle import NEVER_TOLD, every_receiver

if TYPE_CHECKING:
    from handler.routes import RouteConfig

Audience = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[str, ...]]
"""Who gets a notification: (its record, its ledger by receiver name) → receiver names."""


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


def _names(wanted: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    present = set(known)
    return tuple(name for name in dict.fromkeys(wanted) if name in present)


def audience(receivers: Receivers) -> Audience:
    """Who a notification goes to, given its record and its ledger (receiver → last delivery).

    No routes: every receiver. A watcher_error: the watcher receivers (absent: every receiver). A
    resolved notice: the receivers its ledger names (they got, or were owed, the firing one), even
    when the routes changed meanwhile, except those a time interval or a silence held it from before
    they got it.
    Otherwise the receivers the publish stage routed it to (the record's `route` block), else the
    default receivers.
    """
    everyone = receivers.names
    routes = receivers.routes
    if routes is None:
        return every_receiver(everyone)
    env_names = tuple(c.name for c in receivers.channels if c not in routes.receivers)
    default = routes.default_receivers if routes.default_receivers is not None else env_names
    watchers = routes.watcher_receivers if routes.watcher_receivers is not None else everyone

    def to(record: Mapping[str, Any], ledger: Mapping[str, Any]) -> tuple[str, ...]:
        if record.get("kind") == "watcher_error":
            return _names(watchers, everyone)
        if record.get("status") == "resolved":
            # A receiver whose ledger says muted or silenced was never told the alert fired: no notice.
            got = _names(list(ledger), everyone)
            told = tuple(name for name in got if getattr(ledger[name], "status", None) not in NEVER_TOLD)
            if got:
                return told
        block = record.get("route")
        if isinstance(block, Mapping) and isinstance(block.get("receivers"), list):
            return _names([str(name) for name in block["receivers"]], everyone)
        return _names(default, everyone)

    return to


def widen(names: Sequence[str], receivers: Sequence[Channel]) -> tuple[str, ...]:
    """The receivers an event's `channels` names: by receiver name, or every receiver of a channel type."""
    wanted = set(names)
    return tuple(c.name for c in receivers if c.name in wanted or c.type in wanted)
