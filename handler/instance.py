"""What a warm FunctionGraph instance keeps between invocations, in one object the wiring owns.

SDK clients (building one costs a few milliseconds), the check jobs diagnosis started (reused
inside their TTL instead of starting more), load balancer tags read for routing (reused for
ten minutes), the opened state stores, and the watcher's own alerts while the state store is down.
`app.py` holds one (`app.WARM`)
`Instance`; nothing else keeps state across invocations in a module global.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handler.started_jobs import StartedJobs
    from handler.state import StateStore
    from handler.state.memory import MemoryStore
    from handler.tag_cache import TagCache

# At most this many SDK clients are kept (one per region, project, endpoint and key pair).
MAX_CLIENTS = 8


class SdkClients:
    """SDK clients by what they were built for; thread-safe; at most MAX_CLIENTS, then started afresh."""

    def __init__(self) -> None:
        """Start empty."""
        self._clients: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], build: Callable[[], Any]) -> Any:
        """The client kept for `key`, or `build()` kept for next time (a build that raises keeps nothing)."""
        with self._lock:
            if key in self._clients:
                return self._clients[key]
            client = build()
            if len(self._clients) >= MAX_CLIENTS:
                self._clients.clear()
            self._clients[key] = client
            return client

    def kept(self) -> list[Any]:
        """The clients kept, oldest first."""
        with self._lock:
            return list(self._clients.values())

    def __len__(self) -> int:
        """How many clients are kept."""
        with self._lock:
            return len(self._clients)

    def clear(self) -> None:
        """Forget every client."""
        with self._lock:
            self._clients.clear()


class Instance:
    """The warm-instance caches: ELB and SMN clients, started diagnosis jobs, tags, state stores by URL."""

    def __init__(self) -> None:
        """Start empty; the diagnosis memo and the stores are made on first use (cold start)."""
        self.elb_clients = SdkClients()
        self.smn_clients = SdkClients()
        self.ces_clients = SdkClients()
        self._started_jobs: StartedJobs | None = None
        self._tags: TagCache | None = None
        self._stores: dict[str, StateStore | None] = {}
        self._own_states: dict[int, tuple[object, MemoryStore]] = {}
        self._said: set[str] = set()  # the warnings this instance logs once (at its start)
        self._lock = threading.Lock()

    @property
    def started_jobs(self) -> StartedJobs:
        """Check jobs started per member and listener (imports diagnosis only when a run diagnoses)."""
        with self._lock:
            if self._started_jobs is None:
                from handler.started_jobs import StartedJobs  # noqa: PLC0415 - only runs that diagnose pay

                self._started_jobs = StartedJobs()
            return self._started_jobs

    @property
    def tags(self) -> TagCache:
        """Load balancer tags read for routing, reused for TAG_TTL_SECONDS (only runs that route by tag)."""
        with self._lock:
            if self._tags is None:
                from handler.tag_cache import TagCache  # noqa: PLC0415 - only runs that route by tag pay

                self._tags = TagCache()
            return self._tags

    def first_time(self, what: str) -> bool:
        """True the first time this instance is asked about `what`: a startup warning is logged once."""
        with self._lock:
            new = what not in self._said
            self._said.add(what)
            return new

    def own_states(self, store: object) -> MemoryStore:
        """The watcher's own alerts kept for `store` while it is down (handler.state.memory)."""
        with self._lock:
            kept = self._own_states.get(id(store))
            if kept is None or kept[0] is not store:
                from handler.state.memory import MemoryStore  # noqa: PLC0415 - light, but not at import

                # The store is kept with its memory, so its id cannot be reused by another one.
                kept = self._own_states[id(store)] = (store, MemoryStore())
            return kept[1]

    def store(self, url: str, open_store: Callable[[str], StateStore | None]) -> StateStore | None:
        """The state store for `url`, opened once per instance and kept across warm invocations."""
        with self._lock:
            if url not in self._stores:
                self._stores[url] = open_store(url)
            return self._stores[url]
