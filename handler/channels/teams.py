"""Microsoft Teams through a Workflows webhook: an Adaptive Card in a message envelope. Pure.

Teams retired the Office 365 connectors; a Workflows ("Post to a channel when a webhook request is
received") URL takes `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <Adaptive Card>}]}` and answers 202 Accepted.
The URL's `sig` query value is the credential. A Teams message may be at most about 28 KB, so the
failed items are trimmed to fit. Rate limits (Teams connectors and Workflows): 4 messages a second
and 60 per 30 seconds per webhook, in `RATE_LIMITS`.

Cloud text goes only into TextBlock and FactSet text, which Teams renders as a markdown subset: it is
made inert (look-alike characters for markup, `@` and `<`, and for a list marker at its start), and no
`msteams.entities` are sent, so nothing can mention anyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel
from handler.channels.digest import Digest
from handler.channels.escape import lookalike_md
from handler.channels.message import Message, display_title, fit, headline, summarize
from handler.channels.protocol import ACCEPTED, HttpRequest, Verdict, json_answer, json_bytes, quote_answer

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
# Teams' message size limit is about 28 KB; the whole request body is kept under it.
MAX_BODY_BYTES = 28_000
RATE_LIMITS: tuple[tuple[int, float], ...] = ((4, 1.0), (60, 30.0))
# TextBlock colours by severity; a resolved record is Good (green).
COLOURS = {"critical": "Attention", "major": "Warning", "warning": "Warning", "info": "Accent"}
RESOLVED_COLOUR = "Good"
# A line starting "- ", "+ ", "* " or "1. " would become a list.
_LIST_START = re.compile(r"^(\s*)([-+*]|\d+[.)])(?=\s)")


_MARKER_LOOKALIKES = {"-": "\u2010", "+": "\uff0b", "*": "\u2217", ".": "\u2024", ")": "\uff09"}


def _unlist(match: re.Match[str]) -> str:
    marker = match.group(2)
    return match.group(1) + marker[:-1] + _MARKER_LOOKALIKES[marker[-1]]


def teams_text(text: str) -> str:
    """Text that Teams' markdown shows as written: no emphasis, link, list, HTML or mention."""
    return _LIST_START.sub(_unlist, lookalike_md(text))


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(message: Message, shown: int) -> dict[str, Any]:
    colour = RESOLVED_COLOUR if message.resolved else COLOURS.get(message.severity, "Default")
    status, *rest = headline(message)
    body: list[dict[str, Any]] = [
        _block(teams_text(display_title(message)), size="Large", weight="Bolder", color=colour),
        _block(
            " · ".join([f"**{teams_text(status)}**", *(teams_text(word) for word in rest)]), spacing="None"
        ),
    ]
    if message.facts:
        facts = [{"title": teams_text(fact.label), "value": teams_text(fact.value)} for fact in message.facts]
        body.append({"type": "FactSet", "facts": facts})
    if message.items:
        body.append(_block(f"**{teams_text(message.items_heading)}** ({len(message.items)})", separator=True))
        for item in message.items[:shown]:
            tag = f"**{teams_text(item.tag)}** " if item.tag else ""
            body.append(_block(f"\u2022 {tag}{teams_text(item.text)}", spacing="Small"))
        if shown < len(message.items):
            body.append(
                _block(f"\u2022 {teams_text(message.more(len(message.items) - shown))}", spacing="Small")
            )
    if message.note:
        body.append(_block(teams_text(message.note), isSubtle=True))
    footer = f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}"
    body.append(_block(teams_text(footer), isSubtle=True, size="Small"))
    card = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def _size(payload: Mapping[str, Any]) -> int:
    return len(json_bytes(payload))


def render_message(message: Message) -> dict[str, Any]:
    """The Adaptive Card message for a message, trimmed by items to fit Teams' size limit."""
    return fit(lambda shown: _card(message, shown), len(message.items), _size, MAX_BODY_BYTES)


def render(record: Mapping[str, Any], locale: str = "en") -> dict[str, Any]:
    """The Adaptive Card message for one record, trimmed by failed items to fit Teams' size limit."""
    return render_message(summarize(record, locale))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's card fits with every pool line."""
    return _size(_card(digest.message, len(digest.message.items))) <= MAX_BODY_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The Adaptive Card for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered card (not signed: the URL's `sig` is the credential)."""
    return HttpRequest(channel.url, json_bytes(payload), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """A 2xx is accepted, unless the body reports an error (a connector's 200 "delivery failed" text)."""
    text = body.strip()
    if text.startswith("Webhook message delivery failed"):
        return Verdict(f"Teams answered {quote_answer(text)!r}", retryable="429" in text)
    answer = json_answer(text) if text.startswith("{") else None
    if answer is not None and isinstance(answer.get("error"), Mapping):
        error = answer["error"]
        return Verdict(f"Teams error {error.get('code', '?')}: {quote_answer(str(error.get('message', '')))}")
    return ACCEPTED
