"""WeCom (企业微信) group robot: a markdown message of at most 4096 bytes, judged by `errcode`. Pure.

Mentions: the `markdown` type mentions a member only by `<@userid>` in its content (it ignores
`mentioned_list` and cannot mention everyone); `mentioned_list` (user ids, "@all") and
`mentioned_mobile_list` exist only in the `text` type (content at most 2048 bytes). So a receiver whose
mention is only user ids gets markdown with `<@userid>`; one that mentions mobiles or everyone gets the
`text` type, plain, with those lists, since only that type honours them. Links are markdown links (in
text: "label: URL" lines).

The webhook URL's `key` is the only credential (no signing). The answer is {"errcode": 0, "errmsg":
"ok"} when accepted; e.g. 93000 is an invalid webhook URL, 40058 a content over 4096 bytes, 45009
the 20-per-minute limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.escape import lookalike_md
from handler.channels.message import NOBODY, Message, display_title, fit, headline, summarize
from handler.channels.protocol import HttpRequest, Verdict, coded_answer, json_bytes

# markdown.content: at most 4096 bytes of UTF-8; text.content: at most 2048.
MAX_CONTENT_BYTES = 4096
MAX_TEXT_BYTES = 2048
# In the text type, "@…" is shown as written but only the lists mention: a look-alike keeps it plain.
_NO_AT = str.maketrans({"@": "\uff20"})
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
    if message.mention.user_ids:  # the routing file's ids, checked there: [A-Za-z0-9_@.:-]
        lines.append(" ".join(f"<@{who}>" for who in message.mention.user_ids))
    if message.links:
        lines.append(" · ".join(f"[{lookalike_md(link.label)}]({link.url})" for link in message.links))
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


def _plain_content(message: Message, facts: int, shown: int) -> str:
    """The text type's content: the same lines, plain (no markup in the text type)."""
    lines = [display_title(message), " · ".join(headline(message))]
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts[:facts]]
    lines += [f"{link.label}: {link.url}" for link in message.links]
    if message.items:
        lines.append(f"{message.items_heading} ({len(message.items)}):")
        lines += [f"- [{i.tag}] {i.text}" if i.tag else f"- {i.text}" for i in message.items[:shown]]
        if shown < len(message.items):
            lines.append(f"- {message.more(len(message.items) - shown)}")
    if message.note:
        lines.append(message.note)
    lines.append(f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}")
    return "\n".join(lines).translate(_NO_AT)


def _text_message(message: Message) -> dict[str, Any]:
    """The text type, the only one whose mention lists WeCom honours (mobiles, "@all")."""
    total = len(message.facts)
    content = fit(
        lambda shown: _plain_content(message, total, shown), len(message.items), _size, MAX_TEXT_BYTES
    )
    if _size(content) > MAX_TEXT_BYTES:
        content = fit(lambda facts: _plain_content(message, facts, 0), total, _size, MAX_TEXT_BYTES)
    mention = message.mention
    return {
        "msgtype": "text",
        "text": {
            "content": content,
            "mentioned_list": [*mention.user_ids, *(["@all"] if mention.all else [])],
            "mentioned_mobile_list": list(mention.mobiles),
        },
    }


def uses_text(message: Message) -> bool:
    """Whether the message goes as the text type: its mention names mobiles or everyone."""
    return bool(message.mention.mobiles or message.mention.all)


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The markdown message for one record; failed items, then facts, are trimmed to fit 4096 bytes."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest fits with every line."""
    message = digest.message
    if uses_text(message):
        return _size(_plain_content(message, len(message.facts), len(message.items))) <= MAX_TEXT_BYTES
    return _size(_content(message, len(message.facts), len(message.items))) <= MAX_CONTENT_BYTES


def render_digest(digest: Digest) -> dict[str, Any]:
    """The markdown message for a digest (one that `digest_fits`)."""
    return render_message(digest.message)


def render_message(message: Message) -> dict[str, Any]:
    """The markdown message for a message; items, then facts, are trimmed to fit 4096 bytes.

    The text type instead when the mention names mobiles or everyone (see the module docstring).
    """
    if uses_text(message):
        return _text_message(message)
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
