"""The retry loop every sender shares: backoff or Retry-After, never past the deadline."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

from handler.budget import retry_delay
from handler.channels.context import DeliveryContext
from handler.channels.pacing import Pacer

# Below this many seconds before the deadline, an attempt cannot usefully start.
MIN_CALL_SECONDS = 0.05
# A backoff is cut so that at least this much time is left for the attempt after it.
MIN_ATTEMPT_SECONDS = 0.25
RETRY_CAP_SECONDS = 4.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one try went: accepted, or an error, whether to retry, and a wait the service asked for."""

    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery ended, after how many attempts, and why not.

    `sent` is the only status that settles a channel. `throttled` (the service said "too fast") and
    `deferred` (no time or no rate-limit slot left in this invocation) are owed to the next run, like
    `failed`; they differ only in what they tell the reader.
    """

    status: str
    attempts: int
    error: str | None = None


class Progress:
    """Attempts made so far, readable from another thread when the deadline cuts a send short.

    With a pacer, every attempt (retries too) first waits for a slot within the channel's limits.
    """

    def __init__(self, pacer: Pacer | None = None) -> None:
        """Start at zero attempts."""
        self._lock = threading.Lock()
        self._attempts = 0
        self._pacer = pacer

    def admit(self, deadline: float) -> bool:
        """Wait for the channel's next rate-limit slot; False when it comes after `deadline`."""
        return self._pacer is None or self._pacer.admit(deadline)

    def finished_attempt(self) -> None:
        """Tell the pacer an attempt reached (or tried to reach) the service."""
        if self._pacer is not None:
            self._pacer.finished()

    def started_attempt(self) -> int:
        """Count one more attempt and return the count."""
        with self._lock:
            self._attempts += 1
            return self._attempts

    @property
    def attempts(self) -> int:
        """Attempts started so far."""
        with self._lock:
            return self._attempts


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks to wait (delay-seconds or an HTTP date); None if unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def _final(error: str | None, attempts: int, why_stopped: str = "") -> str:
    message = error or "not accepted"
    if attempts > 1:
        message += f" (after {attempts} attempts)"
    return f"{message}; {why_stopped}" if why_stopped else message


def with_retries(  # noqa: PLR0912 - one loop: each branch is one documented way an attempt can end
    try_once: Callable[[float], Attempt],
    ctx: DeliveryContext,
    progress: Progress,
    rng: random.Random | None = None,
) -> Outcome:
    """Call `try_once(seconds_left)` until it is accepted, not retryable, out of attempts or of time.

    Waits between attempts follow the service's Retry-After when it gives one (and give up when that
    is past the deadline), else jittered exponential backoff cut to the time left.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    error: str | None = None
    while True:
        left = ctx.deadline - ctx.clock()
        if left < MIN_CALL_SECONDS:
            if progress.attempts == 0:
                return Outcome("deferred", 0, "no time left before the deadline to send")
            return Outcome(
                "failed", progress.attempts, _final(error, progress.attempts, "no time left to retry")
            )
        if not progress.admit(ctx.deadline - MIN_ATTEMPT_SECONDS):
            why = "no slot within the service's rate limit before the deadline; owed to the next run"
            if progress.attempts == 0:
                return Outcome("deferred", 0, why)
            return Outcome("failed", progress.attempts, _final(error, progress.attempts, why))
        attempts = progress.started_attempt()
        try:
            result = try_once(max(MIN_CALL_SECONDS, ctx.deadline - ctx.clock()))
        finally:
            progress.finished_attempt()
        if result.error is None:
            return Outcome("sent", attempts)
        error = result.error
        if result.throttled and (result.retry_after is None or attempts >= ctx.max_attempts):
            # Without a wait the service names, trying again now only extends the throttle.
            return Outcome("throttled", attempts, _final(error, attempts, "owed to the next run"))
        if not result.retryable or attempts >= ctx.max_attempts:
            return Outcome("failed", attempts, _final(error, attempts))
        left = ctx.deadline - ctx.clock()
        if result.retry_after is not None:
            wait = result.retry_after
            if wait + MIN_CALL_SECONDS > left:
                why = f"the service asked to wait {wait:g} s, past the deadline"
                status = "throttled" if result.throttled else "failed"
                return Outcome(status, attempts, _final(error, attempts, why))
        else:
            wait = retry_delay(attempts, base=ctx.retry_base, cap=RETRY_CAP_SECONDS, rng=rng)
            wait = min(wait, max(0.0, left - MIN_ATTEMPT_SECONDS))
        if wait > 0:
            ctx.sleep(wait)
