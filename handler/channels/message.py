"""A channel-neutral summary of a notification record, and the trimming every renderer shares. Pure.

Renderers read the record only through `summarize`: every string in a `Message` is plain, single-line
and clipped, so each renderer only has to escape it for its own format.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from handler import wording
from handler.channels.config import Mention
from handler.text import clip

T = TypeVar("T")

ELLIPSIS = "…"
# Plain-text caps before escaping: long enough for any real value, short enough that every
# channel's skeleton (title + facts) fits its size limit even when each value is at the cap.
TITLE_CHARS = 200
FACT_CHARS = 300
ITEM_CHARS = 500
TAG_CHARS = 24
# Links: at most this many per message, each URL at most this long (a longer one is left out, never cut).
MAX_LINKS = 6  # the runbook, the console and the four action links (handler.actions.links.LINKED)
URL_CHARS = 1000
NOBODY = Mention()
# Mobiles and user ids one message mentions, each list: enough for an on-call rota, and the mention
# line then always fits beside the title in every channel's size limit (WeCom's 2048 bytes included).
MAX_MENTIONED = 10

LABELS: dict[str, dict[str, str]] = {"en": wording.labels("en"), "zh": wording.labels("zh")}
"""The channel labels per locale; the wording itself lives in `handler.wording`."""
SEVERITIES = ("critical", "major", "warning", "info")


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled value: "Master: web-master-1 · 172.16.0.210:80 · OFFLINE"."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the failed-items list: a severity tag (may be empty) and the text."""

    tag: str
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    """A link to show as a link or button: its name (runbook, console), its label in words, its URL."""

    name: str
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Message:
    """What every channel says about one record, as plain clipped strings."""

    locale: str
    title: str
    resolved: bool
    severity: str
    status_label: str
    severity_label: str
    kind: str
    reason_label: str
    facts: tuple[Fact, ...]
    items_heading: str
    items: Sequence[Item]
    note: str
    observed_at: str
    fingerprint: str
    # Only from the routing file (the receiver's `mention`), never from a record.
    mention: Mention = NOBODY
    links: tuple[Link, ...] = ()

    def label(self, key: str) -> str:
        """A label in this message's language."""
        return LABELS[self.locale][key]

    def more(self, hidden: int) -> str:
        """The line that replaces `hidden` trimmed items: "… and 12 more"."""
        return self.label("more").format(n=hidden)


# Every character of categories Cc, Zl and Zp, mapped to a space: one C-level pass per text.
_CONTROLS = {
    code: " " for code in (*range(0x20), *range(0x7F, 0xA0)) if unicodedata.category(chr(code)) == "Cc"
} | {0x2028: " ", 0x2029: " "}


def plain(value: Any) -> str:
    """A record value as one line of plain text: None is empty, control characters become spaces."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.translate(_CONTROLS).strip()


# `fit` tries every item at once up to this many; beyond, it gallops up from this many.
FIT_FIRST = 32


def fit(build: Callable[[int], T], total: int, size: Callable[[T], int], limit: int) -> T:
    """`build(k)` for the largest k <= total whose size is within `limit` (build(0) if none is).

    `build(k)` renders the first k items and, when k < total, a "… and N more" line, so the
    message is trimmed by whole items, never through markup or a character. The search gallops up
    from a few items and stops at the first size over the limit, so the work grows with what fits,
    not with `total` (a check job of 3,000 items renders as fast as one of 100).
    """
    if total <= FIT_FIRST:
        best = build(total)
        if size(best) <= limit or total == 0:
            return best
        low, high, best = 0, total - 1, build(0)
    else:
        low, high, best = 0, FIT_FIRST, build(0)
        while True:  # gallop: double while it fits
            candidate = build(high)
            if size(candidate) > limit:
                high -= 1
                break
            best, low = candidate, high + 1
            if high == total:
                return best
            high = min(total, high * 2)
    while low <= high:
        middle = (low + high) // 2
        candidate = build(middle)
        if size(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _block(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _member_line(member: Mapping[str, Any]) -> str:
    name = plain(member.get("name")) or plain(member.get("id")) or "?"
    address = plain(member.get("address"))
    port = plain(member.get("protocol_port"))
    where = f"{address}:{port}" if address and port else address
    parts = [name, where, plain(member.get("operating_status"))]
    return " · ".join(part for part in parts if part)


def _member_reason(member: Mapping[str, Any]) -> str:
    code = plain(member.get("reason_code"))
    reason = plain(member.get("reason"))
    if code and reason:
        return f"{code}: {reason}"
    return code or reason


def _group_label(group: Any, labels: Mapping[str, str]) -> str:
    key = plain(group)
    return labels.get(f"group_{key}", key) or "?"


def _watcher_facts(record: Mapping[str, Any], labels: Mapping[str, str]) -> list[Fact]:
    """A watcher_error's code (with HTTP status), message and what to do."""
    watcher = _block(record, "watcher")
    code, status = plain(watcher.get("code")), plain(watcher.get("status"))
    facts = [Fact(labels["watcher_code"], f"{code} (HTTP {status})" if code and status else code or status)]
    facts.append(Fact(labels["watcher_message"], plain(watcher.get("message"))))
    if plain(record.get("status")).lower() != "resolved":  # nothing left to do once it is resolved
        facts.append(Fact(labels["watcher_action"], plain(watcher.get("action"))))
    return [fact for fact in facts if fact.value]


def _report_facts(record: Mapping[str, Any], locale: str) -> list[Fact]:
    """A report's (`{"report": "weekly"}`, handler.report) period and totals."""
    report = _block(record, "report")
    if not report:
        return []
    say = wording.report(locale)
    counts = {key: plain(report.get(key)) for key in ("episodes", "failovers", "outages")}
    period = say["period_value"].format(start=plain(report.get("since")), end=plain(report.get("until")))
    totals = say["totals_value"].format(pools=plain(report.get("pools_total")), **counts)
    return [Fact(say["period"], clip(period, FACT_CHARS)), Fact(say["totals"], clip(totals, FACT_CHARS))]


def _report_items(record: Mapping[str, Any]) -> tuple[Item, ...]:
    """A report's lines, one per pool, as the items list (trimmed by whole lines like failed items)."""
    lines = _list(_block(record, "report").get("lines"))
    return tuple(Item("", clip(plain(_head(line)), ITEM_CHARS)) for line in lines if plain(line))


def _facts(record: Mapping[str, Any], labels: Mapping[str, str]) -> list[Fact]:
    facts: list[Fact] = _watcher_facts(record, labels)
    for role in ("master", "standby"):
        member = _block(record, role)
        if not member:
            if role == "standby" and plain(record.get("kind")) == "master_failed":
                facts.append(Fact(labels["standby"], labels["no_standby"]))
            continue
        facts.append(Fact(labels[role], _member_line(member)))
        listeners = [plain(listener) for listener in _list(member.get("failed_listeners")) if plain(listener)]
        if role == "master" and listeners:
            facts.append(Fact(labels["listeners"], ", ".join(listeners)))
        reason = _member_reason(member)
        if reason:
            facts.append(Fact(labels[f"{role}_reason"], reason))
    check = _block(record, "check")
    if check:
        finished, total = plain(check.get("finished")), plain(check.get("total"))
        progress = f"{finished or '?'}/{total}" if total else ""
        impossible = plain(check.get("impossible_counters"))
        if impossible:
            # Clamped from ELB's own counters: say what ELB sent, so the clamp is not taken as ELB's.
            progress = f"{progress or '?'} (ELB: {impossible})"
        failed = labels["failed_count"].format(n=len(_list(check.get("failed_items"))))
        parts = [plain(check.get("job_id")) or "?", plain(check.get("status")), progress, failed]
        facts.append(Fact(labels["check_job"], " · ".join(part for part in parts if part)))
    pool = _block(record, "pool")
    if pool:
        name, pool_id = plain(pool.get("name")), plain(pool.get("id"))
        named = f"{name} ({pool_id})" if name and pool_id else name or pool_id or "?"
        facts.append(Fact(labels["pool"], " · ".join(p for p in (named, plain(pool.get("protocol"))) if p)))
    for key in ("region", "project_id"):
        value = plain(record.get(key))
        if value:
            facts.append(Fact(labels["region" if key == "region" else "project"], value))
    return [Fact(fact.label, clip(fact.value, FACT_CHARS)) for fact in facts]


def _head(value: Any) -> Any:
    """The first 2 x ITEM_CHARS characters of a text (enough to fill an item after cleaning)."""
    return value[: 2 * ITEM_CHARS] if isinstance(value, str) else value


class ItemList(Sequence[Item]):
    """The failed-items list, each line made only when a renderer reads it.

    A renderer shows the first k items that fit its size limit and counts the rest, so a check job
    of 3,000 items costs the handful of lines that fit, not 3,000 (lines are cached once made).
    """

    def __init__(self, entries: list[Mapping[str, Any]], tail: list[Item], labels: Mapping[str, str]) -> None:
        """`entries`: the record's failed items; `tail`: the group lines that follow them."""
        self._entries = entries
        self._tail = tail
        self._labels = labels
        self._made: dict[int, Item] = {}

    def __len__(self) -> int:
        """How many lines there are (all of them, made or not)."""
        return len(self._entries) + len(self._tail)

    def _item(self, index: int) -> Item:
        if index >= len(self._entries):
            return self._tail[index - len(self._entries)]
        item = self._made.get(index)
        if item is None:
            entry = self._entries[index]
            # Cut before cleaning: a 3 KB reason costs no more than the ITEM_CHARS that are shown.
            reason = plain(_head(entry.get("reason"))) or plain(_head(entry.get("name"))) or "?"
            text = f"{_group_label(entry.get('group'), self._labels)}: {reason}"
            item = Item(clip(plain(_head(entry.get("severity"))), TAG_CHARS), clip(text, ITEM_CHARS))
            self._made[index] = item
        return item

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Item, ...]: ...

    def __getitem__(self, index: int | slice) -> Item | tuple[Item, ...]:
        """One line, or a tuple of lines for a slice."""
        if isinstance(index, slice):
            return tuple(self._item(i) for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._item(index)


def _items(check: Mapping[str, Any], labels: Mapping[str, str]) -> ItemList:
    entries = [entry for entry in _list(check.get("failed_items")) if isinstance(entry, Mapping)]
    explained = {plain(_head(entry.get("group"))) for entry in entries}
    tail: list[Item] = []
    for group in _list(check.get("failed_groups")):
        if plain(group) not in explained:
            text = labels["group_no_details"].format(group=_group_label(group, labels))
            tail.append(Item("", clip(text, ITEM_CHARS)))
    for group in _list(check.get("incomplete_groups")):
        text = labels["group_incomplete"].format(group=_group_label(group, labels))
        tail.append(Item("", clip(text, ITEM_CHARS)))
    return ItemList(entries, tail, labels)


# Characters of a URL that some chat markup would read (a markdown link's ")", Slack's "|", a quote
# or "<", an "@" taken for a mention), percent-encoded: the link goes where it went, cannot break out.
_URL_ESCAPES = {ord(c): f"%{ord(c):02X}" for c in " \"'<>()[]{}|\\^`*@"}


def safe_url(value: Any) -> str:
    """An http(s) URL with markup characters percent-encoded; "" for anything else or one too long."""
    text = plain(value)
    if not text.lower().startswith(("https://", "http://")) or any(c.isspace() for c in text):
        return ""
    url = text.translate(_URL_ESCAPES)
    return url if len(url) <= URL_CHARS else ""


def record_links(record: Mapping[str, Any], locale: str = "en") -> tuple[Link, ...]:
    """The record's `links` (runbook, console) that are usable http(s) URLs, labelled in the locale."""
    labels = LABELS[locale if locale in LABELS else "en"]
    links: list[Link] = []
    for entry in _list(record.get("links")):
        if not isinstance(entry, Mapping):
            continue
        name, url = clip(plain(entry.get("name")), TAG_CHARS), safe_url(entry.get("url"))
        if url and all(link.url != url for link in links):
            links.append(Link(name, labels.get(f"link_{name}") or name or labels["links"], url))
    return tuple(links[:MAX_LINKS])


def common_links(messages: Sequence[tuple[Link, ...]]) -> tuple[Link, ...]:
    """The links every one of several messages has (a digest shows those once)."""
    if not messages:
        return ()
    return tuple(link for link in messages[0] if all(link in others for others in messages[1:]))


def capped(mention: Mention) -> Mention:
    """The mention with at most MAX_MENTIONED mobiles and user ids."""
    if len(mention.mobiles) <= MAX_MENTIONED and len(mention.user_ids) <= MAX_MENTIONED:
        return mention
    return Mention(mention.mobiles[:MAX_MENTIONED], mention.user_ids[:MAX_MENTIONED], mention.all)


def summarize(record: Mapping[str, Any], locale: str = "en", mention: Mention = NOBODY) -> Message:
    """The channel-neutral message for one `elb-master-watch/v1` record (firing or resolved).

    `mention` is the receiver's (from the routing file); the record's links come labelled.
    """
    locale = locale if locale in LABELS else "en"
    labels = LABELS[locale]
    resolved = plain(record.get("status")).lower() == "resolved"
    severity = plain(record.get("severity")).lower()
    known = severity in SEVERITIES
    severity_label = labels[severity] if known else clip(severity.upper(), TAG_CHARS) or "?"
    reason = plain(record.get("notification_reason")).lower()
    check = _block(record, "check")
    processing = plain(check.get("status")).lower() == "processing"
    reported = _report_items(record)
    return Message(
        locale=locale,
        title=clip(plain(record.get("title")) or plain(record.get("kind")) or "?", TITLE_CHARS),
        resolved=resolved,
        severity=severity if known else "",
        status_label=labels["resolved" if resolved else "firing"],
        severity_label=severity_label,
        kind=clip(plain(record.get("kind")), TAG_CHARS * 2),
        reason_label=labels.get(f"reason_{reason}", ""),
        facts=(*_report_facts(record, locale), *_facts(record, labels)),
        items_heading=wording.report(locale)["pools"] if reported else labels["items"],
        items=reported or _items(check, labels),
        note=labels["processing"] if processing else "",
        observed_at=clip(plain(record.get("observed_at")), TAG_CHARS * 2),
        fingerprint=clip(plain(record.get("fingerprint")), TAG_CHARS * 3),
        mention=capped(mention),
        links=record_links(record, locale),
    )


def headline(message: Message) -> list[str]:
    """The status words of a message, in order: status, severity, kind, why it was sent."""
    words = [message.status_label, message.severity_label, message.kind, message.reason_label]
    return [word for word in words if word]


def display_title(message: Message) -> str:
    """The title, led by the status when a resolved record's own title does not say it."""
    if message.resolved and message.status_label.lower() not in message.title.lower():
        return f"{message.status_label}: {message.title}"
    return message.title


def marker(message: Message) -> str:
    """An emoji that says the state at a glance, for channels without a coloured frame."""
    if message.resolved:
        return "\u2705"  # ✅
    return {"critical": "\U0001f534", "major": "\U0001f7e0", "warning": "\U0001f7e1"}.get(
        message.severity, "\U0001f535"
    )
