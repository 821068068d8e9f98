"""Slack incoming webhook: Block Kit (header + sections) with a `text` fallback. Pure.

Cloud text only ever goes into `plain_text` objects (never parsed as mrkdwn) with &, < and >
escaped, so it can neither format the message nor mention (<!channel>, <@U…>) anyone. Limits: header
text 150 characters, section text 3000, a field 2000, 10 fields per section, 50 blocks. The answer is
HTTP 200 with the body "ok"; errors are 4xx/5xx with a short code (invalid_payload, no_service, …).

Mentions: `<@U…>` per user id and `<!channel>` for everyone, in a mrkdwn section of their own (the
ids come from the routing file; mobiles are not a Slack mention). Links: an `actions` block of
`button` elements with `url` (button text at most 75 characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.escape import slack_text
from handler.channels.message import NOBODY, Message, display_title, fit, headline, marker, summarize
from handler.channels.protocol import ACCEPTED, HttpRequest, Verdict, json_bytes, quote_answer
from handler.text import clip

HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
BUTTON_CHARS = 75
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
# Incoming webhooks: about one message a second (short bursts allowed); over it, HTTP 429 + Retry-After.
RATE_LIMITS: tuple[tuple[int, float], ...] = ((1, 1.0),)


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object holding `text` escaped and clipped to `limit` characters as sent."""
    return {
        "type": "plain_text",
        "text": slack_text(clip(text, limit, one_line=False, measure=lambda s: len(slack_text(s)))),
    }


def _items_text(message: Message, shown: int) -> str:
    lines = [
        f"• [{item.tag}] {item.text}" if item.tag else f"• {item.text}" for item in message.items[:shown]
    ]
    if shown < len(message.items):
        lines.append(f"• {message.more(len(message.items) - shown)}")
    return "\n".join(lines)


def mention_text(mention: Mention) -> str:
    """`<@U…>` per user id and `<!channel>` for everyone ("" for nobody)."""
    return " ".join([*(f"<@{who}>" for who in mention.user_ids), *(["<!channel>"] if mention.all else [])])


def _buttons(message: Message) -> dict[str, Any]:
    elements = [
        {
            "type": "button",
            "text": _plain(link.label, BUTTON_CHARS),
            "url": link.url,
            "action_id": f"link-{n}",
        }
        for n, link in enumerate(message.links)
    ]
    return {"type": "actions", "elements": elements}


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The Block Kit message for one record, trimmed by failed items to Slack's block limits."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's lines fit the items section whole."""
    message = digest.message
    return len(slack_text(_items_text(message, len(message.items)))) <= SECTION_CHARS


def render_digest(digest: Digest) -> dict[str, Any]:
    """The Block Kit message for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def render_message(message: Message) -> dict[str, Any]:
    """The Block Kit message for a message, trimmed by items to Slack's block limits."""
    status, *rest = headline(message)
    header = {**_plain(f"{marker(message)} {display_title(message)}", HEADER_CHARS), "emoji": True}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": header},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"*{slack_text(status)}*"},
                _plain(" · ".join(rest), 300),
            ],
        },
    ]
    if mention_text(message.mention):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": mention_text(message.mention)}})
    fields: list[dict[str, Any]] = []
    for fact in message.facts:
        fields += [{"type": "mrkdwn", "text": f"*{slack_text(fact.label)}*"}, _plain(fact.value, FIELD_CHARS)]
    blocks.extend(
        {"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]}
        for start in range(0, len(fields), FIELDS_PER_SECTION)
    )
    if message.links:
        blocks.append(_buttons(message))
    if message.items:
        heading = f"*{slack_text(message.items_heading)}* ({len(message.items)})"
        items = fit(
            lambda shown: _items_text(message, shown),
            len(message.items),
            lambda text: len(slack_text(text)),
            SECTION_CHARS,
        )
        blocks += [
            {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
            {"type": "section", "text": _plain(items, SECTION_CHARS)},
        ]
    if message.note:
        blocks.append({"type": "context", "elements": [_plain(message.note, 300)]})
    footer = f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}"
    blocks.append({"type": "context", "elements": [_plain(footer, 300)]})
    return {
        "text": slack_text(display_title(message)),
        "mrkdwn": False,
        "unfurl_links": False,
        "unfurl_media": False,
        "blocks": blocks[:MAX_BLOCKS],
    }


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered message (incoming webhooks are not signed: the URL is the credential)."""
    return HttpRequest(channel.url, json_bytes(payload), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """Accepted only when the body is "ok"."""
    if body.strip() == "ok":
        return ACCEPTED
    return Verdict(f"Slack answered {quote_answer(body)!r} instead of 'ok'")
