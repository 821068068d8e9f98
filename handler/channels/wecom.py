"""WeCom (企业微信) group robot: a markdown message of at most 4096 bytes, judged by `errcode`. Pure.

The webhook URL's `key` is the only credential (no signing). The answer is {"errcode": 0, "errmsg":
"ok"} when accepted; e.g. 93000 is an invalid webhook URL, 40058 a content over 4096 bytes, 45009
the 20-per-minute limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel
from handler.channels.digest import Digest
from handler.channels.escape import lookalike_md
from handler.channels.message import Message, display_title, fit, headline, summarize
from handler.channels.protocol import HttpRequest, Verdict, coded_answer, json_bytes

# markdown.content: at most 4096 bytes of UTF-8.
MAX_CONTENT_BYTES = 4096
# 20 messages a minute per robot; over it, errcode 45009 ("api freq out of limit").
RATE_LIMITS: tuple[tuple[int, float], ...] = ((20, 60.0),)
RATE_LIMITED = 45009


def _item_line(tag: str, text: str) -> str:
    return f"- **{lookalike_md(tag)}** {lookalike_md(text)}" if tag else f"- {lookalike_md(text)}"


def _content(message: Message, facts: int, shown: int) -> str:
    status, severity, *rest = headline(message)  # status and severity labels are never empty
    colour = "info" if message.resolved else "warning"
    words = " · ".join(lookalike_md(word) for word in rest)
    lines = [
        f"### {lookalike_md(display_title(message))}",
        f'<font color="{colour}">{lookalike_md(status)} · {lookalike_md(severity)}</font>'
        + (f" · {words}" if words else ""),
        *(f"> **{lookalike_md(fact.label)}**: {lookalike_md(fact.value)}" for fact in message.facts[:facts]),
    ]
    if message.items:
        lines.append(f"**{lookalike_md(message.items_heading)}** ({len(message.items)})")
        lines += [_item_line(item.tag, item.text) for item in message.items[:shown]]
        if shown < len(message.items):
            lines.append(f"- {lookalike_md(message.more(len(message.items) - shown))}")
    if message.note:
        lines.append(lookalike_md(message.note))
    footer = f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}"
    lines.append(f'<font color="comment">{lookalike_md(footer)}</font>')
    return "\n".join(lines)


def _size(content: str) -> int:
    return len(content.encode("utf-8"))


def render(record: Mapping[str, Any], locale: str = "en") -> dict[str, Any]:
    """The markdown message for one record; failed items, then facts, are trimmed to fit 4096 bytes."""
    return render_message(summarize(record, locale))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest fits with every line."""
    message = digest.message
    return _size(_content(message, len(message.facts), len(message.items))) <= MAX_CONTENT_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The markdown message for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def render_message(message: Message) -> dict[str, Any]:
    """The markdown message for a message; items, then facts, are trimmed to fit 4096 bytes."""
    total = len(message.facts)
    content = fit(lambda shown: _content(message, total, shown), len(message.items), _size, MAX_CONTENT_BYTES)
    if _size(content) > MAX_CONTENT_BYTES:
        content = fit(lambda facts: _content(message, facts, 0), total, _size, MAX_CONTENT_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered message (WeCom robots are not signed: the URL's key is the credential)."""
    return HttpRequest(channel.url, json_bytes(payload), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """Accepted only when the body's `errcode` is 0."""
    return coded_answer("WeCom", body, ("errcode",), ("errmsg",), throttle_codes=frozenset({RATE_LIMITED}))
