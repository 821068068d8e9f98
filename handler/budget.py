"""The invocation's time budget and the backoff schedules that must fit inside it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Seconds kept after a poll wait for the read that follows it.
POLL_READ_MARGIN = 0.2


@dataclass(slots=True)
class Budget:
    """Seconds left for ELB work: the platform's remaining time minus a reserve kept for notifying.

    The clock and the sleep are injectable so tests can run on their own time.
    """

    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Seconds until the invocation's hard deadline (the platform's); None: the same as `seconds`.
    total: float | None = None
    started: float = field(init=False)

    def __post_init__(self) -> None:
        """Start counting now."""
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.seconds - (self.clock() - self.started))

    def deadline(self) -> float:
        """The invocation's hard deadline on `clock`: every wait of the invocation ends before it."""
        return self.started + (self.seconds if self.total is None else self.total)

    def left(self) -> float:
        """Seconds until the hard deadline, never negative (more than `remaining` by the reserve)."""
        return max(0.0, self.deadline() - self.clock())

    def slice(self, cap: float, keep: float = 0.0) -> float:
        """The seconds one wait may take: at most `cap`, and never past the deadline less `keep`."""
        return max(0.0, min(cap, self.left() - keep))

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return self.clock() - self.started

    def poll_pause(self, poll: int, first: float) -> float:
        """Seconds to wait before poll number `poll` (0-based) of a check job; 0 or less: no time left.

        The schedule grows from `first` by half each time up to four times `first`, and always leaves
        room for the read that follows.
        """
        return min(poll_delay(poll, first, cap=4 * first), self.remaining() - POLL_READ_MARGIN)

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` if that still leaves time for work afterwards; say whether it slept."""
        if seconds >= self.remaining():
            return False
        self.sleep(seconds)
        return True


def work_budget(remaining_ms: float, reserve: float) -> float:
    """Seconds the watcher may spend on ELB, given the platform's remaining time in milliseconds.

    The reserve kept for logging and notifying is at most a quarter of what is left, so a short
    function timeout still leaves room to work.
    """
    total = max(0.0, remaining_ms / 1000.0)
    return max(0.0, total - min(reserve, total / 4))


def retry_delay(attempt: int, base: float = 1.0, cap: float = 8.0, rng: random.Random | None = None) -> float:
    """Jittered exponential backoff before retry number `attempt` (1-based).

    Starts near `base` seconds: long enough for a per-second API throttle to reset (the SDK's own
    backoff starts at 10 ms). Equal jitter: half fixed, half random, so retries from concurrent
    invocations spread out but never collapse to zero.
    """
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    jitter: float = (rng or random).random()
    return ceiling / 2 + ceiling / 2 * jitter


def poll_delay(poll: int, first: float = 1.0, factor: float = 1.5, cap: float = 4.0) -> float:
    """Seconds to wait before reading a processing check job again (poll is 0-based)."""
    return min(cap, first * factor**poll)
