"""Microsoft Teams through a Workflows webhook: an Adaptive Card in a message envelope. Pure.

Teams retired the Office 365 connectors; a Workflows ("Post to a channel when a webhook request is
received") URL takes `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <Adaptive Card>}]}` and answers 202 Accepted.
The URL's `sig` query value is the credential. A Teams message may be at most about 28 KB and the
202 comes before the flow runs, so a card the flow rejects for size would count as sent: the failed
items are trimmed to fit, and every body posted is bounded once more (`bounded`: cut element by
element, with a visible note). A delivery marked sent says so (`SENT_NOTE`). Rate limits (Teams
connectors and Workflows): 4 messages a second and 60 per 30 seconds per webhook, in `RATE_LIMITS`.

Cloud text goes only into TextBlock and FactSet text, which Teams renders as a markdown subset: it is
made inert (look-alike characters for markup, `@` and `<`, and for a list marker at its start), so
nothing in it can mention anyone. Mentions come only from the receiver: one `msteams.entities`
mention per user id (a UPN or Entra object id, as the routing file gives it) with its `<at>id</at>`
in a TextBlock; Teams has no mention of everyone or by mobile through a workflow webhook, so those are
not rendered. Links: the card's `actions`, one `Action.OpenUrl` each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.escape import lookalike_md
from handler.channels.message import (
    ELLIPSIS,
    LABELS,
    NOBODY,
    Message,
    display_title,
    fit,
    headline,
    summarize,
)
from handler.channels.protocol import ACCEPTED, HttpRequest, Verdict, json_answer, json_bytes, quote_answer

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
# Teams' message size limit is about 28 KB; the whole request body is kept under it.
MAX_BODY_BYTES = 28_000
LIMIT_TEXT = "28 KB"
RATE_LIMITS: tuple[tuple[int, float], ...] = ((4, 1.0), (60, 30.0))
# A Workflows webhook answers 202 when it queues the flow run, before the card is posted.
SENT_NOTE = "accepted by the Teams workflow (HTTP 202): not proof it was posted"
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


def mention_entities(mention: Mention) -> list[dict[str, Any]]:
    """One mention entity per user id: `<at>id</at>` in the text names it (the routing file checks ids)."""
    return [
        {"type": "mention", "text": f"<at>{who}</at>", "mentioned": {"id": who, "name": who}}
        for who in mention.user_ids
    ]


def _card(message: Message, shown: int) -> dict[str, Any]:
    colour = RESOLVED_COLOUR if message.resolved else COLOURS.get(message.severity, "Default")
    status, *rest = headline(message)
    body: list[dict[str, Any]] = [
        _block(teams_text(display_title(message)), size="Large", weight="Bolder", color=colour),
        _block(
            " · ".join([f"**{teams_text(status)}**", *(teams_text(word) for word in rest)]), spacing="None"
        ),
    ]
    entities = mention_entities(message.mention)
    if entities:
        body.append(_block(" ".join(entity["text"] for entity in entities), spacing="Small"))
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
    card = _empty_card()
    if entities:
        card["msteams"] = {**card["msteams"], "entities": entities}
    if message.links:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": link.label, "url": link.url} for link in message.links
        ]
    return _envelope({**card, "body": body})


def _empty_card() -> dict[str, Any]:
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": [],
    }


def _envelope(card: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": dict(card)}],
    }


def _bytes(value: Any) -> int:
    """Its length in a body: the compact UTF-8 JSON `json_bytes` sends."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _size(payload: Mapping[str, Any]) -> int:
    return len(json_bytes(payload))


def cut_note(locale: str = "en") -> str:
    """The visible line that ends a card `bounded` had to cut."""
    labels = LABELS.get(locale, LABELS["en"])
    return teams_text(labels["cut_to_fit"].format(channel="Teams", limit=LIMIT_TEXT))


def _cut_text(element: Mapping[str, Any], room: int) -> dict[str, Any] | None:
    """The TextBlock with the longest start of its text (and "…") within `room` bytes; None if none fits."""
    text = element.get("text")
    if not isinstance(text, str):
        return None

    def start(chars: int) -> dict[str, Any]:
        head = text[:chars]
        if head.count("**") % 2:  # never leave our bold markup open: drop the unmatched opener
            opener = head.rfind("**")
            head = head[:opener] + head[opener + 2 :]
        return {**element, "text": head + ELLIPSIS}

    if _bytes(start(0)) > room:
        return None
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _bytes(start(middle)) <= room else (low, middle - 1)
    return start(low)


def _cut_facts(element: Mapping[str, Any], room: int) -> dict[str, Any] | None:
    """The FactSet with the facts that fit within `room` bytes, in order; None if none does."""
    facts = element.get("facts")
    if not isinstance(facts, list):
        return None
    used, kept = _bytes({**element, "facts": []}) - 1, []
    for fact in facts:
        used += _bytes(fact) + 1
        if used > room:
            break
        kept.append(fact)
    return {**element, "facts": kept} if kept else None


def _cut(element: Any, room: int) -> dict[str, Any] | None:
    if not isinstance(element, Mapping):
        return None
    if element.get("type") == "FactSet":
        return _cut_facts(element, room)
    return _cut_text(element, room)


def _card_of(payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The payload's Adaptive Card without its body, and the body (a fresh card if it has none)."""
    try:
        card = payload["attachments"][0]["content"]
        body = card["body"]
    except (KeyError, IndexError, TypeError):
        return _empty_card(), []
    if not isinstance(card, Mapping) or not isinstance(body, list):
        return _empty_card(), []
    return {**card, "body": []}, list(body)


def bounded(payload: Mapping[str, Any], note: str | None = None) -> Mapping[str, Any]:
    """The payload if its body fits Teams' limit; else its card cut to fit, ending with a visible note.

    Body elements are kept in order while they fit; the first that does not is cut (a TextBlock to the
    start of its text, a FactSet to its first facts) or left out, and so is everything after it.
    The result is always a valid card of at most MAX_BODY_BYTES.
    """
    if _size(payload) <= MAX_BODY_BYTES:
        return payload
    card, body = _card_of(payload)
    marker = _block(note or cut_note(), isSubtle=True, weight="Bolder")
    used = _size(_envelope({**card, "body": [marker]}))
    if used > MAX_BODY_BYTES:  # not even its skeleton fits: a plain card with the note
        card = _empty_card()
        used = _size(_envelope({**card, "body": [marker]}))
    kept: list[Any] = []
    for element in body:
        size = _bytes(element) + 1
        if used + size > MAX_BODY_BYTES:
            cut = _cut(element, MAX_BODY_BYTES - used - 1)
            if cut is not None:
                kept.append(cut)
            break
        kept.append(element)
        used += size
    return _envelope({**card, "body": [*kept, marker]})


def render_message(message: Message) -> dict[str, Any]:
    """The Adaptive Card message for a message, trimmed by items (then `bounded`) to fit Teams' limit."""
    card = fit(lambda shown: _card(message, shown), len(message.items), _size, MAX_BODY_BYTES)
    return dict(bounded(card, cut_note(message.locale)))


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The Adaptive Card message for one record, trimmed by failed items to fit Teams' size limit."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's card fits with every pool line."""
    return _size(_card(digest.message, len(digest.message.items))) <= MAX_BODY_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The Adaptive Card for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a card, its body at most MAX_BODY_BYTES (unsigned: the `sig` is the credential)."""
    body = json_bytes(bounded(payload))
    return HttpRequest(channel.url, body, {"Content-Type": "application/json; charset=utf-8"})


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
