"""Webhook sending over `requests`: one POST per attempt, timeouts cut to the time left.

`requests` is imported when a message is sent, not when this module is imported (cold start).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from handler.channels.config import Channel
from handler.channels.context import DeliveryContext
from handler.channels.protocol import HttpRequest, Verdict, quote_answer
from handler.channels.retry import Attempt, Outcome, Progress, retry_after_seconds, with_retries

# Enough of any answer to read its code; a receiver cannot make us buffer more.
MAX_ANSWER_BYTES = 64 * 1024


def _where(url: str) -> str:
    """host[:port] of a URL: never its path or query, which may carry tokens."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "?"
    return f"{host}:{port}" if port else host


def transport_error(exc: BaseException, url: str, timeouts: tuple[float, float]) -> str:
    """A short reason for a failed POST; it names the host only, never the URL (tokens)."""
    from handler.outbound import Cause, TransportError, from_foreign  # noqa: PLC0415 - only on an error

    where = _where(url)
    error = from_foreign(exc)
    if not isinstance(error, TransportError):
        return f"cannot reach {where} ({type(exc).__name__})"
    if error.cause is Cause.CONNECT_TIMEOUT:
        return f"could not connect to {where} within {timeouts[0]:.2g} s"
    if error.cause is Cause.READ_TIMEOUT:
        return f"no answer from {where} within {timeouts[1]:.2g} s"
    if error.cause in {Cause.TLS, Cause.TLS_UNTRUSTED}:
        return f"TLS handshake with {where} failed"
    if error.cause is Cause.OTHER:
        return f"cannot reach {where} ({type(exc).__name__})"
    return f"{error.message} ({where})"


def _read_answer(response: Any) -> str:
    """At most MAX_ANSWER_BYTES of the answer, decoded leniently."""
    received = bytearray()
    for chunk in response.iter_content(chunk_size=8192):
        received += chunk
        if len(received) >= MAX_ANSWER_BYTES:
            break
    return bytes(received[:MAX_ANSWER_BYTES]).decode(response.encoding or "utf-8", errors="replace")


def post_once(
    request: HttpRequest,
    timeouts: tuple[float, float],
    judge: Callable[[str], Verdict],
    wall_clock: Callable[[], float],
) -> Attempt:
    """One POST: a 2xx is judged by the channel; 429, 5xx and transport errors may be retried."""
    import requests  # noqa: PLC0415 - lazy: cold start

    try:
        response = requests.post(
            request.url,
            data=request.body,
            headers=dict(request.headers),
            timeout=timeouts,
            allow_redirects=False,  # a redirect would carry the message (and tokens) elsewhere
            stream=True,
        )
    except requests.exceptions.RequestException as exc:
        return Attempt(transport_error(exc, request.url, timeouts), retryable=True)
    try:
        answer = _read_answer(response)
    except requests.exceptions.RequestException as exc:
        return Attempt(f"answer cut off: {transport_error(exc, request.url, timeouts)}", retryable=True)
    finally:
        response.close()
    status = int(response.status_code)
    if 200 <= status < 300:
        verdict = judge(answer)
        return Attempt(verdict.error, verdict.retryable, throttled=verdict.throttled)
    error = f"HTTP {status}" + (f": {quote_answer(answer)}" if answer.strip() else "")
    retryable = status == 429 or status >= 500
    retry_after = (
        retry_after_seconds(response.headers.get("Retry-After"), wall_clock()) if retryable else None
    )
    return Attempt(error, retryable, retry_after, throttled=status == 429)


def send_webhook(
    channel: Channel,
    payload: Mapping[str, Any],
    *,
    build: Callable[[Channel, Mapping[str, Any], float], HttpRequest],
    judge: Callable[[str], Verdict],
    ctx: DeliveryContext,
    progress: Progress,
) -> Outcome:
    """Send a rendered payload with retries; each attempt is signed afresh (timestamps stay current)."""

    def attempt(left: float) -> Attempt:
        return post_once(build(channel, payload, ctx.wall_clock()), ctx.timeouts(left), judge, ctx.wall_clock)

    return with_retries(attempt, ctx, progress)
