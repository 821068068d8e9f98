"""What a delivery needs from the invocation: the deadline, language, SMN credentials, clocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handler.config import Credentials

if TYPE_CHECKING:
    from handler.instance import SdkClients


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """The deadline every send, timeout and retry wait must respect, and what SMN signs with.

    `deadline` is a `clock()` value (time.monotonic by default). `wall_clock` stamps signatures and
    reads HTTP-date Retry-After values; both clocks and `sleep` are injectable for tests.
    `project_id` is only a fallback for SMN: the topic URN's own project id (the account's project
    in the topic's region) is what PublishMessage needs; COC signs with it. `sdk_clients` keeps the
    SMN and COC clients of a warm instance (building one costs milliseconds); None builds one per publish.
    """

    deadline: float
    locale: str = "en"
    credentials: Credentials | None = None
    project_id: str = ""
    wall_clock: Callable[[], float] = time.time
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    max_attempts: int = 4
    retry_base: float = 0.5
    sdk_clients: SdkClients | None = None

    def remaining(self) -> float:
        """Seconds until the deadline, never negative."""
        return max(0.0, self.deadline - self.clock())

    def timeouts(self, left: float) -> tuple[float, float]:
        """(connect, read) timeouts for one attempt, cut to the `left` seconds before the deadline."""
        return (min(self.connect_timeout, left), min(self.read_timeout, left))
