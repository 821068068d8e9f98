r"""DingTalk custom robot: a markdown message, signed in the query string, judged by `errcode`. Pure.

Signature ("加签"): `timestamp` in milliseconds and
`sign` = urlencode(base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret))), both
appended to the webhook URL. The answer is {"errcode": 0, "errmsg": "ok"} when accepted; 310000 is a
bad or stale signature (or a missing keyword / IP not allowed), 130101 the 20-per-minute limit,
which holds the robot for 10 minutes, so it is not retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.escape import lookalike_md
from handler.channels.message import NOBODY, Message, display_title, fit, headline, marker, summarize
from handler.channels.protocol import HttpRequest, Verdict, coded_answer, json_bytes
from handler.text import clip

# A robot message may be at most 20000 bytes.
MAX_BODY_BYTES = 20_000
# 20 messages a minute per robot; over it, errcode 130101 ("send too fast") and 10 minutes of silence.
RATE_LIMITS: tuple[tuple[int, float], ...] = ((20, 60.0),)
RATE_LIMITED = 130101
# The title is what the conversation list and the notification show.
TITLE_CHARS = 100


def _item_line(tag: str, text: str) -> str:
    return f"- **{lookalike_md(tag)}** {lookalike_md(text)}" if tag else f"- {lookalike_md(text)}"


def mention_text(mention: Mention) -> str:
    """The "@13800000000 @userid" DingTalk shows highlighted for the people `at` names ("" for nobody).

    Mobiles and user ids come from the routing file, checked there ([0-9+-] and [A-Za-z0-9_@.:-]).
    """
    return " ".join(f"@{who}" for who in (*mention.mobiles, *mention.user_ids))


def links_text(message: Message) -> str:
    """The links as markdown links: "[Runbook](https://…) · [Open in console](https://…)"."""
    return " · ".join(f"[{lookalike_md(link.label)}]({link.url})" for link in message.links)


def _text(message: Message, shown: int) -> str:
    status, *rest = headline(message)
    # DingTalk joins single newlines into one paragraph: a blank line separates lines.
    paragraphs = [
        f"### {marker(message)} {lookalike_md(display_title(message))}",
        " · ".join([f"**{lookalike_md(status)}**", *(lookalike_md(word) for word in rest)]),
        *([mention_text(message.mention)] if mention_text(message.mention) else []),
        *(f"**{lookalike_md(fact.label)}**: {lookalike_md(fact.value)}" for fact in message.facts),
        *([links_text(message)] if message.links else []),
    ]
    if message.items:
        lines = [_item_line(item.tag, item.text) for item in message.items[:shown]]
        if shown < len(message.items):
            lines.append(f"- {lookalike_md(message.more(len(message.items) - shown))}")
        paragraphs += [f"**{lookalike_md(message.items_heading)}** ({len(message.items)})", "\n".join(lines)]
    if message.note:
        paragraphs.append(f"> {lookalike_md(message.note)}")
    paragraphs.append(
        f"###### {lookalike_md(message.label('observed_at'))} {lookalike_md(message.observed_at)}"
        f" · {lookalike_md(message.fingerprint)}"
    )
    return "\n\n".join(paragraphs)


def _payload(message: Message, shown: int) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {
            "title": lookalike_md(clip(display_title(message), TITLE_CHARS)),
            "text": _text(message, shown),
        },
        # Only this field makes DingTalk notify people by name or "all": only the receiver's mention.
        "at": {
            "atMobiles": list(message.mention.mobiles),
            "atUserIds": list(message.mention.user_ids),
            "isAtAll": message.mention.all,
        },
    }


def _size(payload: Mapping[str, Any]) -> int:
    return len(json_bytes(payload))


def render_message(message: Message) -> dict[str, Any]:
    """The markdown message for a message, trimmed by items to fit 20000 bytes."""
    return fit(lambda shown: _payload(message, shown), len(message.items), _size, MAX_BODY_BYTES)


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The markdown message for one record, trimmed by failed items to fit 20000 bytes."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest fits with every line."""
    return _size(_payload(digest.message, len(digest.message.items))) <= MAX_BODY_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The markdown message for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def sign(secret: str, timestamp_ms: int) -> str:
    """The robot signature for a timestamp in milliseconds (base64; the query string encodes it)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, now: float) -> str:
    """The webhook URL with `timestamp` and `sign` appended (URL-encoded), at wall-clock time `now`."""
    timestamp_ms = int(now * 1000)
    parts = urlsplit(url)
    kept = parse_qsl(parts.query, keep_blank_values=True)
    query = [(name, value) for name, value in kept if name not in {"timestamp", "sign"}]
    query += [("timestamp", str(timestamp_ms)), ("sign", sign(secret, timestamp_ms))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered message, signed at wall-clock time `now` when the channel has a secret."""
    url = signed_url(channel.url, channel.secret, now) if channel.secret else channel.url
    return HttpRequest(url, json_bytes(payload), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """Accepted only when the body's `errcode` is 0."""
    return coded_answer("DingTalk", body, ("errcode",), ("errmsg",), throttle_codes=frozenset({RATE_LIMITED}))
