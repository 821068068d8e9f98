"""SMN PublishMessage through the official `huaweicloudsdksmn`, with our own retries inside the deadline.

The SDK is imported when a message is published, not when this module is imported (cold start).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from handler import sdk
from handler.channels.config import Channel, parse_topic_urn
from handler.channels.context import DeliveryContext
from handler.channels.protocol import quote_answer
from handler.channels.retry import Attempt, Outcome, Progress, with_retries
from handler.config import Credentials
from handler.instance import SdkClients

_SDK_LOGGER = "HuaweiCloud-SDK-SmnClient"
ENDPOINT_ENV_PREFIX = "HUAWEICLOUD_SDK_REGION_SMN_"


class PublishSetupError(Exception):
    """The SMN client cannot be built (unknown region, SDK refusal): no attempt can be made."""


def _client(
    region_id: str, project_id: str, credentials: Credentials, clients: SdkClients | None
) -> tuple[Any, Any]:
    """The warm instance's SmnClient for this region, project, endpoint and key pair, or a new one."""
    import os  # noqa: PLC0415 - the endpoint override is read at call time, as the SDK does

    if clients is None:
        return build_client(region_id, project_id, credentials)
    override = os.environ.get(ENDPOINT_ENV_PREFIX + region_id.replace("-", "_").upper(), "")
    key = (
        "smn",
        region_id,
        override,
        project_id,
        credentials.ak,
        credentials.sk,
        credentials.security_token,
        *sdk.environment_key(),
    )
    kept: tuple[Any, Any] = clients.get(key, lambda: build_client(region_id, project_id, credentials))
    return kept


def build_client(region_id: str, project_id: str, credentials: Credentials) -> tuple[Any, Any]:
    """An SmnClient for the topic's region and its HttpConfig (timeouts are set per attempt)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415 - lazy SDK import
    from huaweicloudsdksmn.v2.region.smn_region import SmnRegion  # noqa: PLC0415
    from huaweicloudsdksmn.v2.smn_client import SmnClient  # noqa: PLC0415

    try:
        region = SmnRegion.value_of(region_id)
    except KeyError:
        variable = ENDPOINT_ENV_PREFIX + region_id.replace("-", "_").upper()
        raise PublishSetupError(
            f"unknown SMN region {region_id!r}: not in the SDK's region table and no {variable} endpoint"
        ) from None
    basic = BasicCredentials(credentials.ak, credentials.sk, project_id)
    if credentials.security_token:
        basic = basic.with_security_token(credentials.security_token)
    # Our loop does the retries, inside the deadline; the SDK's own would not know it.
    config = sdk.http_config((3.0, 5.0))
    # The SDK logs connection errors on its own logger; ours reports each once, in the result.
    sdk_logger = logging.getLogger(_SDK_LOGGER)
    if not any(isinstance(handler, logging.NullHandler) for handler in sdk_logger.handlers):
        sdk_logger.addHandler(logging.NullHandler())
    try:
        client = (
            SmnClient.new_builder()
            .with_http_config(config)
            .with_credentials(basic)
            .with_region(region)
            .build()
        )
    except Exception as exc:  # noqa: BLE001 - a client that cannot be built is a failed delivery
        raise PublishSetupError(f"cannot build the SMN client ({type(exc).__name__})") from None
    # Signing in the caller's thread and proxies read once (handler.sdk); the models are kept (message_id).
    return sdk.trim(client, list(region.endpoints or ()), models=True), config


def classify(exc: Exception) -> Attempt:
    """An SDK or transport exception as an attempt: 429, 5xx and connection errors may be retried."""
    from handler.outbound import ClientError, ServiceError, TransportError, from_foreign  # noqa: PLC0415

    error = from_foreign(exc)
    if isinstance(error, ServiceError):
        request_id = f", request {error.request_id}" if error.request_id else ""
        detail = quote_answer(error.message)
        message = f"SMN {error.code or 'error'} (HTTP {error.status or 0}{request_id}): {detail}"
        return Attempt(message, retryable=error.retryable)
    if isinstance(error, TransportError):
        reason = error.message if error.cause.name != "OTHER" else f"cannot reach SMN ({type(exc).__name__})"
        return Attempt(reason, retryable=True)
    if isinstance(error, ClientError):
        return Attempt(f"SMN SDK error ({error.foreign})")
    return Attempt(f"unreadable SMN answer ({error.foreign})")


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
