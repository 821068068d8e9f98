"""Fan-out: every (record, channel) pair sent concurrently, each ending as one delivery entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from handler.channels import dingtalk, feishu, slack, smn, webhook, wecom
from handler.channels.config import Channel, channel_secrets, redact_url
from handler.channels.context import DeliveryContext
from handler.channels.protocol import HttpRequest, Verdict
from handler.channels.retry import Outcome, Progress
from handler.channels.transport import send_webhook
from handler.threads import DaemonExecutor

# Enough threads for every channel of a few records at once; each mostly waits on the network.
MAX_WORKERS = 16


@dataclass(frozen=True, slots=True)
class WebhookFormat:
    """A chat webhook: how a record is rendered, how the POST is built (signed), how answers are judged."""

    render: Callable[[Mapping[str, Any], str], dict[str, Any]]
    request: Callable[[Channel, Mapping[str, Any], float], HttpRequest]
    judge: Callable[[str], Verdict]


WEBHOOKS: dict[str, WebhookFormat] = {
    "feishu": WebhookFormat(feishu.render, feishu.request, feishu.judge),
    "dingtalk": WebhookFormat(dingtalk.render, dingtalk.request, dingtalk.judge),
    "wecom": WebhookFormat(wecom.render, wecom.request, wecom.judge),
    "slack": WebhookFormat(slack.render, slack.request, slack.judge),
    "webhook": WebhookFormat(webhook.render, webhook.request, webhook.judge),
}


def render(channel_name: str, record: Mapping[str, Any], locale: str = "en") -> dict[str, Any]:
    """The payload a channel would send for a record (for previews and tests); KeyError if unknown."""
    if channel_name == "smn":
        return dict(smn.render(record, locale))
    return WEBHOOKS[channel_name].render(record, locale)


def _send(record: Mapping[str, Any], channel: Channel, ctx: DeliveryContext, progress: Progress) -> Outcome:
    """Render and send one pair; never raises."""
    try:
        if channel.name == "smn":
            from handler.channels.smn_publisher import publish  # noqa: PLC0415 - lazy: loads the SDK

            return publish(channel, smn.render(record, ctx.locale), ctx, progress)
        form = WEBHOOKS.get(channel.name)
        if form is None:
            return Outcome("failed", 0, f"unknown channel {channel.name!r}")
        payload = form.render(record, ctx.locale)
        return send_webhook(
            channel, payload, build=form.request, judge=form.judge, ctx=ctx, progress=progress
        )
    except Exception as exc:  # noqa: BLE001 - one channel's bug must not cost another its message
        return Outcome("failed", progress.attempts, f"internal error while sending ({type(exc).__name__})")


def _scrub(text: str | None, secrets: Sequence[str]) -> str | None:
    """The text with every secret of the channel replaced by ***."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _collect(future: Future[Outcome], progress: Progress, done: set[Future[Outcome]]) -> Outcome:
    """The outcome of a finished send, or what to say about one the deadline cut short."""
    if future in done and not future.cancelled():
        return future.result()
    if progress.attempts == 0:
        return Outcome("skipped", 0, "no time left before the deadline to send")
    return Outcome("failed", progress.attempts, "still sending when the deadline came; gave up waiting")


def _log(log: Any, delivery: Mapping[str, Any], channel: Channel) -> None:
    """One line per delivery: a warning when it failed or was skipped, debug when sent."""
    where = {"topic_urn": channel.topic_urn} if channel.name == "smn" else {"url": redact_url(channel.url)}
    fields = {**delivery, **where}
    try:
        if delivery["status"] == "sent":
            log.debug("delivery.sent", **fields)
        else:
            log.warning("delivery.failed", **fields)
    except Exception:  # noqa: BLE001, S110 - a broken logger must not break the deliveries
        pass


def deliver(
    jobs: Sequence[tuple[Mapping[str, Any], Channel]], ctx: DeliveryContext, log: Any
) -> list[dict[str, Any]]:
    """Send every (record, channel) pair concurrently; one delivery per pair, in order. Never raises.

    Each delivery is {"fingerprint", "channel", "status": sent|failed|skipped, "attempts", "error"}.
    Nothing waits past `ctx.deadline`: a send still running then is reported as failed (or skipped
    if it never started) and left to end on its own timeouts, which are cut to the deadline too.
    """
    pairs = list(jobs)
    if not pairs:
        return []
    progress = [Progress() for _ in pairs]
    executor = DaemonExecutor(max_workers=min(len(pairs), MAX_WORKERS), thread_name_prefix="delivery")
    futures: list[Future[Outcome]] = []
    try:
        for (record, channel), tracker in zip(pairs, progress, strict=True):
            futures.append(executor.submit(_send, record, channel, ctx, tracker))
        done, _ = wait(futures, timeout=ctx.remaining())
    except Exception:  # noqa: BLE001 - e.g. no thread could start: whatever finished still counts
        done = {future for future in futures if future.done()}
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    deliveries: list[dict[str, Any]] = []
    for index, (record, channel) in enumerate(pairs):
        future = futures[index] if index < len(futures) else None
        outcome = _collect(future, progress[index], done) if future else Outcome("skipped", 0, "not started")
        fingerprint = record.get("fingerprint") if isinstance(record, Mapping) else None
        delivery = {
            "fingerprint": fingerprint,
            "channel": channel.name,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "error": _scrub(outcome.error, channel_secrets([channel])),
        }
        _log(log, delivery, channel)
        deliveries.append(delivery)
    return deliveries
