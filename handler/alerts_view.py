"""`alerts list` as people read it in a hurry: filtered, most severe and oldest first, 100 columns wide.

Pure: the rows `handler.commands` builds from the store in, text out. The JSON output is the rows
themselves (their shape does not change here); only their order and the filters apply to it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handler.matchers import Matcher, match_all
from handler.textview import table

WIDTH = 100
"""No line of the text table is wider: it fits a 100-column terminal."""

SEVERITIES = ("critical", "major", "warning", "info")
"""Most severe first: the order `alerts list` sorts by (then oldest first)."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts `alerts list` shows. Every field narrows; an empty one lets everything through.

    `severities` (`--severity`, repeatable); resolved alerts only with `include_resolved` (`--all`);
    `matchers` (`--match`, over the alert's record, as silences read it); `receivers` (`--receiver`:
    alerts routed to one of them, or whose ledger names one).
    """

    severities: frozenset[str] = frozenset()
    include_resolved: bool = False
    matchers: tuple[Matcher, ...] = ()
    receivers: frozenset[str] = frozenset()

    def wanted(
        self, row: Mapping[str, Any], record: Mapping[str, Any] | None = None, ledger: Any = ()
    ) -> bool:
        """Whether `alerts list` shows this row (of this record, with this ledger of receiver names)."""
        if not self.include_resolved and row.get("state") == "resolved":
            return False
        if self.severities and row.get("severity") not in self.severities:
            return False
        if self.receivers and self.receivers.isdisjoint({*(row.get("receivers") or ()), *ledger}):
            return False
        return match_all(self.matchers, record if record is not None else {})


def sort_key(row: Mapping[str, Any]) -> tuple[int, str, str]:
    """Most severe first, then oldest first (ISO times sort as text), then by fingerprint."""
    severity = row.get("severity")
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    return (rank, str(row.get("since") or ""), str(row.get("fingerprint") or ""))


def ago(when: str | None, now: float) -> str:
    """An ISO 8601 time as "45s ago", "12m ago", "2h05m ago", "3d04h ago" ("-" when unknown)."""
    if not when:
        return "-"
    try:
        seconds = int(now - datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return str(when)
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m ago"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h ago"


def _until(when: str | None, now: float) -> str:
    """How long a silence still holds: "1h30m left" (from its ISO end)."""
    text = ago(when, now)
    if text == "in the future" and when:
        left = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() - now)
        return f"{left // 3600}h{left % 3600 // 60:02d}m left" if left >= 3600 else f"{left // 60}m left"
    return "ended"


def _fit(line: str, width: int = WIDTH) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def render(rows: Sequence[Mapping[str, Any]], now: float) -> str:
    """The rows as a table of narrow columns, the widest (pool / member) last and cut to fit.

    Below an alert, an indented line says what holds it or who still owes it (the widest facts, wrapped).
    """
    headers = ("severity", "state", "since", "notified", "fingerprint", "kind", "pool / member")
    cells = [
        (
            row.get("severity"),
            row.get("state"),
            ago(row.get("since"), now),
            ago(row.get("last_notified"), now) if row.get("last_notified") else "never",
            row.get("fingerprint"),
            row.get("kind"),
            " / ".join(str(part) for part in (_pool(row), row.get("member")) if part),
        )
        for row in rows
    ]
    lines = table(headers, cells, indent="")
    out = [_fit(lines[0])]
    for row, line in zip(rows, lines[1:], strict=True):
        out.append(_fit(line))
        out += [_fit(f"    {note}") for note in _notes(row, now)]
    return "\n".join(out)


def _pool(row: Mapping[str, Any]) -> str:
    pool = row.get("pool")
    return str(pool.get("name") or pool.get("id") or "") if isinstance(pool, Mapping) else ""


def _notes(row: Mapping[str, Any], now: float) -> list[str]:
    notes = []
    if row.get("silenced_by"):
        until = row.get("silenced_until")
        notes.append(f"silenced by {row['silenced_by']} until {until} ({_until(until, now)})")
    if row.get("muted_by"):
        until = row.get("muted_until")
        end = f" until {until} ({_until(until, now)})" if until else " (no end ahead)"
        notes.append(f"muted by time interval {row['muted_by']}{end}")
    acked = row.get("acknowledged")
    if isinstance(acked, Mapping):
        said = f"acknowledged by {acked.get('by')} {ago(acked.get('at'), now)}"
        notes.append(f"{said}: {acked['comment']}" if acked.get("comment") else said)
    if row.get("never_notified"):
        notes.append("resolved while a silence or time interval held it: never notified, nothing sent")
    pending = row.get("pending_channels") or []
    if pending:
        notes.append(f"still owed to: {', '.join(str(name) for name in pending)}")
    return notes
