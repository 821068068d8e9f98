"""`alerts history` and the weekly report: the kept episodes summed up per pool. Pure.

In: the store's episodes (`handler.history`), a window and `--match` filters; out: the summary
`{"episodes": [...], "pools": [{"pool_id", "pool_name", "episodes", "failovers", "outages",
"mttr_seconds": {"mean", "p90"}, "top_cause"}]}`, its text view (100 columns) and the weekly report's
record for the channel layer. MTTR counts the resolved episodes only: from first seen to first seen
gone. p90 is the nearest-rank 90th percentile.
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from handler.history import FAILED_OVER, OUTAGE, Episode
from handler.lifecycle import format_duration
from handler.silences import iso
from handler.textview import table
from handler.wording import report as report_words

WIDTH = 100
"""No line of the text view is wider."""
MAX_REPORT_POOLS = 20
"""The weekly report lists at most this many pools (most episodes first), then "… and N more"."""
REPORT_DAYS = 7


def parse_since(text: str) -> float:
    """`--since`: "7d", "2w", "36h", "90m" (up to 366 days) in seconds; ValueError saying what is wrong."""
    from handler.config import parse_duration  # noqa: PLC0415

    raw = text.strip().lower()
    unit = {"d": 86400.0, "w": 7 * 86400.0}.get(raw[-1:]) if raw[:-1].isdigit() else None
    seconds = int(raw[:-1]) * unit if unit else parse_duration(raw)
    if seconds is None or not 0 < seconds <= 366 * 86400:
        raise ValueError(f"--since {text!r}: give a duration up to 366 days, such as 7d, 2w, 36h or 90m")
    return seconds


def parse_matchers(values: Iterable[str]) -> list[tuple[str, str]]:
    """`--match KEY=VALUE` pairs (KEY a route match key; VALUE a shell glob); ValueError naming a bad one."""
    from handler.routes import MATCH_KEYS  # noqa: PLC0415 - the route module is heavier than this one

    found = []
    for value in values:
        key, equals, wanted = value.partition("=")
        key = key.strip()
        if not equals or not wanted.strip() or key.endswith(("!", "~")) or wanted.startswith("~"):
            raise ValueError(f"--match {value!r}: write KEY=VALUE (only '=', VALUE may be a glob like pay-*)")
        if key not in MATCH_KEYS or key == "tag":
            keys = ", ".join(k for k in MATCH_KEYS if k != "tag")
            raise ValueError(f"--match {value!r}: {key!r} is not a match key: use {keys}")
        found.append((key, wanted.strip()))
    return found


def fields(episode: Episode) -> dict[str, tuple[str, ...]]:
    """The values an episode offers each match key (the routes' field extraction)."""
    from handler.routes import fields_from  # noqa: PLC0415

    subject = episode.subject
    scalars = (subject.get("region"), subject.get("project_id"), subject.get("kind"), subject.get("severity"))
    return fields_from(subject.get("pool"), None, scalars)


def matching(episodes: Iterable[Episode], matchers: Sequence[tuple[str, str]]) -> list[Episode]:
    """The episodes every matcher matches: some value of its key fits its glob."""
    kept = []
    for episode in episodes:
        offered = fields(episode) if matchers else {}
        if all(any(fnmatch.fnmatchcase(v, glob) for v in offered.get(k, ())) for k, glob in matchers):
            kept.append(episode)
    return kept


def within(episodes: Iterable[Episode], since: float) -> list[Episode]:
    """The episodes open at some time after `since`: begun after it, or not resolved before it."""
    return [e for e in episodes if e.first_seen >= since or e.resolved_at is None or e.resolved_at >= since]


def cause_labels(episode: Episode) -> list[str]:
    """What an episode's cause is called: its failed check items, else groups, else reason code, else kind."""
    cause = episode.cause
    items = [str(item.get("name") or item.get("group")) for item in cause.get("failed_items") or ()]
    if items:
        return items
    groups = [str(group) for group in cause.get("failed_groups") or ()]
    if groups:
        return groups
    code = cause.get("reason_code")
    return [str(code)] if code else [str(episode.subject.get("kind") or "?")]


def _pool(episode: Episode) -> Mapping[str, Any]:
    pool = episode.subject.get("pool")
    return pool if isinstance(pool, Mapping) else {}


def public(episode: Episode) -> dict[str, Any]:
    """An episode as `alerts history -o json` lists it (ISO times)."""
    subject = episode.subject
    pool = _pool(episode)
    duration = episode.duration
    return {
        "id": episode.id,
        "fingerprint": episode.fingerprint,
        "pool_id": episode.pool_id or None,
        "pool_name": pool.get("name") or None,
        "loadbalancer_ids": list(pool.get("loadbalancer_ids") or ()),
        "region": subject.get("region"),
        "project_id": subject.get("project_id"),
        "kind": subject.get("kind"),
        "severity": subject.get("severity"),
        "state": "open" if episode.resolved_at is None else "resolved",
        "first_seen": iso(episode.first_seen),
        "notified_at": iso(episode.notified_at) if episode.notified_at is not None else None,
        "failover_state": episode.failover,
        "cause": dict(episode.cause),
        "acknowledged_by": episode.acknowledged_by,
        "silenced_by": [dict(entry) for entry in episode.silenced_by],
        "resolved_at": iso(episode.resolved_at) if episode.resolved_at is not None else None,
        "duration_seconds": round(duration, 1) if duration is not None else None,
    }


def p90(values: Sequence[float]) -> float:
    """The nearest-rank 90th percentile of some values (at least one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def pool_summary(episodes: Sequence[Episode]) -> dict[str, Any]:
    """One pool's row: counts, MTTR over the resolved episodes, the most common cause."""
    durations = [e.duration for e in episodes if e.duration is not None]
    causes = Counter(label for e in episodes for label in dict.fromkeys(cause_labels(e)))
    top = min(causes.items(), key=lambda item: (-item[1], item[0]))[0] if causes else None
    latest = max(episodes, key=lambda e: e.first_seen)
    pool = _pool(latest)
    return {
        "pool_id": latest.pool_id,
        "pool_name": pool.get("name") or None,
        "episodes": len(episodes),
        "failovers": sum(1 for e in episodes if e.failover == FAILED_OVER),
        "outages": sum(1 for e in episodes if e.failover == OUTAGE),
        "mttr_seconds": {
            "mean": round(sum(durations) / len(durations), 1) if durations else None,
            "p90": round(p90(durations), 1) if durations else None,
        },
        "top_cause": top,
    }


def summary(episodes: Iterable[Episode]) -> dict[str, Any]:
    """The history's JSON: every episode (newest first), and one row per pool (most episodes first).

    Episodes about no pool (a check job alone, the watcher itself) are listed but counted in no pool.
    """
    ordered = sorted(episodes, key=lambda e: (-e.first_seen, e.fingerprint))
    by_pool: dict[str, list[Episode]] = {}
    for episode in ordered:
        if episode.pool_id:
            by_pool.setdefault(episode.pool_id, []).append(episode)
    pools = [pool_summary(group) for group in by_pool.values()]
    pools.sort(key=lambda row: (-row["episodes"], str(row["pool_name"] or row["pool_id"])))
    return {"episodes": [public(e) for e in ordered], "pools": pools}


def _lasted(seconds: Any, say: Mapping[str, str] | None = None) -> str:
    """A duration for the text view ("20min", narrow) or, with the wording `say`, for a message."""
    if seconds is None:
        return say["none"] if say else "-"
    shown = format_duration(float(seconds))
    return shown if say else shown.replace(" ", "")


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def render(found: Mapping[str, Any], *, since: float, now: float) -> str:
    """The history as people read it: the pools' table, then the episodes' (newest first), 100 columns."""
    pools, episodes = found["pools"], found["episodes"]
    head = f"History from {iso(since)} to {iso(now)}: {len(episodes)} episodes, {len(pools)} pools"
    out = [_fit(head)]
    if pools:
        headers = ("pool", "episodes", "failovers", "outages", "mttr", "p90", "top cause")
        cells = [
            (
                row["pool_name"] or row["pool_id"],
                row["episodes"],
                row["failovers"],
                row["outages"],
                _lasted(row["mttr_seconds"]["mean"]),
                _lasted(row["mttr_seconds"]["p90"]),
                row["top_cause"],
            )
            for row in pools
        ]
        out += ["", *(_fit(line) for line in table(headers, cells, indent=""))]
    if episodes:
        headers = ("first seen", "state", "failover", "lasted", "notified", "kind", "pool / cause")
        cells = [_episode_cells(row) for row in episodes]
        out += ["", *(_fit(line) for line in table(headers, cells, indent=""))]
    return "\n".join(out)


def _episode_cells(row: Mapping[str, Any]) -> tuple[Any, ...]:
    items = row["cause"].get("failed_items") or ()
    cause = ", ".join(str(item.get("name")) for item in items) or row["cause"].get("reason_code") or ""
    where = row["pool_name"] or row["pool_id"] or row["fingerprint"]
    return (
        str(row["first_seen"])[:16].replace("T", " "),
        row["state"],
        row["failover_state"],
        _lasted(row["duration_seconds"]) if row["state"] == "resolved" else "open",
        "yes" if row["notified_at"] else "no",
        row["kind"],
        f"{where}: {cause}" if cause else where,
    )


def report_record(
    found: Mapping[str, Any], *, since: float, now: float, days: int = REPORT_DAYS, locale: str = "en"
) -> dict[str, Any]:
    """The weekly report as one v1 record (kind `report`, severity info) any channel renders."""
    say = report_words(locale)
    pools = found["pools"]
    totals = {
        "days": days,
        "episodes": len(found["episodes"]),
        "failovers": sum(row["failovers"] for row in pools),
        "outages": sum(row["outages"] for row in pools),
    }
    rows = [_pool_line(row, say) for row in pools[:MAX_REPORT_POOLS]]
    if len(pools) > MAX_REPORT_POOLS:
        rows.append(say["more"].format(more=len(pools) - MAX_REPORT_POOLS, days=days))
    if not found["episodes"]:
        rows.append(say["quiet"])
    span = say["span"].format(start=iso(since), end=iso(now))
    return {
        "status": "firing",
        "severity": "info",
        "kind": "report",
        "fingerprint": f"report-{days}d-{iso(now)[:10]}",
        "title": say["title" if totals["episodes"] else "quiet_title"].format(**totals),
        "text": "\n".join([span, *rows]),
        "pool": None,
        "master": None,
        "standby": None,
        "check": None,
        "observed_at": iso(now),
        # What the chat renderers show (`channels.message`): the totals, then one line per pool.
        "report": {
            "since": iso(since),
            "until": iso(now),
            **totals,
            "pools_total": len(pools),
            "pools": pools[:MAX_REPORT_POOLS],
            "lines": rows,
        },
    }


def _pool_line(row: Mapping[str, Any], say: Mapping[str, str]) -> str:
    mttr = row["mttr_seconds"]
    return say["pool"].format(
        pool=row["pool_name"] or row["pool_id"],
        episodes=row["episodes"],
        failovers=row["failovers"],
        outages=row["outages"],
        mean=_lasted(mttr["mean"], say) if mttr["mean"] is not None else say["open"],
        p90=_lasted(mttr["p90"], say),
        cause=row["top_cause"] or say["none"],
    )
