"""Pacing: send to a service no faster than the limits it documents, or not at all in this run.

Each channel module declares `RATE_LIMITS` as (messages, per seconds) pairs, e.g. DingTalk's
((20, 60.0),). A `Pacer` keeps when each recent attempt to that channel finished and, before the next
attempt, waits until every window has room; when that moment is past the deadline it says no, and
the message stays owed to the next run. Finish times (not start times) are kept, so a message can
never reach the service inside the window of one it already counted. The history is wall-clock
seconds so that it can be carried from one invocation to the next through the state store.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

# Seconds added to each window: clocks and network paths differ a little between us and the service.
MARGIN_SECONDS = 0.05
# The history of one channel never needs more entries than its largest window allows.
MAX_HISTORY = 1000

Limits = tuple[tuple[int, float], ...]


class Pacer:
    """The send history of one channel and the slot its next attempt may take."""

    def __init__(
        self,
        limits: Limits,
        *,
        history: Iterable[float] = (),
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Start from earlier finish times (wall-clock seconds), e.g. the last invocation's."""
        self.limits = tuple(
            (int(count), float(window)) for count, window in limits if count > 0 and window > 0
        )
        depth = min(MAX_HISTORY, max((count for count, _ in self.limits), default=0))
        self._done: deque[float] = deque(sorted(history)[-depth:] if depth else (), maxlen=max(depth, 1))
        self._wall_clock, self._clock, self._sleep = wall_clock, clock, sleep
        self._lock = threading.Lock()
        self.waited = 0.0

    def next_slot(self) -> float:
        """The wall-clock second from which one more attempt stays within every limit."""
        with self._lock:
            slot = self._wall_clock()
            history = list(self._done)
        for count, window in self.limits:
            if len(history) >= count:
                slot = max(slot, history[-count] + window + MARGIN_SECONDS)
        return slot

    def admit(self, deadline: float) -> bool:
        """Wait for the next slot and say yes; say no at once if it comes after `deadline` (a clock value)."""
        wait = self.next_slot() - self._wall_clock()
        if wait <= 0:
            return True
        if self._clock() + wait >= deadline:
            return False
        self._sleep(wait)
        self.waited += wait
        return True

    def finished(self) -> None:
        """Count an attempt that just ended (whatever its answer: the service counted it)."""
        if self.limits:
            with self._lock:
                self._done.append(self._wall_clock())

    def history(self) -> list[float]:
        """The finish times that still matter to some window, for the next invocation."""
        now = self._wall_clock()
        horizon = max((window for _, window in self.limits), default=0.0) + MARGIN_SECONDS
        with self._lock:
            return [at for at in self._done if at > now - horizon]

    @property
    def horizon(self) -> float:
        """Seconds a finish time matters: the largest window."""
        return max((window for _, window in self.limits), default=0.0) + MARGIN_SECONDS


def encode_history(times: Sequence[float]) -> str:
    """Finish times as the text a store keeps."""
    return json.dumps([round(value, 3) for value in times])


def decode_history(raw: str | None) -> list[float]:
    """Finish times read back from a store; anything unreadable is no history."""
    if not raw:
        return []
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    if not isinstance(values, list):
        return []
    return [
        float(value)
        for value in values[-MAX_HISTORY:]
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ]
