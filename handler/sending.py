"""Stages pace and deliver: the channel layer the notification pipeline calls (`pipeline.Send`).

Sending groups the pairs into digests, paces each channel with the send history earlier invocations
left in the store, and sends; `--dry-run` plans and renders exactly the same messages and sends none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handler.config import resolve_project_id
from handler.domain import Notification
from handler.pipeline import Pair, Send
from handler.state import StoreUnavailable
from handler.wiring import WARM, Wiring

if TYPE_CHECKING:
    from handler.run_context import RunContext

# Kept after the deliveries for the summary log line and returning the result.
DELIVERY_MARGIN_SECONDS = 0.5


def channel_layer(run: RunContext, wiring: Wiring) -> Send:
    """The pipeline's deliver stage for this run: real sends, or a dry run's renderings."""
    channels = {channel.name: channel for channel in wiring.channels}
    if wiring.dry_run:
        return lambda pairs: dry_send(pairs, channels, run, wiring)
    return lambda pairs: send(pairs, channels, run, wiring)


def send(
    pairs: list[Pair], channels: Mapping[str, Any], run: RunContext, wiring: Wiring
) -> list[dict[str, Any]]:
    """Group, pace (with the store's send history) and send the pairs; one delivery per pair."""
    from handler.channels import DeliveryContext, dispatch  # noqa: PLC0415 - only when there is something to send

    context = DeliveryContext(
        deadline=run.deadline - DELIVERY_MARGIN_SECONDS,
        locale=run.settings.locale,
        credentials=run.credentials,
        project_id=resolve_project_id(None, run.platform, run.env) or "",
        connect_timeout=run.settings.connect_timeout,
        read_timeout=run.settings.read_timeout,
        max_attempts=run.settings.max_attempts,
        retry_base=run.settings.retry_base,
        sdk_clients=WARM.smn_clients,
    )
    names = list(dict.fromkeys(name for _, name in pairs))
    kept = pacers([channels[name] for name in names], context, wiring)
    try:
        # The channels' payloads are an edge: each renders the v1 record.
        deliveries: list[dict[str, Any]] = dispatch(
            [(notification.to_record(), channels[name]) for notification, name in pairs],
            context,
            run.log,
            group_threshold=wiring.group_threshold,
            pacers=kept,
        )
    finally:
        keep_pace(kept, wiring)
    return deliveries


def dry_send(
    pairs: list[tuple[Notification, str]], channels: Mapping[str, Any], run: RunContext, wiring: Wiring
) -> list[dict[str, Any]]:
    """`--dry-run`'s deliver stage: plan and render each channel's messages exactly, send nothing."""
    from handler.channels.delivery import plan  # noqa: PLC0415 - only when there is something to show

    converted = [(notification.to_record(), name) for notification, name in pairs]
    lanes: dict[str, list[dict[str, Any]]] = {}
    for record, name in converted:
        lanes.setdefault(name, []).append(record)
    answers: dict[tuple[str, int], Mapping[str, Any]] = {}
    for name, records in lanes.items():
        units = plan(
            channels[name], records, locale=run.settings.locale, group_threshold=wiring.group_threshold
        )
        for unit in units:
            for rendered in unit.records:
                entry: dict[str, Any] = {
                    "fingerprint": rendered.get("fingerprint"),
                    "channel": channels[name].type,
                    "receiver": name,
                    "status": "dry_run" if unit.payload is not None else "failed",
                    "attempts": 0,
                    "error": "dry run: rendered, not sent" if unit.payload is not None else unit.error,
                }
                if unit.digest is not None:
                    entry["digest"] = dict(unit.digest)
                answers[(name, id(rendered))] = entry
    run.log.info("delivery.dry_run", messages=len(pairs))
    return [dict(answers[(name, id(record))]) for record, name in converted]


def pacers(receivers: list[Any], context: Any, wiring: Wiring) -> dict[str, Any]:
    """One pacer per receiver, carrying the send history earlier invocations left in the store.

    Each receiver is paced on its own: the services' limits are per robot or webhook.
    """
    from handler.channels.delivery import rate_limits  # noqa: PLC0415 - only when sending
    from handler.channels.pacing import Pacer, decode_history  # noqa: PLC0415 - only when sending

    found = {}
    for receiver in receivers:
        name = receiver.name
        limits = rate_limits(receiver.type)
        history: list[float] = []
        if limits and wiring.store is not None:
            with contextlib.suppress(StoreUnavailable):
                history = decode_history(wiring.store.recall(f"pace:{name}"))
        found[name] = Pacer(limits, history=history, wall_clock=context.wall_clock)
    return found


def keep_pace(kept: Mapping[str, Any], wiring: Wiring) -> None:
    """Leave each channel's recent sends in the store, so the next invocation stays within the limits."""
    from handler.channels.pacing import encode_history  # noqa: PLC0415 - only when sending

    if wiring.store is None:
        return
    for name, pacer in kept.items():
        history = pacer.history()
        if history:
            with contextlib.suppress(StoreUnavailable):
                wiring.store.remember(f"pace:{name}", encode_history(history), pacer.horizon)
