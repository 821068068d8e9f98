"""The outbound kit: foreign errors mapped by type through one table, and the one retry loop."""

from __future__ import annotations

import socket

import pytest
import requests
from huaweicloudsdkcore.exceptions import exceptions as sdk

from handler.outbound import (
    Attempt,
    Cause,
    ClientError,
    MalformedAnswerError,
    RetryPlan,
    ServiceError,
    TransportError,
    chain,
    from_foreign,
    retry,
)
from tests.builders import Clock
from tests.faulty_servers import SilentServer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _raised(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the test inspects whatever was raised
        return exc
    raise AssertionError("the call did not fail")


def test_a_refused_connection_is_refused_and_surely_unsent():
    port = _closed_port()
    exc = _raised(lambda: requests.post(f"http://127.0.0.1:{port}/x?token=secret", timeout=2))
    error = from_foreign(exc)
    assert isinstance(error, TransportError)
    assert error.cause is Cause.REFUSED
    assert error.cause.never_sent
    assert not error.cause.timed_out
    assert error.where == f"127.0.0.1:{port}"
    assert "secret" not in error.message


def test_a_server_that_never_answers_is_a_read_timeout_that_may_have_arrived():
    with SilentServer() as server:
        exc = _raised(lambda: requests.post(server.url, data=b"x", timeout=(2, 0.2)))
    error = from_foreign(exc)
    assert isinstance(error, TransportError)
    assert error.cause is Cause.READ_TIMEOUT
    assert error.cause.timed_out
    assert not error.cause.never_sent


def test_the_sdk_wrapping_is_seen_through_by_type():
    # What the SDK raises for a refused connection: its own type, the real one in the chain.
    try:
        try:
            raise requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused"))
        except requests.exceptions.ConnectionError:
            raise sdk.ConnectionException("anything at all") from None
    except sdk.ConnectionException as exc:
        wrapped = exc
    # `from None` hides the context from tracebacks, but it is still there for the walk.
    assert any(isinstance(item, ConnectionRefusedError) for item in chain(wrapped))
    assert from_foreign(wrapped).cause is Cause.REFUSED  # type: ignore[attr-defined]


def test_a_message_alone_decides_nothing():
    # Words that look like a cause, on a type that is not one: no sniffing.
    error = from_foreign(ValueError("Connection refused; Name or service not known; timed out"))
    assert isinstance(error, MalformedAnswerError)
    assert from_foreign(socket.gaierror(-2, "whatever it says")).cause is Cause.HOST_NOT_FOUND  # type: ignore[attr-defined]


def test_service_and_client_errors():
    answered = sdk.ServiceResponseException(429, sdk.SdkError("req-1", "APIGW.0308", "slow down"))
    error = from_foreign(answered)
    assert isinstance(error, ServiceError)
    assert (error.status, error.code, error.request_id, error.retryable) == (429, "APIGW.0308", "req-1", True)
    not_found = from_foreign(sdk.ServiceResponseException(404, sdk.SdkError("req-2", "ELB.8907", "no pool")))
    assert not not_found.retryable
    refused = from_foreign(sdk.SdkException("bad parameter"))
    assert isinstance(refused, ClientError)
    assert not refused.retryable


def _plan(clock: Clock, deadline: float = 10.0, **extra) -> RetryPlan:
    settings = {"max_attempts": 4, "base": 0.5, **extra}
    return RetryPlan(deadline=deadline, clock=clock, sleep=clock.sleep, **settings)


def _script(*attempts: Attempt):
    left = list(attempts)
    return lambda _seconds: left.pop(0)


def test_the_loop_retries_then_accepts():
    clock = Clock()
    failed = Attempt("HTTP 500", retryable=True)
    ended = retry(_script(failed, failed, Attempt(value="ok")), _plan(clock))
    assert (ended.how, ended.attempts, ended.last.value) == ("accepted", 3, "ok")
    assert len(clock.slept) == 2


def test_the_loop_stops_on_what_cannot_be_retried_and_on_the_attempt_limit():
    clock = Clock()
    assert retry(_script(Attempt("HTTP 400")), _plan(clock)).how == "final"
    busy = Attempt("HTTP 503", retryable=True)
    ended = retry(_script(busy, busy, busy, busy), _plan(clock))
    assert (ended.how, ended.attempts) == ("final", 4)


def test_throttled_without_a_wait_ends_at_once_and_a_wait_past_the_deadline_too():
    clock = Clock()
    ended = retry(_script(Attempt("HTTP 429", retryable=True, throttled=True)), _plan(clock))
    assert (ended.how, ended.attempts, clock.slept) == ("throttled", 1, [])
    far = Attempt("HTTP 429", retryable=True, retry_after=60, throttled=True)
    ended = retry(_script(far), _plan(clock))
    assert (ended.how, ended.wait) == ("wait_past_deadline", 60)


def test_a_backoff_is_cut_to_fit_or_ends_the_loop_when_asked():
    busy = Attempt("HTTP 503", retryable=True)
    clock = Clock()
    ended = retry(_script(busy, busy, busy, busy), _plan(clock, deadline=0.6, base=4.0))
    assert ended.how in {"final", "no_time"}
    assert clock.now <= 0.6
    clock = Clock()
    ended = retry(_script(busy, busy), _plan(clock, deadline=0.6, cut_backoff=False, base=4.0))
    assert (ended.how, ended.attempts) == ("no_time_to_wait", 1)
    assert clock.slept == []


@pytest.mark.parametrize("deadline", [0.0, 0.01])
def test_no_time_means_no_attempt(deadline):
    clock = Clock()
    ended = retry(_script(), _plan(clock, deadline=deadline))
    assert (ended.how, ended.attempts, ended.last) == ("no_time", 0, None)
