"""COC CreateReportCustomEvent through the official `huaweicloudsdkcoc` (v1), our retries inside the deadline.

The SDK is imported when an event is reported, never when this module is imported (cold start). COC
is a global service whose intake is reached per CocRegion (cn-north-4, ap-southeast-3, eu-west-101;
`HUAWEICLOUD_SDK_REGION_COC_<REGION>` overrides the endpoint). The request is signed with the
function's own credentials and the project id it watches: without a project id the SDK would look
one up from IAM on every cold start, so none means the event is not sent. The integration key sits
in the request path: it is the channel's secret, scrubbed from every error and log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler import sdk
from handler.channels.config import Channel
from handler.channels.context import DeliveryContext
from handler.channels.protocol import quote_answer
from handler.channels.retry import Attempt, Outcome, Progress, classify_sdk_error, with_retries
from handler.config import Credentials
from handler.instance import SdkClients

# error_code in a 200 answer that means accepted ("0" per the API reference; empty or absent as well).
ACCEPTED_CODES = frozenset({"", "0", "0000", "None"})


class ReportSetupError(Exception):
    """The COC client cannot be built (unknown region, SDK refusal): no attempt can be made."""


def _client(
    region_id: str, project_id: str, credentials: Credentials, clients: SdkClients | None
) -> tuple[Any, Any]:
    """The warm instance's CocClient for this region, project, endpoint and key pair, or a new one."""
    return sdk.warm_client(clients, "coc", (region_id, project_id, credentials), build_client)


def build_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """A CocClient for the intake's region and its HttpConfig (timeouts are set per attempt).

    The SDK would log a connection error with its URL (and so the key) to Python's last-resort stderr
    handler; `sdk.service_client` gives its logger a NullHandler. Models kept: the answer's error_code
    says whether COC took the event.
    """
    from huaweicloudsdkcoc.v1.coc_client import CocClient  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdkcoc.v1.region.coc_region import CocRegion  # noqa: PLC0415

    target = (region_id, project_id, credentials)
    return sdk.service_client(
        CocClient, CocRegion, target, label="COC", failure=ReportSetupError, models=True
    )


def classify(exc: Exception) -> Attempt:
    """An SDK or transport exception as an attempt: 429, 5xx and connection errors may be retried."""
    return classify_sdk_error(exc, "COC")


def judge(response: Any) -> Attempt:
    """A 200 answer: accepted when its error_code is 0 (or none), else COC's refusal (not retried)."""
    code = str(getattr(response, "error_code", "") or "").strip()
    if code in ACCEPTED_CODES:
        return Attempt()
    message = quote_answer(str(getattr(response, "error_msg", "") or ""))
    return Attempt(f"COC error_code {quote_answer(code)}: {message}")


def _body(payload: Mapping[str, Any], channel: Channel, ctx: DeliveryContext) -> Any:
    """The SDK's request body from the rendered payload (COC's JSON names mapped to the model's)."""
    from huaweicloudsdkcoc.v1.model.report_custom_event_request_body import (  # noqa: PLC0415
        ReportCustomEventRequestBody,
    )

    fields = dict(payload)
    if channel.application_id:
        fields["applicationId"] = channel.application_id
    if fields.get("time") is None:
        fields["time"] = round(ctx.wall_clock() * 1000)
    names = {wire: name for name, wire in ReportCustomEventRequestBody.attribute_map.items()}
    return ReportCustomEventRequestBody(
        **{names[key]: value for key, value in fields.items() if key in names}
    )


def publish(
    channel: Channel, payload: Mapping[str, Any], ctx: DeliveryContext, progress: Progress
) -> Outcome:
    """Report one rendered alarm (or its recovery) to the channel's COC integration."""
    if ctx.credentials is None:
        return Outcome("failed", 0, "no credentials to report to COC (agency or HUAWEICLOUD_SDK_AK/SK)")
    if not ctx.project_id:
        return Outcome("failed", 0, "no project id to sign the COC request with (HUAWEICLOUD_SDK_PROJECT_ID)")
    try:
        client, config = _client(channel.region, ctx.project_id, ctx.credentials, ctx.sdk_clients)
    except ReportSetupError as exc:
        return Outcome("failed", 0, str(exc))
    from huaweicloudsdkcoc.v1.model.create_report_custom_event_request import (  # noqa: PLC0415
        CreateReportCustomEventRequest,
    )

    def report(fields: Mapping[str, Any]) -> Outcome:
        request = CreateReportCustomEventRequest(
            integration_key=channel.secret, body=_body(fields, channel, ctx)
        )

        def attempt(left: float) -> Attempt:
            config.timeout = ctx.timeouts(left)
            try:
                response = client.create_report_custom_event(request)
            except Exception as exc:  # noqa: BLE001 - every SDK failure becomes an attempt's error
                return classify(exc)
            return judge(response)

        return with_retries(attempt, ctx, progress)

    outcome = report(payload)
    if outcome.status != "sent" or not is_test(payload):
        return outcome
    # `channels test` raises an alarm nobody should be paged for: it is cleared at once.
    cleared = report({**payload, "alarmStatus": "ok"})
    if cleared.status == "sent":
        return cleared
    return Outcome("failed", cleared.attempts, f"the test alarm was raised but not cleared: {cleared.error}")


def is_test(payload: Mapping[str, Any]) -> bool:
    """Whether the payload is `channels test`'s sample (its record's kind is test)."""
    additional = payload.get("additional")
    return isinstance(additional, Mapping) and additional.get("kind") == "test"
