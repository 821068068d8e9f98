"""The ELB gateway: the only module that talks to ELB, through the official SDK.

It maps SDK responses to domain types at the border, turns every failure into an `ElbApiError`,
retries idempotent reads with jittered backoff, and keeps every wait inside the time budget.
The SDK is imported on first use, not when this module is imported.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from handler import sdk
from handler.budget import Budget
from handler.config import Credentials, Settings
from handler.domain import CheckJob, ElbApiError, ElbHealth, Pool, Sweep
from handler.elb_model import check_job_from_api, pool_from_api, tags_from_api
from handler.instance import SdkClients
from handler.limits import MAX_ELB_RESPONSE_BYTES, MAX_ELB_RESPONSE_VALUES
from handler.outbound import (
    Attempt,
    ClientError,
    Ended,
    RetryPlan,
    ServiceError,
    TransportError,
    from_foreign,
    retry,
)
from handler.text import clip
from handler.threads import DeadlineExceeded, call_within

# Below this many seconds left, a request cannot usefully start.
MIN_CALL_SECONDS = 0.05
# The longest backoff between two ELB calls (channel sends wait at most outbound.RETRY_CAP_SECONDS).
ELB_RETRY_CAP_SECONDS = 8.0
# ListMasterSlavePools' largest page.
LIST_LIMIT = 2000
# Load balancer ids per ListLoadBalancers call: each `id=<uuid>&` adds 40 characters, so 50 keep the
# URL near 2 KB, far under the 8 KB gateways commonly allow (and one page answers them all).
TAG_CHUNK = 50
_SDK_LOGGER = "HuaweiCloud-SDK-ElbClient"
# A call that ended with one of these never got an answer from ELB.
TRANSPORT_CODES = frozenset({"WATCH.CONNECTION", "WATCH.TIMEOUT"})
# The API operation each SDK method calls, as error messages name it.
_OPERATIONS = {
    "show_master_slave_pool": "ShowMasterSlavePool",
    "list_master_slave_pools": "ListMasterSlavePools",
    "show_member_health_check_job": "ShowMemberHealthCheckJob",
    "create_member_health_check_job": "CreateMemberHealthCheckJob",
    "list_load_balancers": "ListLoadBalancers",
}
# The answers whose field is a list (of pools, of load balancers); every other field is an object.
_LIST_FIELDS = frozenset({"pools", "loadbalancers"})


class ElbReader(Protocol):
    """What the watcher needs from ELB."""

    def show_pool(self, pool_id: str) -> Pool:
        """ShowMasterSlavePool."""
        ...

    def show_check_job(self, job_id: str) -> CheckJob:
        """ShowMemberHealthCheckJob."""
        ...

    def list_pools_page(self, sweep: Sweep, marker: str | None) -> PoolPage:
        """ListMasterSlavePools, one page."""
        ...

    def create_check_job(self, member_id: str, listener_id: str) -> str:
        """CreateMemberHealthCheckJob; returns the job id."""
        ...


# What every ELB call imports: credentials, HTTP config, errors, the client and its regions.
_SDK_MODULES = (
    "huaweicloudsdkcore.auth.credentials",
    "huaweicloudsdkcore.exceptions.exceptions",
    "huaweicloudsdkcore.http.http_config",
    "huaweicloudsdkelb.v3.elb_client",
    "huaweicloudsdkelb.v3.region.elb_region",
)


def import_sdk() -> None:
    """Import the SDK modules every ELB call needs, once, from a shallow frame.

    The invocation calls this first thing when it has ELB work: CPython 3.11+ allocates frames in
    stack chunks, and importing the SDK (urllib3 compiles its regexes then) deep in the call stack
    made the chunks thrash (thousands of mmap/munmap pairs on a cold start).
    """
    import sys  # noqa: PLC0415 - a warm invocation only looks

    if _SDK_MODULES[-1] in sys.modules:
        return
    import importlib  # noqa: PLC0415 - only the first invocation needs it

    for module in _SDK_MODULES:
        importlib.import_module(module)


def _build_client(
    region_id: str, project_id: str, credentials: Credentials, clients: SdkClients
) -> tuple[Any, Any]:
    """Build (or reuse, across warm invocations) an ElbClient and its HttpConfig."""
    import os  # noqa: PLC0415 - read the endpoint override at call time, as the SDK does

    override = os.environ.get("HUAWEICLOUD_SDK_REGION_ELB_" + region_id.replace("-", "_").upper(), "")
    key = (
        region_id,
        override,
        project_id,
        credentials.ak,
        credentials.sk,
        credentials.security_token,
        *sdk.environment_key(),
    )
    return clients.get(key, lambda: _new_client(region_id, project_id, credentials))  # type: ignore[no-any-return]


def _new_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """A new, trimmed ElbClient and its HttpConfig; ElbApiError if the region is unknown or SDK refuses."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdkelb.v3.elb_client import ElbClient  # noqa: PLC0415
    from huaweicloudsdkelb.v3.region.elb_region import ElbRegion  # noqa: PLC0415

    try:
        region = ElbRegion.value_of(region_id)
    except KeyError:
        problem = region_problem(region_id) or f"unknown region {region_id!r}"
        raise ElbApiError("CONFIG.REGION", problem) from None
    basic = BasicCredentials(credentials.ak, credentials.sk, project_id)
    if credentials.security_token:
        basic = basic.with_security_token(credentials.security_token)
    config = sdk.http_config((3.0, 10.0))
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
        raise ElbApiError("WATCH.SDK", f"cannot build the ELB client: {clip(exc, 300)}") from None
    # Each answer is read in chunks and refused over the cap: requests would read any size into memory.
    sdk.cap_bodies(client, MAX_ELB_RESPONSE_BYTES)
    # The gateway maps ELB's wire JSON itself (elb_model): the SDK's response models are never read.
    return sdk.trim(client, list(region.endpoints or ()), models=False), config


def region_problem(region_id: str) -> str | None:
    """Why the SDK cannot reach ELB in this region (with the closest known region id), or None."""
    import os  # noqa: PLC0415 - the endpoint override is read at call time, as the SDK does

    from huaweicloudsdkelb.v3.region.elb_region import ElbRegion  # noqa: PLC0415 - lazy SDK import

    variable = "HUAWEICLOUD_SDK_REGION_ELB_" + region_id.replace("-", "_").upper()
    known = list(getattr(ElbRegion, "static_fields", {}))
    if region_id in known or os.environ.get(variable, "").strip():
        return None
    message = (
        f"unknown region {region_id!r}: not in the SDK's ELB region table and no {variable} endpoint override"
    )
    import difflib  # noqa: PLC0415 - only for a region that is wrong

    close = difflib.get_close_matches(region_id.strip().lower(), known, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


class RateLimiter:
    """A token bucket: at most `rate` requests per second on average, bursts of up to one second's worth.

    A per-second API throttle allows a burst of `rate` calls, so a small invocation never waits;
    a sweep's many diagnoses are held to the rate. Shared by every thread of one invocation; a
    wait that would run past the budget is refused instead.
    """

    def __init__(self, rate: float, budget: Budget) -> None:
        """Allow `rate` requests per second (0 or less: unlimited)."""
        self._rate = rate
        self._budget = budget
        self._tokens = max(1.0, rate)
        self._updated = budget.clock()
        self._lock = threading.Lock()

    def acquire(self, what: str) -> None:
        """Take a token, waiting for one if needed; raise ElbApiError if the wait lies past the budget."""
        if self._rate <= 0:
            return
        with self._lock:
            now = self._budget.clock()
            self._tokens = min(max(1.0, self._rate), self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            pause = max(0.0, (1.0 - self._tokens) / self._rate)
            if pause >= self._budget.remaining():
                # Not taken: a refused request must not push everyone else's turn back.
                raise ElbApiError("WATCH.TIME_BUDGET", f"no time left to {what} under the API rate limit")
            self._tokens -= 1.0
        if pause > 0:
            self._budget.sleep(pause)


class CallTally:
    """What one gateway's calls showed so far: how many, whether ELB answered, the failures that blind.

    Shared by the diagnosis threads of one gateway, so every update holds the lock.
    """

    def __init__(self) -> None:
        """Start with no call."""
        self._lock = threading.Lock()
        self.calls = 0
        self._answered = False
        self._authorized = False
        self._unreached: ElbApiError | None = None
        self._denied: ElbApiError | None = None

    def attempt(self) -> None:
        """One more request is about to go out."""
        with self._lock:
            self.calls += 1

    def answer(self, status: int) -> None:
        """ELB answered a request with this HTTP status."""
        with self._lock:
            self._answered = True
            self._authorized = self._authorized or 200 <= status < 300

    def ended(self, failure: ElbApiError) -> None:
        """A call ended in this failure (after its retries): keep the first of each blinding kind."""
        with self._lock:
            if failure.code in TRANSPORT_CODES and self._unreached is None:
                self._unreached = failure
            if failure.status in (401, 403) and self._denied is None:
                self._denied = failure

    def health(self, region: str, project_id: str) -> ElbHealth:
        """The tally as a value."""
        with self._lock:
            return ElbHealth(
                region=region,
                project_id=project_id,
                calls=self.calls,
                answered=self._answered,
                authorized=self._authorized,
                unreached=self._unreached,
                denied=self._denied,
            )


@dataclass(frozen=True, slots=True)
class PoolPage:
    """One page of ListMasterSlavePools, already mapped to domain pools."""

    pools: tuple[Pool, ...]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class TagPage:
    """One page of ListLoadBalancers: the tags of each load balancer on it, keyed by its id."""

    tags: Mapping[str, Mapping[str, str]]
    next_marker: str | None


class ElbGateway:
    """Reads (and, for diagnosis, starts check jobs) through the SDK for one region and project.

    Safe to share between threads: the SDK client is shared, the tally of its calls is locked.
    """

    def __init__(
        self,
        *,
        region: str,
        project_id: str,
        credentials: Credentials,
        settings: Settings,
        budget: Budget,
        rng: random.Random | None = None,
        clients: SdkClients | None = None,
    ) -> None:
        """Remember where to read and how much time there is; the client is built on first call.

        `clients` is the warm instance's client cache (app.py's Instance); without one, this
        gateway keeps its own.
        """
        self._clients = clients if clients is not None else SdkClients()
        self.region = region
        self.project_id = project_id
        self._credentials = credentials
        self._settings = settings
        self._budget = budget
        # None: the retry loop seeds one when it first backs off (seeding reads the OS entropy pool).
        self._rng = rng
        self._limiter = RateLimiter(settings.api_rate, budget)
        self._tally = CallTally()
        self._client: tuple[Any, Any] | None = None

    @property
    def calls(self) -> int:
        """How many requests this gateway sent (retries included)."""
        return self._tally.calls

    def health(self) -> ElbHealth:
        """What this gateway's calls showed about ELB in its region and project (handler.watcher_error)."""
        return self._tally.health(self.region, self.project_id)

    def show_pool(self, pool_id: str) -> Pool:
        """Read a master/standby pool (ShowMasterSlavePool)."""
        from huaweicloudsdkelb.v3.model.show_master_slave_pool_request import (  # noqa: PLC0415 - lazy
            ShowMasterSlavePoolRequest,
        )

        request = ShowMasterSlavePoolRequest(pool_id)
        body = self._call("read pool " + pool_id, "show_master_slave_pool", request, "pool")
        mapped = pool_from_api(body["pool"])
        return mapped if mapped.id else Pool(**{**_fields(mapped), "id": pool_id})

    def show_check_job(self, job_id: str) -> CheckJob:
        """Read a member check job (ShowMemberHealthCheckJob)."""
        from huaweicloudsdkelb.v3.model.show_member_health_check_job_request import (  # noqa: PLC0415
            ShowMemberHealthCheckJobRequest,
        )

        request = ShowMemberHealthCheckJobRequest(job_id)
        what = "read check job " + job_id
        body = self._call(what, "show_member_health_check_job", request, "member_check")
        job = check_job_from_api(body["member_check"])
        return job if job.job_id else CheckJob(**{**_fields(job), "job_id": job_id})

    def list_pools_page(self, sweep: Sweep, marker: str | None, limit: int = LIST_LIMIT) -> PoolPage:
        """Read one page of master/standby pools (ListMasterSlavePools) with the sweep's filters."""
        from huaweicloudsdkelb.v3.model.list_master_slave_pools_request import (  # noqa: PLC0415
            ListMasterSlavePoolsRequest,
        )

        request = ListMasterSlavePoolsRequest(
            limit=limit,
            marker=marker,
            loadbalancer_id=list(sweep.loadbalancer_ids) or None,
            name=list(sweep.names) or None,
            enterprise_project_id=list(sweep.enterprise_project_ids) or None,
            listener_id=list(sweep.listener_ids) or None,
        )
        body = self._call("list pools", "list_master_slave_pools", request, "pools")
        listed, next_marker = _page(body, "pools", limit, "list pools")
        pools = tuple(pool_from_api(pool if isinstance(pool, dict) else {}) for pool in listed)
        return PoolPage(pools, next_marker)

    def list_loadbalancer_tags_page(
        self, loadbalancer_ids: Sequence[str], marker: str | None = None
    ) -> TagPage:
        """Read the tags of up to TAG_CHUNK load balancers (ListLoadBalancers with their ids), one page.

        Only the ids asked for are kept. A failure does not count as ELB being unreachable or refusing
        the watcher (`health`): the pools were read, only the routing by tag is blind (handler.tags).
        """
        from huaweicloudsdkelb.v3.model.list_load_balancers_request import (  # noqa: PLC0415 - lazy
            ListLoadBalancersRequest,
        )

        ids = list(dict.fromkeys(loadbalancer_ids))
        if not ids or len(ids) > TAG_CHUNK:
            raise ValueError(f"1 to {TAG_CHUNK} load balancer ids per call, not {len(ids)}")
        what = f"read the tags of {len(ids)} load balancer(s)"
        request = ListLoadBalancersRequest(limit=len(ids), marker=marker, id=ids)
        body = self._call(what, "list_load_balancers", request, "loadbalancers", health=False)
        listed, next_marker = _page(body, "loadbalancers", len(ids), what)
        wanted = set(ids)
        tags = {
            str(lb["id"]): tags_from_api(lb.get("tags"))
            for lb in listed
            if isinstance(lb, dict) and isinstance(lb.get("id"), str) and lb["id"] in wanted
        }
        return TagPage(tags, next_marker)

    def create_check_job(self, member_id: str, listener_id: str) -> str:
        """Start a member check job of every subject (CreateMemberHealthCheckJob); return its job id.

        A write: retried only when the request surely did not reach ELB (throttled, refused).
        """
        from huaweicloudsdkelb.v3.model.create_member_health_check_job_option import (  # noqa: PLC0415
            CreateMemberHealthCheckJobOption,
        )
        from huaweicloudsdkelb.v3.model.create_member_health_check_job_request import (  # noqa: PLC0415
            CreateMemberHealthCheckJobRequest,
        )
        from huaweicloudsdkelb.v3.model.create_member_health_check_job_request_body import (  # noqa: PLC0415
            CreateMemberHealthCheckJobRequestBody,
        )

        option = CreateMemberHealthCheckJobRequestBody(
            member_check=CreateMemberHealthCheckJobOption(listener_id=listener_id, subject="all")
        )
        request = CreateMemberHealthCheckJobRequest(member_id=member_id, body=option)
        what = f"start a check job for member {member_id}"
        answer = self._call(what, "create_member_health_check_job", request, "member_check", idempotent=False)
        job_id = answer["member_check"].get("job_id")
        if isinstance(job_id, bool) or not isinstance(job_id, (str, int)) or job_id in {"", 0}:
            raise ElbApiError("ELB.MALFORMED_RESPONSE", f"{what}: the answer has no job_id")
        return str(job_id)

    def _call(
        self,
        what: str,
        method: str,
        request: Any,
        field: str,
        *,
        idempotent: bool = True,
        health: bool = True,
    ) -> dict[str, Any]:
        """Call the SDK and return the body ELB sent, parsed from the wire JSON.

        The body's `field` must hold an object (a list for `pools` and `loadbalancers`), or the answer is
        malformed. `health=False`: a failure is not kept as what blinds the watcher (`CallTally.ended`).

        Reads retry 429, 5xx, connection errors and unreadable bodies; writes retry only what surely
        never reached ELB. Every wait fits in the budget and the rate limit (handler.outbound.retry).
        """
        if self._client is None:
            # Once per gateway (one invocation): the environment is read for the cache key once.
            self._client = _build_client(self.region, self.project_id, self._credentials, self._clients)
        client, config = self._client
        call: Callable[[Any], Any] = getattr(client, method)

        def once(left: float) -> Attempt:
            # Shared by threads: all of them work to the same budget, so any thread's value fits.
            config.timeout = (
                min(self._settings.connect_timeout, left),
                min(self._settings.read_timeout, left),
            )
            self._tally.attempt()
            try:
                # Bounded as a whole: the SDK's timeouts apply per socket read, so a body that trickles
                # in would otherwise hold the invocation past its deadline.
                response = call_within(left, lambda: call(request), name="elb-call")
            except DeadlineExceeded:
                message = f"{what}: no complete answer from ELB within {left:.1f} s (time budget)"
                return Attempt(message, failure=ElbApiError("WATCH.TIMEOUT", message))
            except Exception as exc:  # noqa: BLE001 - every SDK failure becomes an ElbApiError
                error, retryable, never_sent = _classify(exc, what, method)
                if error.status is not None:
                    self._tally.answer(error.status)
                return Attempt(error.message, retryable and (idempotent or never_sent), failure=error)
            self._tally.answer(_status_of(response))
            return _answered(response, what, method, field, retryable=idempotent)

        ended = retry(once, self._plan(), admit=self._admission(what), rng=self._rng)
        if ended.how == "accepted" and ended.last is not None:
            body: dict[str, Any] = ended.last.value
            return body
        failure = _failure(ended, what)
        if health:
            self._tally.ended(failure)
        raise failure

    def _admission(self, what: str) -> Callable[[float], bool]:
        """Whether an attempt may start: a rate-limit slot within the budget (none: not attempted)."""

        def admit(_deadline: float) -> bool:
            try:
                self._limiter.acquire(what)
            except ElbApiError:
                return False
            return True

        return admit

    def _plan(self) -> RetryPlan:
        """How this gateway's calls retry: to the budget's deadline, with its settings' backoff."""
        clock = self._budget.clock
        return RetryPlan(
            deadline=clock() + self._budget.remaining(),
            clock=clock,
            sleep=self._budget.sleep,
            max_attempts=self._settings.max_attempts,
            base=self._settings.retry_base,
            cap=ELB_RETRY_CAP_SECONDS,
            cut_backoff=False,
        )


def _page(body: Mapping[str, Any], field: str, limit: int, what: str) -> tuple[list[Any], str | None]:
    """A list answer's items and the marker of the next page (None after a short page).

    More items than `limit` is ELB.MALFORMED_RESPONSE: mapped, they would cost memory for what nobody
    asked for, and the listing cannot be trusted.
    """
    listed: list[Any] = body[field]
    if len(listed) > limit:
        message = f"{what}: the page holds {len(listed)} {field}, more than the {limit} asked for"
        raise ElbApiError("ELB.MALFORMED_RESPONSE", message)
    page_info = body.get("page_info")
    marker_value = page_info.get("next_marker") if isinstance(page_info, dict) else None
    next_marker = marker_value if isinstance(marker_value, str) and marker_value else None
    # A short page is the last one, whatever the marker says: no extra empty call.
    return listed, next_marker if len(listed) >= limit else None


def _answered(response: Any, what: str, method: str, field: str, *, retryable: bool) -> Attempt:
    """The attempt a 2xx answer makes: its body when `field` has the shape it must, else a failure."""
    crowded = _crowded(response, what, method)
    if crowded is not None:
        return Attempt(crowded.message, failure=crowded)
    body = _wire_body(response)
    value = body.get(field) if body is not None else None
    if isinstance(value, list if field in _LIST_FIELDS else dict):
        return Attempt(value=body)
    error = ElbApiError("ELB.MALFORMED_RESPONSE", f"{what}: the response has no {field!r}")
    return Attempt(error.message, retryable=retryable, failure=error)


def _failure(ended: Ended, what: str) -> ElbApiError:
    """The error a call that was not accepted ends with: out of time, or its last attempt's failure."""
    if ended.how == "no_slot":
        return ElbApiError("WATCH.TIME_BUDGET", f"no time left to {what} under the API rate limit")
    if ended.how == "no_time" or ended.last is None:
        return ElbApiError("WATCH.TIME_BUDGET", f"no time left to {what}", attempts=ended.attempts)
    failure: ElbApiError = ended.last.failure
    failure.attempts = ended.attempts
    if ended.how == "no_time_to_wait":
        failure.message += f" (gave up after {ended.attempts} attempt(s): time budget)"
    return failure


def _crowded(response: Any, what: str, method: str) -> ElbApiError | None:
    """ELB.RESPONSE_TOO_LARGE for a body of more JSON values than MAX_ELB_RESPONSE_VALUES, else None.

    Counted as its commas, before parsing (C speed, a few ms for 16 MB): parsed, 16 MB of `{},`
    would be 5 million objects. A comma inside a string counts too, which only errs on the safe side.
    """
    raw = getattr(response, "raw_content", None)
    values = raw.count(b",") if isinstance(raw, bytes) else 0
    if values <= MAX_ELB_RESPONSE_VALUES:
        return None
    message = (
        f"{what}: ELB's {_OPERATIONS.get(method, method)} answer holds about {values} JSON values, over "
        f"the cap of {MAX_ELB_RESPONSE_VALUES} on one ELB response; refused, not retried"
    )
    return ElbApiError("ELB.RESPONSE_TOO_LARGE", message)


def _status_of(response: Any) -> int:
    """The HTTP status of an answer the SDK returned (it returns only 2xx ones; 200 when it says none)."""
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else 200


def _wire_body(response: Any) -> dict[str, Any] | None:
    """The JSON object ELB sent, as the SDK keeps it (`SdkResponse.raw_content`), or None.

    The API reference's field names, exactly as on the wire: the client builds no response models
    (handler.sdk), and C-speed JSON is all the mapping needs.
    """
    try:
        # SdkResponse.to_json_object without its copy: json.loads reads the UTF-8 bytes as they came.
        raw = response.raw_content
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError, AttributeError, TypeError):
        return None
    return body if isinstance(body, dict) else None


def _fields(instance: Any) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance.__dataclass_fields__}


def too_large(what: str, method: str, exc: sdk.BodyTooLarge) -> ElbApiError:
    """The error for an answer over the body cap: which call, which operation, the cap; never retried."""
    megabytes = exc.limit / (1024 * 1024)
    how = f"its Content-Length is {exc.seen} bytes" if exc.declared else f"{exc.seen} bytes read"
    message = (
        f"{what}: ELB's {_OPERATIONS.get(method, method)} answer is over the {megabytes:g} MB cap "
        f"on one ELB response ({how}); refused, not retried"
    )
    return ElbApiError("ELB.RESPONSE_TOO_LARGE", message)


def _classify(exc: Exception, what: str, method: str = "") -> tuple[ElbApiError, bool, bool]:
    """An SDK or transport exception as (ElbApiError, whether a retry may help, whether surely unsent)."""
    if isinstance(exc, ElbApiError):
        return exc, False, False
    if isinstance(exc, sdk.BodyTooLarge):
        # The same answer would come again: a retry would only read another 16 MB.
        return too_large(what, method, exc), False, False
    error = from_foreign(exc)
    if isinstance(error, ServiceError):
        status = error.status
        code = error.code or (str(status) if status else "ELB.ERROR")
        message = clip(error.message or f"HTTP {status}", 300)
        api_error = ElbApiError(code, f"{what}: {message}", status=status, request_id=error.request_id)
        # A 429 was refused before any work: a write may be repeated.
        return api_error, error.retryable, status == 429
    if isinstance(error, TransportError):
        where = f" at {error.where}" if error.where else ""
        code = "WATCH.TIMEOUT" if error.cause.timed_out else "WATCH.CONNECTION"
        return (
            ElbApiError(code, f"{what}: cannot reach ELB ({error.message}{where})"),
            True,
            error.cause.never_sent,
        )
    if isinstance(error, ClientError):
        return ElbApiError("WATCH.SDK", f"{what}: {error.detail}"), False, False
    # A body the SDK could not map to its models (truncated JSON, wrong types): maybe a passing glitch.
    return ElbApiError("ELB.MALFORMED_RESPONSE", f"{what}: unreadable response ({error.detail})"), True, False
