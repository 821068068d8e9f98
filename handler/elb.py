"""The ELB gateway: the only module that talks to ELB, through the official SDK.

It maps SDK responses to domain types at the border, turns every failure into an `ElbApiError`,
retries idempotent reads with jittered backoff, and keeps every wait inside the time budget.
The SDK is imported on first use, not when this module is imported.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from typing import Any, Protocol

from handler.budget import Budget, retry_delay
from handler.config import Credentials, Settings
from handler.domain import CheckJob, ElbApiError, Pool
from handler.elb_model import check_job_from_api, pool_from_api

# Below this many seconds left, a request cannot usefully start.
MIN_CALL_SECONDS = 0.05
_SDK_LOGGER = "HuaweiCloud-SDK-ElbClient"


class ElbReader(Protocol):
    """What the watcher needs from ELB."""

    def show_pool(self, pool_id: str) -> Pool:
        """ShowMasterSlavePool."""
        ...

    def show_check_job(self, job_id: str) -> CheckJob:
        """ShowMemberHealthCheckJob."""
        ...


_clients: dict[tuple[str, ...], tuple[Any, Any]] = {}
_clients_lock = threading.Lock()


def _build_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """Build (or reuse, across warm invocations) an ElbClient and its HttpConfig."""
    import os  # noqa: PLC0415 - read the endpoint override at call time, as the SDK does

    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: PLC0415
    from huaweicloudsdkelb.v3.elb_client import ElbClient  # noqa: PLC0415
    from huaweicloudsdkelb.v3.region.elb_region import ElbRegion  # noqa: PLC0415

    override = os.environ.get("HUAWEICLOUD_SDK_REGION_ELB_" + region_id.replace("-", "_").upper(), "")
    key = (region_id, override, project_id, credentials.ak, credentials.sk, credentials.security_token)
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None:
            return cached
        try:
            region = ElbRegion.value_of(region_id)
        except KeyError:
            raise ElbApiError(
                "CONFIG.REGION",
                f"unknown region {region_id!r}: not in the SDK's ELB region table and no "
                f"HUAWEICLOUD_SDK_REGION_ELB_{region_id.replace('-', '_').upper()} endpoint override",
            ) from None
        basic = BasicCredentials(credentials.ak, credentials.sk, project_id)
        if credentials.security_token:
            basic = basic.with_security_token(credentials.security_token)
        config = HttpConfig(timeout=(3.0, 10.0), retry_times=0)
        # The SDK logs connection errors through its own logger; ours reports them once, in the result.
        logging.getLogger(_SDK_LOGGER).addHandler(logging.NullHandler())
        try:
            client = (
                ElbClient.new_builder()
                .with_http_config(config)
                .with_credentials(basic)
                .with_region(region)
                .build()
            )
        except Exception as exc:  # noqa: BLE001 - a client that cannot be built is a result entry
            raise ElbApiError("WATCH.SDK", f"cannot build the ELB client: {_short(exc)}") from None
        if len(_clients) >= 8:
            _clients.clear()
        _clients[key] = (client, config)
        return client, config


def _short(text: Any, limit: int = 300) -> str:
    message = " ".join(str(text).split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


class ElbGateway:
    """Reads pools and check jobs through the SDK for one region and project."""

    def __init__(
        self,
        *,
        region: str,
        project_id: str,
        credentials: Credentials,
        settings: Settings,
        budget: Budget,
        rng: random.Random | None = None,
    ) -> None:
        """Remember where to read and how much time there is; the client is built on first call."""
        self.region = region
        self.project_id = project_id
        self._credentials = credentials
        self._settings = settings
        self._budget = budget
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.calls = 0

    def show_pool(self, pool_id: str) -> Pool:
        """Read a master/standby pool (ShowMasterSlavePool)."""
        from huaweicloudsdkelb.v3.model.show_master_slave_pool_request import (  # noqa: PLC0415 - lazy
            ShowMasterSlavePoolRequest,
        )

        request = ShowMasterSlavePoolRequest(pool_id)
        pool = self._get("read pool " + pool_id, "show_master_slave_pool", request, "pool")
        mapped = pool_from_api(pool.to_dict())
        return mapped if mapped.id else Pool(**{**_fields(mapped), "id": pool_id})

    def show_check_job(self, job_id: str) -> CheckJob:
        """Read a member check job (ShowMemberHealthCheckJob)."""
        from huaweicloudsdkelb.v3.model.show_member_health_check_job_request import (  # noqa: PLC0415
            ShowMemberHealthCheckJobRequest,
        )

        request = ShowMemberHealthCheckJobRequest(job_id)
        info = self._get("read check job " + job_id, "show_member_health_check_job", request, "member_check")
        job = check_job_from_api(info.to_dict())
        return job if job.job_id else CheckJob(**{**_fields(job), "job_id": job_id})

    def _get(self, what: str, method: str, request: Any, field: str) -> Any:
        """Call an idempotent SDK read and return the response's `field` (an SDK model).

        Retries 429, 5xx, connection errors and unreadable bodies, inside the budget.
        """
        client, config = _build_client(self.region, self.project_id, self._credentials)
        call: Callable[[Any], Any] = getattr(client, method)
        attempt = 0
        while True:
            attempt += 1
            remaining = self._budget.remaining()
            if remaining < MIN_CALL_SECONDS:
                raise ElbApiError("WATCH.TIME_BUDGET", f"no time left to {what}", attempts=attempt - 1)
            config.timeout = (
                min(self._settings.connect_timeout, remaining),
                min(self._settings.read_timeout, remaining),
            )
            self.calls += 1
            try:
                value = getattr(call(request), field, None)
            except Exception as exc:  # noqa: BLE001 - every SDK failure becomes an ElbApiError below
                error, retryable = _classify(exc, what)
            else:
                if value is not None:
                    return value
                error = ElbApiError("ELB.MALFORMED_RESPONSE", f"{what}: the response has no {field!r}")
                retryable = True
            error.attempts = attempt
            if not retryable or attempt >= self._settings.max_attempts:
                raise error
            delay = retry_delay(attempt, base=self._settings.retry_base, rng=self._rng)
            if not self._budget.wait(delay):
                error.message += f" (gave up after {attempt} attempt(s): time budget)"
                raise error


def _fields(instance: Any) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance.__dataclass_fields__}


_ADDRESS = re.compile(r"host='([^']+)', port=(\d+)")
_CAUSES = (
    ("timed out", "no answer in time"),
    ("Connection refused", "connection refused"),
    ("Connection reset", "connection reset"),
    ("RemoteDisconnected", "connection closed without a response"),
    ("Name or service not known", "host name not found"),
    ("getaddrinfo failed", "host name not found"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
)


def _transport_message(exc: BaseException) -> tuple[str, bool]:
    """A short reason for a transport failure, and whether it was a timeout.

    The SDK reports a read timeout as a ConnectionException (urllib3 wraps it in MaxRetryError),
    so the cause is read from the message rather than the exception class.
    """
    raw = str(exc)
    address = _ADDRESS.search(raw)
    where = f" at {address.group(1)}:{address.group(2)}" if address else ""
    for marker, reason in _CAUSES:
        if marker in raw:
            return f"{reason}{where}", reason == "no answer in time"
    return f"{_short(raw, 160)}{where}", False


def _classify(exc: Exception, what: str) -> tuple[ElbApiError, bool]:
    """Map an SDK or transport exception to an ElbApiError and whether a retry may help."""
    from huaweicloudsdkcore.exceptions import exceptions as sdk  # noqa: PLC0415 - lazy SDK import
    from requests import exceptions as http  # noqa: PLC0415 - comes with the SDK

    if isinstance(exc, sdk.ServiceResponseException):
        status = int(exc.status_code) if exc.status_code else None
        code = str(exc.error_code or status or "ELB.ERROR")
        message = _short(exc.error_msg or f"HTTP {status}")
        retryable = status is not None and (status == 429 or status >= 500)
        return ElbApiError(code, f"{what}: {message}", status=status, request_id=exc.request_id), retryable
    if isinstance(exc, sdk.RequestTimeoutException | sdk.ConnectionException | http.RequestException):
        reason, timed_out = _transport_message(exc)
        timed_out = timed_out or isinstance(exc, sdk.RequestTimeoutException | http.Timeout)
        code = "WATCH.TIMEOUT" if timed_out else "WATCH.CONNECTION"
        return ElbApiError(code, f"{what}: cannot reach ELB ({reason})"), True
    if isinstance(exc, ElbApiError):
        return exc, False
    if isinstance(exc, sdk.SdkException):
        return ElbApiError("WATCH.SDK", f"{what}: {_short(exc)}"), False
    # A body the SDK could not map to its models (truncated JSON, wrong types): maybe a passing glitch.
    return ElbApiError("ELB.MALFORMED_RESPONSE", f"{what}: unreadable response ({_short(exc)})"), True
