"""The warm instance's load balancer tags: read once, reused for TAG_TTL_SECONDS (handler.tags).

Tags change rarely and a route on `tag` tolerates minutes of delay, while a storm of findings would
otherwise read the same load balancers every minute. Ten minutes: a retagged load balancer routes
by its new tags at most ten minutes later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

# How long a load balancer's tags are reused before they are read again.
TAG_TTL_SECONDS = 600.0
# At most this many load balancers are kept; then the cache starts afresh (as SdkClients does).
MAX_CACHED_LOADBALANCERS = 20_000

Scope = tuple[str, str]
"""(region, project_id): a load balancer id is only looked up in the scope it was read in."""


class TagCache:
    """Tags by scope and load balancer id, each kept `ttl` seconds from when it was read; thread-safe."""

    def __init__(self, ttl: float = TAG_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        """Start empty; `clock` is monotonic seconds (injectable for tests)."""
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[tuple[str, str, str], tuple[float, Mapping[str, str]]] = {}
        self._lock = threading.Lock()

    def known(self, scope: Scope, loadbalancer_ids: Iterable[str]) -> dict[str, Mapping[str, str]]:
        """The tags still fresh for these load balancers (those not read or too old are left out)."""
        now = self._clock()
        found: dict[str, Mapping[str, str]] = {}
        with self._lock:
            for lb_id in loadbalancer_ids:
                kept = self._kept.get((scope[0], scope[1], lb_id))
                if kept is not None and now - kept[0] < self._ttl:
                    found[lb_id] = kept[1]
        return found

    def keep(self, scope: Scope, tags: Mapping[str, Mapping[str, str]]) -> None:
        """Remember what was just read (a load balancer with no tags as {})."""
        now = self._clock()
        with self._lock:
            if len(self._kept) + len(tags) > MAX_CACHED_LOADBALANCERS:
                self._kept.clear()
            for lb_id, lb_tags in tags.items():
                self._kept[(scope[0], scope[1], lb_id)] = (now, dict(lb_tags))

    def __len__(self) -> int:
        """How many load balancers are kept (fresh or not)."""
        with self._lock:
            return len(self._kept)

    def clear(self) -> None:
        """Forget every load balancer's tags."""
        with self._lock:
            self._kept.clear()
