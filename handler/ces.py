"""Cloud Eye CreateMetricData through the official `huaweicloudsdkces` (v1): the metrics sink's adapter.

Runs after delivery and before the result, so a Cloud Eye that is slow, refuses or hangs never delays
or loses an alert: each request takes its slice of the run's one deadline (whole, `call_within`),
leaving RESULT_KEEP_SECONDS for the result. No retry: the next run pushes its own points. A push that
fails is one METRICS.UNAVAILABLE entry (`severity: warning`) and one log line; the remaining batches
are not tried. The SDK is imported here, on the first push, never by `import handler`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from handler import sdk
from handler.config import Credentials, resolve_project_id
from handler.result import error_entry

if TYPE_CHECKING:
    from handler.instance import SdkClients
    from handler.run_context import RunContext

METRICS_UNAVAILABLE = "METRICS.UNAVAILABLE"
# Seconds of the deadline kept for building and returning the result after the last push.
RESULT_KEEP_SECONDS = 0.5
# A request given less than this is not made: it could not finish.
MIN_CALL_SECONDS = 0.2
NO_TIME = "no time left for Cloud Eye"
# Cloud Eye answers 201 with an empty body: anything much longer is not its answer.
ANSWER_CAP_BYTES = 64 * 1024

Batch = Sequence[Mapping[str, Any]]


class SetupError(Exception):
    """No request can be made: no region, project or credentials, or the SDK refuses the region."""


def build_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """A CesClient for the region and project, and its HttpConfig (timeouts are set per request)."""
    from huaweicloudsdkces.v1.ces_client import CesClient  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdkces.v1.region.ces_region import CesRegion  # noqa: PLC0415

    target = (region_id, project_id, credentials)
    client, config = sdk.service_client(
        CesClient, CesRegion, target, label="Cloud Eye", failure=SetupError, models=False
    )
    sdk.cap_bodies(client, ANSWER_CAP_BYTES)
    return client, config


def _client(
    region_id: str, project_id: str, credentials: Credentials, clients: SdkClients | None
) -> tuple[Any, Any]:
    """The warm instance's CesClient for this region, project, endpoint and key pair, or a new one."""
    return sdk.warm_client(clients, "ces", (region_id, project_id, credentials), build_client)


def home(run: RunContext, scopes: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """Where metrics go: the function's region and project, else the first scope the run read."""
    region = run.settings.region or next((r for r, _ in scopes if r), "")
    project = resolve_project_id(None, run.platform, run.env) or next((p for _, p in scopes if p), "")
    return region, project


def describe(exc: BaseException) -> tuple[str, int | None, str | None]:
    """A failed request as (message, HTTP status, request id): Cloud Eye's code, or the transport's."""
    from handler.outbound import ServiceError, TransportError, from_foreign  # noqa: PLC0415
    from handler.threads import DeadlineExceeded  # noqa: PLC0415

    if isinstance(exc, DeadlineExceeded):
        if str(exc) == NO_TIME:
            return "no time left in the run to call Cloud Eye", None, None
        return "no answer from Cloud Eye within the run's time left", None, None
    error = from_foreign(exc)
    if isinstance(error, ServiceError):
        return f"Cloud Eye {error.code or 'error'}: {error.message[:200]}", error.status, error.request_id
    if isinstance(error, TransportError):
        return f"cannot reach Cloud Eye: {error.message}", None, None
    return f"Cloud Eye call failed ({type(exc).__name__})", None, None


def _send(client: Any, config: Any, batch: Batch, run: RunContext) -> None:
    """One CreateMetricData request, bounded as a whole by the run's deadline (less the result's keep)."""
    from huaweicloudsdkces.v1.model.create_metric_data_request import (  # noqa: PLC0415
        CreateMetricDataRequest,
    )

    from handler.threads import DeadlineExceeded, call_within  # noqa: PLC0415

    seconds = run.budget.slice(run.settings.connect_timeout + run.settings.read_timeout, RESULT_KEEP_SECONDS)
    if seconds < MIN_CALL_SECONDS:
        raise DeadlineExceeded(NO_TIME)
    config.timeout = (min(run.settings.connect_timeout, seconds), min(run.settings.read_timeout, seconds))
    # Plain dicts, as the SDK's models would serialize: 10,000 model objects would cost more than the call.
    request = CreateMetricDataRequest(body=list(batch))
    call_within(seconds, lambda: client.create_metric_data(request), name="ces-push")


def unavailable(message: str, pushed: int, total: int, **fields: Any) -> dict[str, Any]:
    """The METRICS.UNAVAILABLE entry: why, and how many of the run's data points reached Cloud Eye."""
    entry = error_entry(
        METRICS_UNAVAILABLE,
        f"{message}; {pushed} of {total} data points pushed, the alerts went out as usual",
        where="ELB_WATCH_METRICS",
        **fields,
    )
    entry["severity"] = "warning"
    return entry


def push(
    batches: Iterable[Batch],
    total: int,
    run: RunContext,
    where: tuple[str, str],
    clients: SdkClients | None,
) -> list[tuple[str, dict[str, Any]]]:
    """Push the batches (`total` data points) to Cloud Eye in `where` (region, project).

    An entry if a request failed (the later batches are not built), else none.
    """
    region, project = where
    missing = [
        text
        for text, absent in (
            ("no region (ELB_WATCH_REGION)", not region),
            ("no project id (HUAWEICLOUD_SDK_PROJECT_ID)", not project),
            ("no credentials (agency or HUAWEICLOUD_SDK_AK/SK)", run.credentials is None),
        )
        if absent
    ]
    if missing or run.credentials is None:
        return [("metrics.unavailable", unavailable("; ".join(missing), 0, total))]
    pushed = requests = 0
    try:
        client, config = _client(region, project, run.credentials, clients)
        for batch in batches:
            _send(client, config, batch, run)
            pushed, requests = pushed + len(batch), requests + 1
    except SetupError as exc:
        return [("metrics.unavailable", unavailable(str(exc), pushed, total))]
    except Exception as exc:  # noqa: BLE001 - every failed push is a warning, never a lost alert
        message, status, request_id = describe(exc)
        entry = unavailable(message, pushed, total, status=status, request_id=request_id)
        return [("metrics.unavailable", entry)]
    run.log.info("metrics.pushed", points=pushed, requests=requests, region=region)
    return []
