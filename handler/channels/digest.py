"""Digests: one message about many findings of one status and severity, split to fit a channel. Pure.

A storm (a zone outage, a bad security-group change) makes dozens of findings in one run. A channel
that would get more than `ELB_WATCH_GROUP_THRESHOLD` of them gets one digest per status and severity
instead: a title that counts ("[CRITICAL] 12 pools: master down, no failover") and one line per pool
(pool, failed master, the reason in words, the first failed check item), sorted by severity then pool
name. `split` cuts a digest into parts that each fit the channel whole, so every finding is named in
exactly one message, and a part is delivered for all its findings or for none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from handler.channels.config import Mention
from handler.channels.message import (
    ITEM_CHARS,
    LABELS,
    NOBODY,
    SEVERITIES,
    TAG_CHARS,
    TITLE_CHARS,
    Fact,
    Item,
    Message,
    capped,
    common_links,
    plain,
    record_links,
)
from handler.text import clip

# A leading "[MAJOR] " or "[已恢复] " of a record's title: the digest's own title says it once.
_TAG = re.compile(r"^\[[^\]]{1,40}\]\s*")


@dataclass(frozen=True, slots=True)
class Digest:
    """One message about several findings: `message.items[i]` is the line of `records[i]`."""

    key: str
    message: Message
    records: tuple[Mapping[str, Any], ...]
    part: int = 1
    parts: int = 1
    # One short line per record ("pool: member OFFLINE (CODE)") for channels that count characters.
    short: tuple[str, ...] = ()

    def compact(self) -> Message:
        """The message with the short lines instead of the full ones."""
        return replace(self.message, items=tuple(Item("", line) for line in self.short))

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """The findings this message is about, in its order."""
        return tuple(plain(record.get("fingerprint")) for record in self.records)


def _block(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def band(record: Mapping[str, Any]) -> tuple[str, str]:
    """(status, severity) of a record: the findings one digest is about share both."""
    resolved = plain(record.get("status")).lower() == "resolved"
    severity = plain(record.get("severity")).lower()
    return ("resolved" if resolved else "firing", severity if severity in SEVERITIES else "info")


def _rank(record: Mapping[str, Any]) -> tuple[int, int, str, str]:
    status, severity = band(record)
    pool = _block(record, "pool")
    name = plain(pool.get("name")) or plain(pool.get("id"))
    return (status == "resolved", SEVERITIES.index(severity), name, plain(record.get("fingerprint")))


def _line(record: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """pool: what happened · why (in words) · the first failed check item · who had acknowledged it."""
    parts = [_TAG.sub("", plain(record.get("title"))) or plain(record.get("kind")) or "?"]
    if band(record)[0] == "firing":
        role = "standby" if plain(record.get("kind")) == "standby_failed" else "master"
        member = _block(record, role)
        code, reason = plain(member.get("reason_code")), plain(member.get("reason"))
        if reason or code:
            parts.append(reason or code)
        items = _block(record, "check").get("failed_items")
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else None
        if first is not None:
            group = plain(first.get("group"))
            what = plain(first.get("reason")) or plain(first.get("name")) or "?"
            parts.append(f"{labels.get(f'group_{group}', group)}: {what}")
    acked = _block(record, "acknowledged")
    if acked.get("by"):  # a changed or resolved alert someone had acknowledged (handler.acks)
        parts.append(labels["digest_acknowledged"].format(by=plain(acked.get("by"))))
    return clip(" · ".join(parts), ITEM_CHARS)


def _short(record: Mapping[str, Any]) -> str:
    """pool: member STATUS (CODE), the least a line can say."""
    pool = _block(record, "pool")
    name = plain(pool.get("name")) or plain(pool.get("id")) or "?"
    role = "standby" if plain(record.get("kind")) == "standby_failed" else "master"
    member = _block(record, role)
    who = plain(member.get("name")) or plain(member.get("address")) or plain(member.get("id"))
    status = "RESOLVED" if band(record)[0] == "resolved" else plain(member.get("operating_status"))
    code = plain(member.get("reason_code"))
    parts = [f"{name}:", who or plain(record.get("kind")), status, f"({code})" if code else ""]
    return clip(" ".join(part for part in parts if part), ITEM_CHARS)


def _phrase(
    records: Sequence[Mapping[str, Any]], status: str, severity: str, labels: Mapping[str, str]
) -> str:
    if status == "resolved":
        return labels["digest_resolved"]
    kinds = {plain(record.get("kind")) for record in records}
    if len(kinds) != 1:
        return labels["digest_mixed"]
    kind = kinds.pop()
    return labels.get(f"digest_{kind}_{severity}") or labels.get(f"digest_{kind}") or labels["digest_mixed"]


def _common_facts(records: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> tuple[Fact, ...]:
    facts = []
    for key, label in (("region", "region"), ("project_id", "project")):
        values = {plain(record.get(key)) for record in records}
        if len(values) == 1 and (value := values.pop()):
            facts.append(Fact(labels[label], value))
    return tuple(facts)


def _title(count: int, phrase: str, severity_label: str, labels: Mapping[str, str], suffix: str = "") -> str:
    pools = labels["digest_one"] if count == 1 else labels["digest_many"].format(n=count)
    return clip(f"[{severity_label}] {pools}: {phrase}{suffix}", TITLE_CHARS)


def build(
    records: Sequence[Mapping[str, Any]], locale: str = "en", mention: Mention = NOBODY
) -> list[Digest]:
    """One digest per (status, severity) band of `records`, most severe firing band first.

    Each mentions the receiver's `mention` and shows the links all its records share (the console
    page of their one load balancer, a runbook of their team), once.
    """
    locale = locale if locale in LABELS else "en"
    labels = LABELS[locale]
    bands: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in sorted(records, key=_rank):
        bands.setdefault(band(record), []).append(record)
    digests = []
    for (status, severity), members in bands.items():
        tag = labels["resolved"] if status == "resolved" else labels[severity]
        phrase = _phrase(members, status, severity, labels)
        fingerprints = "\x1f".join(plain(record.get("fingerprint")) for record in members)
        key = f"{status}:{severity}"
        digest_id = hashlib.sha256(f"{key}\x1e{fingerprints}".encode()).hexdigest()[:16]
        observed = max((plain(record.get("observed_at")) for record in members), default="")
        message = Message(
            locale=locale,
            title=_title(len(members), phrase, tag, labels),
            resolved=status == "resolved",
            severity=severity,
            status_label=labels[status],
            severity_label=labels[severity],
            kind=clip(labels["digest_kind"], TAG_CHARS * 2),
            reason_label="",
            facts=_common_facts(members, labels),
            items_heading=labels["digest_items"],
            items=tuple(Item("", _line(record, labels)) for record in members),
            note="",
            observed_at=clip(observed, TAG_CHARS * 2),
            fingerprint=f"digest:{digest_id}",
            mention=capped(mention),
            links=common_links([record_links(record, locale) for record in members]),
        )
        digests.append(Digest(key, message, tuple(members), short=tuple(_short(r) for r in members)))
    return digests


def _part(digest: Digest, start: int, stop: int, suffix: str) -> Digest:
    message = digest.message
    records = digest.records[start:stop]
    status, severity = digest.key.split(":", 1)
    labels = LABELS[message.locale]
    phrase = _phrase(digest.records, status, severity, labels)
    tag = labels["resolved"] if status == "resolved" else labels[severity]
    title = _title(len(digest.records), phrase, tag, labels, suffix)
    return replace(
        digest,
        message=replace(message, title=title, items=message.items[start:stop]),
        records=records,
        short=digest.short[start:stop],
    )


def split(digest: Digest, fits: Callable[[Digest], bool]) -> list[Digest]:
    """The digest cut into parts that each fit (`fits`) with all their lines; one part when it fits whole.

    Parts are packed greedily, each as large as fits; a single line that cannot fit alone still gets a
    part of its own (the channel's renderer then trims inside it, as it does for one finding).
    """
    total = len(digest.records)
    if total == 0 or fits(digest):
        return [digest]
    width = len(str(total))
    worst = f" ({'9' * width}/{'9' * width})"  # parts are sized with the widest suffix they can get
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < total:
        good, step = 1, 1
        # Grow while it fits, then bisect between the last size that fit and the first that did not.
        while start + good < total and fits(
            _part(digest, start, start + min(total - start, good + step), worst)
        ):
            good = min(total - start, good + step)
            step *= 2
        high = min(total - start, good + step)
        while high - good > 1:
            middle = (good + high) // 2
            if fits(_part(digest, start, start + middle, worst)):
                good = middle
            else:
                high = middle
        bounds.append((start, start + good))
        start += good
    parts = len(bounds)
    return [
        replace(_part(digest, begin, end, f" ({index}/{parts})"), part=index, parts=parts)
        for index, (begin, end) in enumerate(bounds, start=1)
    ]
