"""Channel sends on the one retry loop (handler.outbound.retry): attempts, pacing, and how a send ended."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

from handler.channels.context import DeliveryContext
from handler.channels.pacing import Pacer
from handler.outbound import (
    MIN_ATTEMPT_SECONDS,
    MIN_CALL_SECONDS,
    RETRY_CAP_SECONDS,
    Attempt,
    RetryPlan,
    retry,
)

__all__ = [
    "MIN_ATTEMPT_SECONDS",
    "MIN_CALL_SECONDS",
    "RETRY_CAP_SECONDS",
    "Attempt",
    "Outcome",
    "Progress",
    "retry_after_seconds",
    "with_retries",
]


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


def with_retries(
    try_once: Callable[[float], Attempt],
    ctx: DeliveryContext,
    progress: Progress,
    rng: random.Random | None = None,
) -> Outcome:
    """Call `try_once(seconds_left)` until it is accepted, not retryable, out of attempts or of time.

    The loop is handler.outbound.retry (the one the ELB gateway uses too): waits between attempts
    follow the service's Retry-After when it gives one (and give up when that is past the deadline),
    else jittered exponential backoff cut to the time left. This turns its ending into an Outcome.
    """
    plan = RetryPlan(
        deadline=ctx.deadline,
        clock=ctx.clock,
        sleep=ctx.sleep,
        max_attempts=ctx.max_attempts,
        base=ctx.retry_base,
        cap=RETRY_CAP_SECONDS,
    )
    ended = retry(
        try_once,
        plan,
        admit=progress.admit,
        started=progress.started_attempt,
        finished=progress.finished_attempt,
        rng=rng,
    )
    attempts = ended.attempts
    error = ended.last.error if ended.last is not None else None
    if ended.how == "accepted":
        return Outcome("sent", attempts)
    if ended.how == "no_time":
        if attempts == 0:
            return Outcome("deferred", 0, "no time left before the deadline to send")
        return Outcome("failed", attempts, _final(error, attempts, "no time left to retry"))
    if ended.how == "no_slot":
        why = "no slot within the service's rate limit before the deadline; owed to the next run"
        return (
            Outcome("deferred", 0, why)
            if attempts == 0
            else Outcome("failed", attempts, _final(error, attempts, why))
        )
    if ended.how == "throttled":
        # Without a wait the service names, trying again now only extends the throttle.
        return Outcome("throttled", attempts, _final(error, attempts, "owed to the next run"))
    if ended.how == "wait_past_deadline":
        why = f"the service asked to wait {ended.wait:g} s, past the deadline"
        throttled = ended.last is not None and ended.last.throttled
        return Outcome("throttled" if throttled else "failed", attempts, _final(error, attempts, why))
    return Outcome("failed", attempts, _final(error, attempts))


def classify_sdk_error(exc: Exception, label: str) -> Attempt:
    """An SDK-backed channel's exception (SMN, COC) as an attempt: 429, 5xx and connection errors retry."""
    from handler.channels.protocol import quote_answer  # noqa: PLC0415
    from handler.outbound import ClientError, ServiceError, TransportError, from_foreign  # noqa: PLC0415

    error = from_foreign(exc)
    if isinstance(error, ServiceError):
        request_id = f", request {error.request_id}" if error.request_id else ""
        detail = quote_answer(error.message)
        message = f"{label} {error.code or 'error'} (HTTP {error.status or 0}{request_id}): {detail}"
        return Attempt(message, retryable=error.retryable)
    if isinstance(error, TransportError):
        reason = (
            error.message if error.cause.name != "OTHER" else f"cannot reach {label} ({type(exc).__name__})"
        )
        return Attempt(reason, retryable=True)
    if isinstance(error, ClientError):
        return Attempt(f"{label} SDK error ({error.foreign})")
    return Attempt(f"unreadable {label} answer ({error.foreign})")
