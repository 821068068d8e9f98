"""WeLink group robot (群 webhook 机器人): a plain-text message of 1-500 characters, judged by `code`. Pure.

POST `…/api/werobot/v1/webhook/send?token=<token>&channel=standard` with `{"messageType": "text",
"content": {"text": …}, "timeStamp": <ms, valid 10 minutes>, "uuid": <new for every call>, "isAt":
false, "isAtAll": false}`. The token in the URL is the only credential (the robot may also have an
IP allow-list). The answer is `{"code": "0", "data": "success", "message": "ok"}` when accepted;
58404 the robot does not exist, 58500 a WeLink service error, 58601 a bad parameter, 58602 the robot
is not enabled.

Mentions: `isAt` with `atAccounts` (the receiver's user ids, WeLink accounts, at most AT_ACCOUNTS)
and `isAtAll` for everyone, only from the routing file; mobiles are not a WeLink mention. Links:
"label: URL" lines right after the failed items, kept whole or left out within the 500 characters.

Rate limit: WeLink documents none for group robots, so this channel assumes a conservative one
(1 message a second, 20 a minute, like its DingTalk/WeCom peers) in `RATE_LIMITS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from handler.channels.config import Channel, Mention
from handler.channels.digest import Digest
from handler.channels.message import NOBODY, Message, display_title, headline, summarize
from handler.channels.protocol import ACCEPTED, HttpRequest, Verdict, json_answer, json_bytes, quote_answer
from handler.text import clip

# content.text: 1..500 characters (counted as UTF-16 units, as a Java service counts them).
MAX_TEXT_CHARS = 500
# Not documented by WeLink: a conservative choice (see the module docstring).
RATE_LIMITS: tuple[tuple[int, float], ...] = ((1, 1.0), (20, 60.0))
ERRORS = {
    "58404": ("the robot does not exist: check the token in ELB_WATCH_WELINK_WEBHOOK", False),
    "58500": ("WeLink service error", True),
    "58601": ("WeLink rejected a parameter of the message", False),
    "58602": ("the robot is not enabled in its WeLink group", False),
}
# How many accounts one message mentions (a conservative cap: WeLink's page does not say more).
AT_ACCOUNTS = 10
# "@all", "@所有人" or "@<userid>" could be highlighted as a mention; a fullwidth @ never is.
_NO_MENTION = str.maketrans({"@": "\uff20"})


def text_length(text: str) -> int:
    """The length WeLink counts: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _safe(text: str) -> str:
    return text.translate(_NO_MENTION)


def _lines(message: Message) -> tuple[list[str], list[str], list[str]]:
    """(head, failed items, the rest): the order in which lines are kept when space runs out.

    The title already names the failed master, so its reason and the failed check items come before
    the master's address and the other facts.
    """
    reason_label = message.label("master_reason")
    head = [display_title(message), " · ".join(headline(message))]
    head += [f"{fact.label}: {fact.value}" for fact in message.facts if fact.label == reason_label]
    items = [f"- [{item.tag}] {item.text}" if item.tag else f"- {item.text}" for item in message.items]
    if items:
        items.insert(0, f"{message.items_heading} ({len(message.items)}):")
    rest = [f"{link.label}: {link.url}" for link in message.links]
    rest += [f"{fact.label}: {fact.value}" for fact in message.facts if fact.label != reason_label]
    if message.note:
        rest.append(message.note)
    rest.append(f"{message.label('observed_at')} {message.observed_at} · {message.fingerprint}")
    return [_safe(line) for line in head], [_safe(line) for line in items], [_safe(line) for line in rest]


def _fits(lines: list[str], measure: Callable[[str], int]) -> bool:
    return measure("\n".join(lines)) <= MAX_TEXT_CHARS


def compose(message: Message) -> str:
    """The text within 500 characters, by whole lines.

    The title and the master's reason, then the failed items in order until one does not fit ("… and
    N more" says how many were left out), then whatever else fits.
    """
    head, items, rest = _lines(message)
    lines: list[str] = []

    def add(line: str) -> bool:
        if _fits([*lines, line], text_length):
            lines.append(line)
            return True
        return False

    if not add(head[0]):
        return clip(head[0], MAX_TEXT_CHARS, one_line=False, measure=text_length)
    for line in head[1:]:
        add(line)
    if items and add(items[0]):
        shown = 0
        for line in items[1:]:
            if not add(line):
                break
            shown += 1
        hidden = len(items) - 1 - shown
        while hidden:
            more = _safe(message.more(hidden))
            if add(more):
                break
            if shown == 0:  # not even the count fits after the heading: drop the heading
                lines.pop()
                break
            lines.pop()
            shown, hidden = shown - 1, hidden + 1
    for line in rest:
        add(line)
    return "\n".join(lines)


def render_message(message: Message) -> dict[str, Any]:
    """The text message for a message (timeStamp and uuid are added per call, in `request`)."""
    return {
        "messageType": "text",
        "content": {"text": compose(message)},
        # Only these fields make WeLink notify people: only the receiver's mention sets them.
        "isAt": bool(message.mention.user_ids),
        "isAtAll": message.mention.all,
        **({"atAccounts": list(message.mention.user_ids[:AT_ACCOUNTS])} if message.mention.user_ids else {}),
    }


def render(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> dict[str, Any]:
    """The text message for one record (timeStamp and uuid are added per call, in `request`)."""
    return render_message(summarize(record, locale, mention))


def digest_fits(digest: Digest) -> bool:
    """Whether the digest's title, status line and every pool line fit the 500 characters."""
    head, items, _ = _lines(digest.compact())
    return _fits([*head, *items], text_length)


def render_digest(digest: Digest) -> dict[str, Any]:
    """The text message for a digest (one that `digest_fits`): one short line per pool."""
    return render_message(digest.compact())


def request(channel: Channel, payload: Mapping[str, Any], now: float) -> HttpRequest:
    """The POST for a rendered message, stamped at wall-clock time `now` with a fresh uuid."""
    body = {**payload, "timeStamp": int(now * 1000), "uuid": uuid.uuid4().hex}
    return HttpRequest(channel.url, json_bytes(body), {"Content-Type": "application/json; charset=utf-8"})


def judge(body: str) -> Verdict:
    """Accepted only when the body's `code` is "0"; WeLink's documented codes get a clear message."""
    answer = json_answer(body)
    if answer is None:
        return Verdict(f"WeLink answered something that is not JSON: {quote_answer(body)!r}")
    code = str(answer.get("code", "")).strip()
    if code == "0":
        return ACCEPTED
    if not code:
        return Verdict(f"WeLink answered without 'code': {quote_answer(body)!r}")
    meaning, retryable = ERRORS.get(code, ("unknown WeLink error", False))
    said = quote_answer(str(answer.get("message") or ""))
    return Verdict(f"WeLink code {code}: {meaning}" + (f" ({said})" if said else ""), retryable=retryable)
