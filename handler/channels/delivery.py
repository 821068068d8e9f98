"""Sending: messages planned per channel (one per finding, or digests), paced, never past the deadline.

`plan` turns the findings a channel needs into messages (`Unit`s): one per finding, or — above the
group threshold — digests split to fit the channel. `send_units` sends each channel's messages in
order on a thread of its own, each attempt waiting for a slot within the service's documented limits
(`RATE_LIMITS` beside each channel), and reports one delivery per (finding, channel).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from handler.channels import coc, dingtalk, feishu, slack, smn, teams, webhook, wecom, welink
from handler.channels import digest as digests
from handler.channels.config import Channel, Mention, channel_secrets, shown_channel_url
from handler.channels.context import DeliveryContext
from handler.channels.pacing import Pacer
from handler.channels.protocol import HttpRequest, Verdict
from handler.channels.retry import Outcome, Progress
from handler.channels.transport import send_webhook
from handler.text import more_secrets, redact

DEFAULT_GROUP_THRESHOLD = 3
"""More findings than this for one channel in one run become digests (ELB_WATCH_GROUP_THRESHOLD)."""
OWED = frozenset({"failed", "throttled", "deferred", "skipped"})
"""Every status but `sent`: the channel still needs the notification."""


@dataclass(frozen=True, slots=True)
class WebhookFormat:
    """A chat webhook: how a record is rendered, how the POST is built (signed), how answers are judged."""

    render: Callable[[Mapping[str, Any], str, Mention], dict[str, Any]]
    request: Callable[[Channel, Mapping[str, Any], float], HttpRequest]
    judge: Callable[[str], Verdict]


WEBHOOKS: dict[str, WebhookFormat] = {
    "feishu": WebhookFormat(feishu.render, feishu.request, feishu.judge),
    "dingtalk": WebhookFormat(dingtalk.render, dingtalk.request, dingtalk.judge),
    "wecom": WebhookFormat(wecom.render, wecom.request, wecom.judge),
    "slack": WebhookFormat(slack.render, slack.request, slack.judge),
    "webhook": WebhookFormat(webhook.render, webhook.request, webhook.judge),
    "welink": WebhookFormat(welink.render, welink.request, welink.judge),
    "teams": WebhookFormat(teams.render, teams.request, teams.judge),
}
MODULES: dict[str, ModuleType] = {
    "smn": smn,
    "feishu": feishu,
    "dingtalk": dingtalk,
    "wecom": wecom,
    "slack": slack,
    "webhook": webhook,
    "welink": welink,
    "teams": teams,
    "coc": coc,
}


def rate_limits(channel_name: str) -> tuple[tuple[int, float], ...]:
    """The (messages, per seconds) limits a channel's service documents; none for an unknown channel."""
    module = MODULES.get(channel_name)
    limits: tuple[tuple[int, float], ...] = getattr(module, "RATE_LIMITS", ()) if module else ()
    return limits


def sent_note(channel_name: str) -> str | None:
    """What `sent` means for a channel whose service accepts before it delivers (Teams' 202), else None."""
    module = MODULES.get(channel_name)
    note: str | None = getattr(module, "SENT_NOTE", None) if module else None
    return note


def render(
    channel_name: str, record: Mapping[str, Any], locale: str = "en", mention: Mention | None = None
) -> dict[str, Any]:
    """The payload a channel would send for a record (for previews and tests); KeyError if unknown.

    `mention`: the receiver's, from the routing file (nobody by default).
    """
    if channel_name == "smn":
        return dict(smn.render(record, locale))
    if channel_name == "coc":  # an alarm, not a chat message: nobody to mention
        return coc.render(record, locale)
    return WEBHOOKS[channel_name].render(record, locale, mention or Mention())


@dataclass(frozen=True, slots=True)
class Unit:
    """One message to one channel: about one finding, or a digest (part) about several.

    `payload` is None when rendering failed (`error` says why): the unit is then reported failed.
    """

    channel: Channel
    records: tuple[Mapping[str, Any], ...]
    payload: Mapping[str, Any] | None
    digest: Mapping[str, Any] | None = None
    error: str | None = field(default=None, repr=False)


def _single(channel: Channel, record: Mapping[str, Any], locale: str) -> Unit:
    if channel.type not in MODULES:
        return Unit(channel, (record,), None, error=f"unknown channel {channel.type!r}")
    try:
        return Unit(channel, (record,), render(channel.type, record, locale, channel.mention))
    except Exception as exc:  # noqa: BLE001 - one record's rendering bug must not cost the others
        return Unit(channel, (record,), None, error=f"internal error while rendering ({type(exc).__name__})")


def _digest_units(channel: Channel, records: Sequence[Mapping[str, Any]], locale: str) -> list[Unit]:
    module = MODULES[channel.type]
    units = []
    for whole in digests.build(records, locale, channel.mention):
        for part in digests.split(whole, module.digest_fits):
            about = {"title": part.message.title, "part": part.part, "parts": part.parts}
            units.append(Unit(channel, part.records, module.render_digest(part), about))
    return units


def plan(
    channel: Channel,
    records: Sequence[Mapping[str, Any]],
    *,
    locale: str = "en",
    group_threshold: int = DEFAULT_GROUP_THRESHOLD,
) -> list[Unit]:
    """The messages a channel gets: one per finding, or digests when there are more than the threshold.

    Digests are split to the channel's size limit so that every finding is in exactly one message.
    """
    if not records:
        return []
    singles = channel.type not in MODULES or not getattr(MODULES[channel.type], "DIGESTS", True)
    if len(records) <= group_threshold or singles:
        return [_single(channel, record, locale) for record in records]
    try:
        return _digest_units(channel, records, locale)
    except Exception:  # noqa: BLE001 - a digest bug must not silence the channel: send one by one
        return [_single(channel, record, locale) for record in records]


def _send(unit: Unit, ctx: DeliveryContext, progress: Progress) -> Outcome:
    """Send one rendered unit; never raises."""
    if unit.payload is None:
        return Outcome("failed", 0, unit.error or "nothing to send")
    channel = unit.channel
    try:
        if channel.type == "smn":
            from handler.channels.smn_publisher import publish  # noqa: PLC0415 - lazy: loads the SDK

            return publish(channel, {str(k): str(v) for k, v in unit.payload.items()}, ctx, progress)
        if channel.type == "coc":
            from handler.channels.coc_publisher import publish as report  # noqa: PLC0415 - lazy: loads the SDK

            return report(channel, unit.payload, ctx, progress)
        form = WEBHOOKS.get(channel.type)
        if form is None:
            return Outcome("failed", 0, f"unknown channel {channel.type!r}")
        return send_webhook(
            channel, unit.payload, build=form.request, judge=form.judge, ctx=ctx, progress=progress
        )
    except Exception as exc:  # noqa: BLE001 - one channel's bug must not cost another its message
        return Outcome("failed", progress.attempts, f"internal error while sending ({type(exc).__name__})")


def _scrub(text: str | None, secrets: Sequence[str]) -> str | None:
    """The text with every secret of the channel (and of the run), in every form, replaced by ***."""
    if text is None:
        return None
    scrubbed: str = redact(text, secrets)
    return scrubbed


def _log(log: Any, delivery: Mapping[str, Any], channel: Channel) -> None:
    """One line per delivery: debug when sent, a warning when still owed.

    `delivery.deferred` when it was not tried (no time or rate-limit slot left), else `delivery.failed`.
    """
    if channel.type == "smn":
        where = {"topic_urn": channel.topic_urn}
    elif channel.type == "coc":  # the integration key is a secret: only the intake's region is shown
        where = {"coc_region": channel.region}
    else:
        where = {"url": shown_channel_url(channel.url)}
    fields = {**delivery, **where}
    try:
        if delivery["status"] == "sent":
            log.debug("delivery.sent", **fields)
        elif delivery["status"] == "deferred":  # not tried: no time or rate-limit slot left this run
            log.warning("delivery.deferred", **fields)
        else:
            log.warning("delivery.failed", **fields)
    except Exception:  # noqa: BLE001, S110 - a broken logger must not break the deliveries
        pass


class _Lane:
    """One channel's messages, sent in order on a thread of its own."""

    def __init__(self, units: list[tuple[int, Unit]], pacer: Pacer, ctx: DeliveryContext) -> None:
        self.units = units
        self.pacer = pacer
        self.ctx = ctx
        self.outcomes: dict[int, Outcome] = {}
        self.progress: dict[int, Progress] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        """Send the lane's units in order, scrubbing with the run's secrets and the channels' own.

        An error is cut (to quote a service's answer) where it is made, in this thread: registering the
        channel's secrets here makes that cut come after the scrub even when the caller registered none.
        """
        with more_secrets(channel_secrets({unit.channel for _, unit in self.units})):
            self._run()

    def _run(self) -> None:
        throttled: str | None = None
        for index, unit in self.units:
            progress = Progress(self.pacer)
            with self.lock:
                self.progress[index] = progress
            if throttled is not None:
                outcome = Outcome("deferred", 0, f"not sent: {throttled}")
            else:
                outcome = _send(unit, self.ctx, progress)
                if outcome.status == "throttled":
                    throttled = "the service throttled an earlier message of this run"
            with self.lock:
                self.outcomes[index] = outcome

    def outcome(self, index: int) -> Outcome:
        with self.lock:
            done = self.outcomes.get(index)
            progress = self.progress.get(index)
        if done is not None:
            return done
        if progress is None or progress.attempts == 0:
            return Outcome("deferred", 0, "no time left before the deadline to send; owed to the next run")
        return Outcome("failed", progress.attempts, "still sending when the deadline came; gave up waiting")


def send_units(
    units: Sequence[Unit],
    ctx: DeliveryContext,
    log: Any,
    pacers: Mapping[str, Pacer] | None = None,
) -> list[list[dict[str, Any]]]:
    """Send the units, each channel on its own daemon thread; per unit, one delivery per record. Never raises.

    A delivery is {"fingerprint", "channel", "receiver", "status", "attempts", "error"} (+ "digest" for
    a digest part, + "note" when `sent` means less than delivered: Teams' 202 only says the flow accepted it).
    Status `sent`, or one of `failed`, `throttled`, `deferred`: all three are still owed. Nothing
    waits past `ctx.deadline`; a thread still sending then ends on its own timeouts (cut to the
    deadline too) and never keeps the process alive.
    """
    pacers = dict(pacers or {})
    by_channel: dict[str, list[tuple[int, Unit]]] = {}
    for index, unit in enumerate(units):
        by_channel.setdefault(unit.channel.name, []).append((index, unit))
    lanes: dict[str, _Lane] = {}
    threads = []
    for name, mine in by_channel.items():
        pacer = pacers.get(name) or Pacer(
            rate_limits(mine[0][1].channel.type), wall_clock=ctx.wall_clock, clock=ctx.clock, sleep=ctx.sleep
        )
        lanes[name] = _Lane(mine, pacer, ctx)
        # In a copy of the caller's context: the lane's log lines and cut errors scrub the run's secrets.
        run_in_context = contextvars.copy_context().run
        thread = threading.Thread(
            target=run_in_context, args=(lanes[name].run,), name=f"delivery-{name}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread could start: run it here, still inside the deadline
            lanes[name].run()
            continue
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=ctx.remaining())
    results: list[list[dict[str, Any]]] = []
    for index, unit in enumerate(units):
        entries = _unit_deliveries(unit, lanes[unit.channel.name].outcome(index))
        if entries:
            _log(log, {**entries[0], "findings": len(entries)} if unit.digest else entries[0], unit.channel)
        results.append(entries)
    return results


def _unit_deliveries(unit: Unit, outcome: Outcome) -> list[dict[str, Any]]:
    """One delivery per record of a unit, as its lane's outcome says (scrubbed of its channel's secrets)."""
    entries = []
    for record in unit.records:
        fingerprint = record.get("fingerprint") if isinstance(record, Mapping) else None
        delivery: dict[str, Any] = {
            "fingerprint": fingerprint,
            "channel": unit.channel.type,
            "receiver": unit.channel.name,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "error": _scrub(outcome.error, channel_secrets([unit.channel])),
        }
        if unit.digest is not None:
            delivery["digest"] = dict(unit.digest)
        note = sent_note(unit.channel.type) if outcome.status == "sent" else None
        if note is not None:
            delivery["note"] = note
        entries.append(delivery)
    return entries


def deliver(
    jobs: Sequence[tuple[Mapping[str, Any], Channel]], ctx: DeliveryContext, log: Any
) -> list[dict[str, Any]]:
    """Send every (record, channel) pair as its own message, paced; one delivery per pair, in order.

    Never raises; nothing waits past `ctx.deadline` (see `send_units`).
    """
    pairs = list(jobs)
    if not pairs:
        return []
    locale = ctx.locale
    units = [_single(channel, record, locale) for record, channel in pairs]
    return [entries[0] for entries in send_units(units, ctx, log)]


def dispatch(
    pairs: Sequence[tuple[Mapping[str, Any], Channel]],
    ctx: DeliveryContext,
    log: Any,
    *,
    group_threshold: int = DEFAULT_GROUP_THRESHOLD,
    pacers: Mapping[str, Pacer] | None = None,
) -> list[dict[str, Any]]:
    """Stages group + pace + deliver: per channel, the findings planned into messages and sent paced.

    One delivery per pair, in the pairs' order. A channel with more than `group_threshold` findings
    gets digests; a digest part is delivered for all its findings or none.
    """
    lanes: dict[str, tuple[Channel, list[Mapping[str, Any]]]] = {}
    for record, channel in pairs:
        lanes.setdefault(channel.name, (channel, []))[1].append(record)
    units = [
        unit
        for channel, records in lanes.values()
        for unit in plan(channel, records, locale=ctx.locale, group_threshold=group_threshold)
    ]
    answers: dict[tuple[str, int], dict[str, Any]] = {}
    for unit, entries in zip(units, send_units(units, ctx, log, pacers), strict=True):
        for record, entry in zip(unit.records, entries, strict=True):
            answers[(unit.channel.name, id(record))] = entry
    missing = {"status": "failed", "attempts": 0, "error": "the channel layer planned no message for it"}
    return [
        answers.get((channel.name, id(record)))
        or {
            "fingerprint": record.get("fingerprint"),
            "channel": channel.type,
            "receiver": channel.name,
            **missing,
        }
        for record, channel in pairs
    ]
