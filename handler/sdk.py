"""How the function builds the official SDK's clients (ELB and SMN), and what it trims from each call.

A warm call through a plain `huaweicloudsdkcore` client spends about a quarter of its CPU on work this
function does not need (measured on the demo pool and check job, loopback simulator):

- signing in the SDK's thread pool (`process_auth_request` submits `sign_request` and waits): a thread
  hand-off per call for a few microseconds of HMAC;
- requests' `trust_env`: on every request it walks `os.environ` for proxy settings twice and stats
  `~/.netrc` (≈110 µs with 46 variables), and a `.netrc` entry for the endpoint would even replace the
  SDK's signature with basic auth. The proxies and CA bundle are read from the environment once, when
  the client is built, and the client is rebuilt when they change;
- response models (`deserialize`): ELB's answers become ~40 SDK model objects that nothing reads, since
  the gateway maps the wire JSON itself (`handler.elb_model`).

Apart from the trims, `cap_bodies` wraps the client's transport adapter so each answer is read in chunks
and refused over a size cap (requests alone would read any body whole into memory).

Each trim is skipped when the SDK lacks the attribute it sets (then the call is made exactly as the SDK
makes it, only slower); `trimmed()` tells which were applied, and the package test checks all of them
against the SDK the zip ships. The SDK is imported by the callers, never here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from handler.config import Credentials
    from handler.instance import SdkClients

T = TypeVar("T")

# What requests' trust_env would read on each request: the proxy variables and the CA bundle.
ENVIRONMENT = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_TRIMMED = "_elb_master_watch_trimmed"


def environment_key() -> tuple[str, ...]:
    """The environment a client's proxies and CA bundle were read from (part of its cache key)."""
    get = os.environ.get
    return tuple(get(name, "") for name in ENVIRONMENT)


def ca_bundle() -> str | None:
    """The CA bundle requests would take from the environment (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def http_config(timeout: tuple[float, float]) -> Any:
    """An SDK HttpConfig: our retry loop instead of the SDK's, and the environment's CA bundle if set."""
    from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: PLC0415 - lazy SDK import

    config = HttpConfig(timeout=timeout, retry_times=0)
    bundle = ca_bundle()
    if bundle:
        # What requests' trust_env did per request, given to the SDK once: it passes verify= itself.
        config.ssl_ca_cert = bundle
    return config


class CallerThread:
    """An executor that runs what is submitted at once, in the caller's thread (the SDK signs with it)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run `fn` now; its Future is already done."""
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - the SDK reads it from the future, as from its pool
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:  # noqa: FBT001, FBT002 - Executor's signature
        """Nothing to stop."""


def _no_models(_response: Any, _response_type: Any, _progress_callback: Any) -> None:
    """Client.deserialize that builds nothing: the SDK then keeps the body in an empty response object."""
    return


def with_scheme(endpoint: str) -> str:
    """The URL the SDK really calls for an endpoint: it adds `https://` to one written without a scheme.

    Proxies looked up for `elb.example.com` alone match no `HTTPS_PROXY`/`NO_PROXY` rule for https.
    """
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def trim(client: Any, endpoints: Sequence[str], *, models: bool) -> Any:
    """Trim `client`'s per-call work (see the module docstring); `models=False` also skips response models.

    `endpoints` are the ones the client calls: the environment's proxies are resolved for the first
    (NO_PROXY included), as requests would for each request.
    """
    done: list[str] = []
    http = client.get_http_client()
    if hasattr(http, "_executor"):
        # The SDK offers no setting for either of these: its own attributes are set.
        http._executor = CallerThread()
        done.append("signing")
    session = getattr(http, "_session", None)
    if session is not None and hasattr(session, "trust_env") and endpoints:
        from requests.utils import get_environ_proxies  # noqa: PLC0415 - requests comes with the SDK

        session.proxies.update(get_environ_proxies(with_scheme(endpoints[0])))
        session.trust_env = False
        done.append("environment")
    if not models and callable(getattr(client, "deserialize", None)):
        client.deserialize = _no_models
        done.append("models")
    setattr(client, _TRIMMED, tuple(done))
    return client


class BodyTooLarge(Exception):  # noqa: N818 - it names what happened, as the SDK's exceptions do
    """An answer whose body is over the cap: refused after reading at most `limit` bytes of it."""

    def __init__(self, limit: int, seen: int, *, declared: bool) -> None:
        """`seen`: the bytes read (or, when `declared`, the Content-Length the server announced)."""
        super().__init__(f"response body over {limit} bytes")
        self.limit = limit
        self.seen = seen
        self.declared = declared


# The piece of a body read at once: the cap is checked after each.
BODY_CHUNK_BYTES = 1 << 16


class CappedAdapter:
    """A requests transport adapter that reads each body in chunks, refusing one over `limit` bytes.

    requests (and so the SDK) would read the whole body into memory before anyone could look at its
    size; this one wraps the SDK's own adapter (its pool sizes and retries stay), asks it for a stream,
    and reads at most `limit` bytes (decoded, so a compressed body is capped after decompression).
    Over the cap it closes the connection and raises BodyTooLarge out of the SDK's call.
    """

    def __init__(self, inner: Any, limit: int) -> None:
        """Wrap `inner` (an HTTPAdapter)."""
        self.inner = inner
        self.limit = limit

    def send(self, request: Any, **kwargs: Any) -> Any:
        """Send through the wrapped adapter; the body is read (capped) unless the caller streams it."""
        streamed = kwargs.pop("stream", False)
        response = self.inner.send(request, stream=True, **kwargs)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response.close()
            raise BodyTooLarge(self.limit, int(declared), declared=True)
        if streamed:
            return response
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(BODY_CHUNK_BYTES):
            size += len(chunk)
            if size > self.limit:
                response.close()
                raise BodyTooLarge(self.limit, size, declared=False)
            chunks.append(chunk)
        # What requests' Response.content would have read, so the SDK finds the body as it expects.
        response._content = b"".join(chunks)
        return response

    def close(self) -> None:
        """Close the wrapped adapter's connections."""
        self.inner.close()


def cap_bodies(client: Any, limit: int) -> bool:
    """Mount CappedAdapter over each of the client's transport adapters; False if the SDK has no session."""
    session = getattr(client.get_http_client(), "_session", None)
    adapters = getattr(session, "adapters", None)
    if not isinstance(adapters, dict):
        return False
    for prefix, adapter in list(adapters.items()):
        if not isinstance(adapter, CappedAdapter):
            adapters[prefix] = CappedAdapter(adapter, limit)
    return True


def body_cap(client: Any) -> int | None:
    """The cap CappedAdapter puts on the client's answers (None: not capped)."""
    session = getattr(client.get_http_client(), "_session", None)
    adapters = getattr(session, "adapters", None) or {}
    caps = [adapter.limit for adapter in adapters.values() if isinstance(adapter, CappedAdapter)]
    return min(caps) if caps else None


def trimmed(client: Any) -> tuple[str, ...]:
    """Which trims `trim` applied to this client: "signing", "environment", "models"."""
    found: tuple[str, ...] = getattr(client, _TRIMMED, ())
    return found


def service_client(
    client_class: Any,
    region_class: Any,
    target: tuple[str, str, Credentials],
    *,
    label: str,
    failure: type[Exception],
    models: bool,
) -> tuple[Any, Any]:
    """A trimmed client of one SDK service for (region, project, credentials), and its HttpConfig.

    `label` names the service in errors ("SMN", "COC", "Cloud Eye"); a region neither the SDK's table
    nor a HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> override knows, or a client the SDK will not build,
    raises `failure`. Timeouts are set per call; the SDK's own retries are never used (ours run inside
    the deadline), and its logger gets a NullHandler: each failure is reported once, scrubbed, by us.
    """
    import logging  # noqa: PLC0415

    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - lazy SDK import

    region_id, project_id, credentials = target
    try:
        region = region_class.value_of(region_id)
    except KeyError:
        service = client_class.__name__.removesuffix("Client").upper()
        variable = f"HUAWEICLOUD_SDK_REGION_{service}_" + region_id.replace("-", "_").upper()
        raise failure(
            f"unknown {label} region {region_id!r}: not in the SDK's region table and no {variable} endpoint"
        ) from None
    basic = BasicCredentials(credentials.ak, credentials.sk, project_id)
    if credentials.security_token:
        basic = basic.with_security_token(credentials.security_token)
    config = http_config((3.0, 5.0))
    sdk_logger = logging.getLogger(f"HuaweiCloud-SDK-{client_class.__name__}")
    if not any(isinstance(handler, logging.NullHandler) for handler in sdk_logger.handlers):
        sdk_logger.addHandler(logging.NullHandler())
    try:
        client = (
            client_class.new_builder()
            .with_http_config(config)
            .with_credentials(basic)
            .with_region(region)
            .build()
        )
    except Exception as exc:  # noqa: BLE001 - a client that cannot be built is a failed call, not a crash
        raise failure(f"cannot build the {label} client ({type(exc).__name__})") from None
    return trim(client, list(region.endpoints or ()), models=models), config


def warm_client(
    clients: SdkClients | None,
    service: str,
    target: tuple[str, str, Credentials],
    build: Callable[[str, str, Credentials], tuple[Any, Any]],
) -> tuple[Any, Any]:
    """The warm instance's client of `service` ("smn", "coc", "ces") for this target, or a new one.

    Kept per region, endpoint override (read at call time, as the SDK does), project, key pair and the
    proxy/CA environment, so a changed setting builds a new client instead of reusing a stale one.
    """
    region_id, project_id, credentials = target
    if clients is None:
        return build(region_id, project_id, credentials)
    variable = f"HUAWEICLOUD_SDK_REGION_{service.upper()}_" + region_id.replace("-", "_").upper()
    key = (
        service,
        region_id,
        os.environ.get(variable, ""),
        project_id,
        credentials.ak,
        credentials.sk,
        credentials.security_token,
        *environment_key(),
    )
    kept: tuple[Any, Any] = clients.get(key, lambda: build(region_id, project_id, credentials))
    return kept
