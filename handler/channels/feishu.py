r"""Feishu/Lark custom bot: an interactive card, signed in the body, judged by the body's `code`. Pure.

Signature (custom bot "signature verification"): `timestamp` in seconds and
`sign` = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty)), both in the JSON body.
The answer is {"code": 0, "msg": "success", ...} when accepted; e.g. 19021 is a bad or stale
signature, 11232 the bot's rate limit.

Mentions: `<at id=ou_…></at>` per user id (open_id or user_id) and `<at id=all></at>` in a markdown
element of the card, the only place a card mentions (mobiles are not a Feishu mention). Links: an
`action` element of buttons, each with its `url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.escape import lark_md
from handler.channels.message import NOBODY, Message, display_title, fit, headline, summarize
from handler.channels.protocol import HttpRequest, Verdict, coded_answer, json_bytes

# A custom bot takes request bodies of at most 20 KB.
MAX_BODY_BYTES = 20_000
# Room kept for the "timestamp" and "sign" fields added when the card is sent.
SIGNATURE_BYTES = 120
RATE_LIMITED = 11232
# Custom bot limits: 5 messages a second and 100 a minute (over them: code 11232, "frequency limited").
RATE_LIMITS: tuple[tuple[int, float], ...] = ((5, 1.0), (100, 60.0))
TEMPLATES = {"critical": "red", "major": "orange", "warning": "yellow", "info": "blue"}
RESOLVED_TEMPLATE = "green"


def _item_line(tag: str, text: str) -> str:
    return f"- **{lark_md(tag)}** {lark_md(text)}" if tag else f"- {lark_md(text)}"


def mention_tags(mention: Mention) -> str:
    """`<at id=ou_…></at>` per user id and `<at id=all></at>`: how a card mentions ("" for nobody).

    The ids come from the routing file, checked there ([A-Za-z0-9_@.:-]), so none can close the tag.
    """
    tags = [f"<at id={who}></at>" for who in mention.user_ids]
    return " ".join([*tags, "<at id=all></at>"] if mention.all else tags)


def _buttons(message: Message) -> dict[str, Any]:
    actions = [
        {
            "tag": "button",
            "text": {"tag": "plain_text", "content": link.label},
            "type": "default",
            "url": link.url,
        }
        for link in message.links
    ]
    return {"tag": "action", "actions": actions}


def _card(message: Message, shown: int) -> dict[str, Any]:
    status, *rest = headline(message)
    status_line = " · ".join([f"**{lark_md(status)}**", *(lark_md(word) for word in rest)])
    facts = "\n".join(f"**{lark_md(fact.label)}**: {lark_md(fact.value)}" for fact in message.facts)
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": status_line}]
    if mention_tags(message.mention):
        elements.append({"tag": "markdown", "content": mention_tags(message.mention)})
    if facts:
        elements.append({"tag": "markdown", "content": facts})
    if message.links:
        elements.append(_buttons(message))
    if message.items:
        lines = [f"**{lark_md(message.items_heading)}** ({len(message.items)})"]
        lines += [_item_line(item.tag, item.text) for item in message.items[:shown]]
        if shown < len(message.items):
            lines.append(f"- {lark_md(message.more(len(message.items) - shown))}")
        elements += [{"tag": "hr"}, {"tag": "markdown", "content": "\n".join(lines)}]
    if message.note:
        elements.append({"tag": "markdown", "content": lark_md(message.note)})
    footer = f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}"
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": footer}]})
    template = RESOLVED_TEMPLATE if message.resolved else TEMPLATES.get(message.severity, "grey")
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": template,
                "title": {"tag": "plain_text", "content": display_title(message)},
            },
            "elements": elements,
        },
    }


def _size(payload: Mapping[str, Any]) -> int:
    return len(json_bytes(payload)) + SIGNATURE_BYTES


def render_message(message: Message) -> dict[str, Any]:
    """The card for a message, trimmed by items to fit the custom bot's body limit."""
    return fit(lambda shown: _card(message, shown), len(message.items), _size, MAX_BODY_BYTES)


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The card for one record, trimmed by failed items to fit the custom bot's body limit."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's card fits with every line."""
    return _size(_card(digest.message, len(digest.message.items))) <= MAX_BODY_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The card for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def sign(secret: str, timestamp: int) -> str:
    """The custom bot signature for a timestamp in seconds."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered card, signed at wall-clock time `now` when the channel has a secret."""
    body = dict(payload)
    if channel.secret:
        timestamp = int(now)
        body = {"timestamp": str(timestamp), "sign": sign(channel.secret, timestamp), **body}
    return HttpRequest(channel.url, json_bytes(body), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """Accepted only when the body's `code` (or the legacy `StatusCode`) is 0."""
    codes, messages = ("code", "StatusCode"), ("msg", "StatusMessage")
    return coded_answer("Feishu", body, codes, messages, throttle_codes=frozenset({RATE_LIMITED}))
