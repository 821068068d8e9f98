"""One kit for every outbound call: ELB and SMN through the SDK, webhooks through `requests`.

Errors are typed. A foreign exception (SDK, `requests`, urllib3, socket, ssl) becomes one of ours
by its TYPE, through one table (`_cause_table`), after walking the chain the libraries leave
(`__cause__`, `__context__`, urllib3's `reason`, `requests`' `args`): the SDK wraps a refused
connection as ConnectionException(ConnectionError(MaxRetryError(NewConnectionError(
ConnectionRefusedError)))), and only the innermost types say what happened. No message is sniffed.

    OutboundError             one outbound call failed; `retryable` says whether trying again may help
    ├── TransportError        no usable answer; `cause` (a Cause) says why, `where` names host:port
    ├── ServiceError          the service answered an error status: `status`, `code`, `request_id`
    ├── MalformedAnswerError  an answer came that cannot be read (truncated JSON, wrong types)
    └── ClientError           the SDK refused the call before sending it

`retry` is the one retry loop (ELB reads and writes, every channel send): every attempt and every
wait ends before the deadline, a service's Retry-After is honoured, backoff is jittered.
Nothing here imports a foreign library until an error has to be mapped.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

from handler.budget import retry_delay

# Below this many seconds before the deadline, an attempt cannot usefully start.
MIN_CALL_SECONDS = 0.05
# A backoff is cut so that at least this much time is left for the attempt after it.
MIN_ATTEMPT_SECONDS = 0.25
RETRY_CAP_SECONDS = 4.0
# How far the exception chain is followed (it is short; this only bounds a cyclic one).
_CHAIN_LIMIT = 16


class Cause(enum.Enum):
    """Why no usable answer came: the reason as shown, whether it was a timeout, whether surely unsent."""

    CONNECT_TIMEOUT = ("could not connect in time", True, True)
    READ_TIMEOUT = ("no answer in time", True, False)
    TIMEOUT = ("no answer in time", True, False, "phase unknown")
    REFUSED = ("connection refused", False, True)
    CONNECT_FAILED = ("could not connect", False, True)
    HOST_NOT_FOUND = ("host name not found", False, True)
    TLS_UNTRUSTED = ("TLS certificate not trusted", False, True)
    TLS = ("TLS handshake failed", False, True)
    RESET = ("connection reset", False, False)
    CLOSED = ("connection closed without an answer", False, False)
    OTHER = ("cannot reach the service", False, False)

    def __init__(self, reason: str, timed_out: bool, never_sent: bool, _tag: str = "") -> None:  # noqa: FBT001 - an Enum value is unpacked positionally
        """Unpack the value; `_tag` only keeps TIMEOUT distinct from READ_TIMEOUT (same other fields)."""
        self.reason = reason
        self.timed_out = timed_out
        self.never_sent = never_sent


class OutboundError(Exception):
    """One outbound call failed; `retryable` says whether trying again may help.

    `foreign` is the type name of the exception it was mapped from ("" if none), `detail` that
    exception's text, clipped and scrubbed of secrets.
    """

    retryable = False

    def __init__(self, message: str, *, foreign: str = "", detail: str = "") -> None:
        """Keep the message and where it came from."""
        super().__init__(message)
        self.message = message
        self.foreign = foreign
        self.detail = detail


class TransportError(OutboundError):
    """No usable answer: refused, reset, timed out, TLS; `cause` says which, `where` names host:port."""

    retryable = True

    def __init__(self, cause: Cause, where: str | None, foreign: str) -> None:
        """`foreign` is the type name of the outermost foreign exception (shown for Cause.OTHER)."""
        shown = cause.reason if cause is not Cause.OTHER else f"{cause.reason} ({foreign})"
        super().__init__(shown, foreign=foreign)
        self.cause = cause
        self.where = where


class ServiceError(OutboundError):
    """The service answered an error status; 429 and 5xx may be retried."""

    def __init__(self, status: int | None, code: str | None, message: str, request_id: str | None) -> None:
        """What the answer said."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retryable = status is not None and (status == 429 or status >= 500)


class MalformedAnswerError(OutboundError):
    """An answer came that cannot be read: maybe a passing glitch, so reads may retry."""

    retryable = True


class ClientError(OutboundError):
    """The SDK refused the call before sending it (a bad parameter, a missing setting)."""


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception behind it: causes, contexts, urllib3 reasons, exceptions in args."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < _CHAIN_LIMIT:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        behind = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending += [item for item in behind if isinstance(item, BaseException)]


def _cause_table() -> tuple[tuple[type[BaseException], Cause], ...]:
    """Foreign exception types and what they mean, most specific first (the first match wins)."""
    import http.client  # noqa: PLC0415 - only when an error is mapped
    import socket  # noqa: PLC0415
    import ssl  # noqa: PLC0415

    from huaweicloudsdkcore.exceptions import exceptions as sdk  # noqa: PLC0415
    from requests import exceptions as rq  # noqa: PLC0415 - comes with the SDK
    from urllib3 import exceptions as u3  # noqa: PLC0415

    name_resolution: tuple[tuple[type[BaseException], Cause], ...] = tuple(
        (kind, Cause.HOST_NOT_FOUND)
        for kind in (getattr(u3, "NameResolutionError", None), socket.gaierror)
        if isinstance(kind, type)
    )
    # The operating system's answer first: urllib3's NewConnectionError subclasses its
    # ConnectTimeoutError, so a refused connection also "is" a connect timeout to isinstance.
    return (
        (ConnectionRefusedError, Cause.REFUSED),
        *name_resolution,
        (ssl.SSLCertVerificationError, Cause.TLS_UNTRUSTED),
        (ssl.SSLError, Cause.TLS),
        (rq.SSLError, Cause.TLS),
        (u3.SSLError, Cause.TLS),
        (rq.ConnectTimeout, Cause.CONNECT_TIMEOUT),
        (u3.NewConnectionError, Cause.CONNECT_FAILED),
        (u3.ConnectTimeoutError, Cause.CONNECT_TIMEOUT),
        (rq.ReadTimeout, Cause.READ_TIMEOUT),
        (u3.ReadTimeoutError, Cause.READ_TIMEOUT),
        (http.client.RemoteDisconnected, Cause.CLOSED),
        (ConnectionResetError, Cause.RESET),
        (ConnectionAbortedError, Cause.CLOSED),
        (u3.ProtocolError, Cause.CLOSED),
        (rq.ChunkedEncodingError, Cause.CLOSED),
        (sdk.SslHandShakeException, Cause.TLS),
        (sdk.HostUnreachableException, Cause.HOST_NOT_FOUND),
        (sdk.RequestTimeoutException, Cause.TIMEOUT),
        (sdk.ConnectionException, Cause.OTHER),
        (TimeoutError, Cause.TIMEOUT),
        (rq.Timeout, Cause.TIMEOUT),
        (u3.TimeoutError, Cause.TIMEOUT),
        (rq.RequestException, Cause.OTHER),
        (u3.HTTPError, Cause.OTHER),
        (OSError, Cause.OTHER),
    )


def _where(exc: BaseException) -> str | None:
    """host:port of the connection pool a urllib3 error names, if any (never a path: it may carry tokens)."""
    for item in chain(exc):
        pool = getattr(item, "pool", None)
        host = getattr(pool, "host", None)
        if isinstance(host, str) and host:
            port = getattr(pool, "port", None)
            return f"{host}:{port}" if port else host
    return None


def transport_error(exc: BaseException) -> TransportError | None:
    """`exc` as a TransportError when its chain holds a transport failure, else None."""
    members = list(chain(exc))
    for kind, cause in _cause_table():
        if any(isinstance(member, kind) for member in members):
            return TransportError(cause, _where(exc), type(exc).__name__)
    return None


def from_foreign(exc: BaseException) -> OutboundError:
    """Any exception an outbound call raised, as one of ours (the tree in the module docstring)."""
    from handler.text import clip  # noqa: PLC0415 - keeps this module's import light

    if isinstance(exc, OutboundError):
        return exc
    from huaweicloudsdkcore.exceptions import exceptions as sdk  # noqa: PLC0415 - only on an error

    if isinstance(exc, sdk.ServiceResponseException):
        status = int(exc.status_code) if exc.status_code else None
        code = str(exc.error_code) if exc.error_code else None
        request_id = str(exc.request_id) if exc.request_id else None
        return ServiceError(status, code, str(exc.error_msg or ""), request_id)
    transport = transport_error(exc)
    if transport is not None:
        return transport
    detail = clip(exc, 300)
    if isinstance(exc, sdk.SdkException):
        return ClientError(detail, foreign=type(exc).__name__, detail=detail)
    return MalformedAnswerError(detail, foreign=type(exc).__name__, detail=detail)


# How a retry loop ended.
Ending = Literal[
    "accepted", "no_time", "no_slot", "final", "throttled", "wait_past_deadline", "no_time_to_wait"
]


# The three value classes below are plain slotted classes, not dataclasses: every ELB call imports this
# module, and on Python 3.10 each frozen slotted dataclass costs about 0.5 ms of a cold start.


class Attempt:
    """How one try went: accepted (with its `value`), or an error, whether to retry, a wait asked for.

    `failure` carries the caller's own error object for the try (the ELB gateway's ElbApiError).
    """

    __slots__ = ("error", "failure", "retry_after", "retryable", "throttled", "value")

    def __init__(
        self,
        error: str | None = None,
        retryable: bool = False,  # noqa: FBT001, FBT002 - read as Attempt("HTTP 503", True) at call sites
        retry_after: float | None = None,
        throttled: bool = False,  # noqa: FBT001, FBT002
        *,
        value: Any = None,
        failure: Any = None,
    ) -> None:
        """Keep how the try went."""
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after
        self.throttled = throttled
        self.value = value
        self.failure = failure

    def __repr__(self) -> str:
        """The error and the flags."""
        return f"Attempt({self.error!r}, retryable={self.retryable}, throttled={self.throttled})"


class Ended:
    """How the loop ended, after how many attempts, the last attempt (None if none started), a wait."""

    __slots__ = ("attempts", "how", "last", "wait")

    def __init__(self, how: Ending, attempts: int, last: Attempt | None = None, wait: float = 0.0) -> None:
        """Keep how the loop ended."""
        self.how = how
        self.attempts = attempts
        self.last = last
        self.wait = wait

    def __repr__(self) -> str:
        """How, and after how many attempts."""
        return f"Ended({self.how!r}, {self.attempts}, {self.last!r})"


class RetryPlan:
    """The deadline (a `clock()` value), the clocks, and how often and how patiently to try.

    `cut_backoff`: a backoff longer than the time left is cut to fit one more attempt (channel
    sends: an alert is worth a last try), or ends the loop (ELB calls: "no_time_to_wait", so a
    throttled API is not hit again early).
    """

    __slots__ = ("base", "cap", "clock", "cut_backoff", "deadline", "max_attempts", "sleep")

    def __init__(
        self,
        *,
        deadline: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        max_attempts: int,
        base: float,
        cap: float = RETRY_CAP_SECONDS,
        cut_backoff: bool = True,
    ) -> None:
        """Keep the plan."""
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.cut_backoff = cut_backoff


def _ending(last: Attempt, attempts: int, plan: RetryPlan) -> Ending | None:
    """How the loop ends after this attempt (accepted, throttled, final), or None to try again."""
    if last.error is None:
        return "accepted"
    if last.throttled and (last.retry_after is None or attempts >= plan.max_attempts):
        return "throttled"
    if not last.retryable or attempts >= plan.max_attempts:
        return "final"
    return None


def _backoff(attempts: int, plan: RetryPlan, rng: random.Random) -> tuple[Ending | None, float]:
    """The jittered exponential backoff before the next attempt, or how the loop ends instead.

    Cut to fit one more attempt when the plan says so, else "no_time_to_wait" when it does not fit.
    """
    left = plan.deadline - plan.clock()
    wait = retry_delay(attempts, base=plan.base, cap=plan.cap, rng=rng)
    if not plan.cut_backoff:
        return ("no_time_to_wait" if wait >= left else None), wait
    return None, min(wait, max(0.0, left - MIN_ATTEMPT_SECONDS))


def retry(
    try_once: Callable[[float], Attempt],
    plan: RetryPlan,
    *,
    admit: Callable[[float], bool] | None = None,
    started: Callable[[], int] | None = None,
    finished: Callable[[], None] | None = None,
    rng: random.Random | None = None,
) -> Ended:
    """Call `try_once(seconds_left)` until accepted, not retryable, out of attempts or out of time.

    `admit(deadline)` waits for a rate-limit slot (False: none before that deadline); `started()`
    counts an attempt and returns the count; `finished()` is told each attempt is over. Waits follow
    the service's Retry-After when it gives one (ending the loop when that is past the deadline),
    else jittered exponential backoff. A throttled attempt without Retry-After ends the loop:
    trying again at once only extends the throttle.
    """
    attempts = 0
    last: Attempt | None = None
    while True:
        left = plan.deadline - plan.clock()
        if left < MIN_CALL_SECONDS:
            return Ended("no_time", attempts, last)
        if admit is not None and not admit(plan.deadline - MIN_ATTEMPT_SECONDS):
            return Ended("no_slot", attempts, last)
        attempts = started() if started is not None else attempts + 1
        try:
            last = try_once(max(MIN_CALL_SECONDS, plan.deadline - plan.clock()))
        finally:
            if finished is not None:
                finished()
        ending = _ending(last, attempts, plan)
        if ending is not None:
            return Ended(ending, attempts, last)
        if last.retry_after is None:
            # Seeded only when a backoff is needed: a new Random reads the OS entropy pool.
            rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
            ending, wait = _backoff(attempts, plan, rng)
        else:
            # The service said when: a wait past the deadline ends the loop now.
            wait = last.retry_after
            ending = "wait_past_deadline" if wait + MIN_CALL_SECONDS > plan.deadline - plan.clock() else None
        if ending is not None:
            return Ended(ending, attempts, last, wait)
        if wait > 0:
            plan.sleep(wait)
