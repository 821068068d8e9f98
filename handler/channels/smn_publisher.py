"""SMN PublishMessage through the official `huaweicloudsdksmn`, with our own retries inside the deadline.

The SDK is imported when a message is published, not when this module is imported (cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler import sdk
from handler.channels.config import Channel, parse_topic_urn
from handler.channels.context import DeliveryContext
from handler.channels.retry import Attempt, Outcome, Progress, classify_sdk_error, with_retries
from handler.config import Credentials
from handler.instance import SdkClients


class PublishSetupError(Exception):
    """The SMN client cannot be built (unknown region, SDK refusal): no attempt can be made."""


def _client(
    region_id: str, project_id: str, credentials: Credentials, clients: SdkClients | None
) -> tuple[Any, Any]:
    """The warm instance's SmnClient for this region, project, endpoint and key pair, or a new one."""
    return sdk.warm_client(clients, "smn", (region_id, project_id, credentials), build_client)


def build_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """An SmnClient for the topic's region and its HttpConfig (timeouts are set per attempt)."""
    from huaweicloudsdksmn.v2.region.smn_region import SmnRegion  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdksmn.v2.smn_client import SmnClient  # noqa: PLC0415

    # Signing in the caller's thread and proxies read once (handler.sdk); the models are kept (message_id).
    target = (region_id, project_id, credentials)
    return sdk.service_client(
        SmnClient, SmnRegion, target, label="SMN", failure=PublishSetupError, models=True
    )


def classify(exc: Exception) -> Attempt:
    """An SDK or transport exception as an attempt: 429, 5xx and connection errors may be retried."""
    return classify_sdk_error(exc, "SMN")


def publish(
    channel: Channel, payload: Mapping[str, str], ctx: DeliveryContext, progress: Progress
) -> Outcome:
    """Publish a rendered message (subject + message_structure) to the channel's topic."""
    parsed = parse_topic_urn(channel.topic_urn)
    if parsed is None:
        return Outcome("failed", 0, "the SMN topic URN is not urn:smn:<region>:<project_id>:<topic>")
    if ctx.credentials is None:
        return Outcome("failed", 0, "no credentials to publish to SMN (agency or HUAWEICLOUD_SDK_AK/SK)")
    region_id, topic_project, _ = parsed
    try:
        # The URN's project is the account's project in the topic's region, which may not be the
        # region the function watches: it is the right one for the publish path and signature.
        project = topic_project or ctx.project_id
        client, config = _client(region_id, project, ctx.credentials, ctx.sdk_clients)
    except PublishSetupError as exc:
        return Outcome("failed", 0, str(exc))
    from huaweicloudsdksmn.v2.model.publish_message_request import PublishMessageRequest  # noqa: PLC0415
    from huaweicloudsdksmn.v2.model.publish_message_request_body import (  # noqa: PLC0415
        PublishMessageRequestBody,
    )

    body = PublishMessageRequestBody(
        subject=payload["subject"], message_structure=payload["message_structure"]
    )
    request = PublishMessageRequest(topic_urn=channel.topic_urn, body=body)

    def attempt(left: float) -> Attempt:
        config.timeout = ctx.timeouts(left)
        try:
            response = client.publish_message(request)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes an attempt's error
            return classify(exc)
        if not getattr(response, "message_id", None):
            # Maybe published: not retried, so a subscriber never gets the message twice.
            return Attempt(
                "SMN answered without a message_id; the message may or may not have been published"
            )
        return Attempt()

    return with_retries(attempt, ctx, progress)
