"""The run's fixed context: what every stage of an invocation reads and none changes (handler.invocation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handler.budget import Budget
from handler.config import Credentials, Settings

if TYPE_CHECKING:
    from handler.state.memory import MemoryStore


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run's fixed context, passed down to every stage and never changed.

    `platform` is FunctionGraph's context object (None for a local call); `deadline` the platform's
    (a `time.monotonic()` value); `budget` the one deadline of ELB work; `secrets` what every output is
    scrubbed of; `clock` the wall clock; `own_states` where the watcher's own alerts are kept while the
    store is down (None without a store, and for a dry run).
    """

    platform: Any
    env: Mapping[str, str]
    settings: Settings
    budget: Budget
    deadline: float
    log: Any
    secrets: tuple[str, ...]
    credentials: Credentials | None
    clock: Callable[[], float]
    own_states: MemoryStore | None
