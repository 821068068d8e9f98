"""The CLI's text output: a result as people read it (title, plain lines, deliveries, errors + remedy).

Pure: strings in, strings out. `--output json` prints the result itself; this is the `text` view.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

NOT_DELIVERED = frozenset({"failed", "throttled", "deferred"})
"""Delivery statuses that make `invoke` exit 3: the message should have gone out this run and did not."""


_CONTROLS = {
    code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if code not in (0x09, 0x0A)
}
"""Control characters other than tab and newline, shown escaped: a name from the cloud cannot drive the
terminal (colours, cursor moves, a title that rewrites the previous line)."""


def emit(text: str, stream: Any = None) -> None:
    """Write text to stdout (or `stream`), never failing on a character the terminal cannot encode."""
    stream = sys.stdout if stream is None else stream
    encoding = getattr(stream, "encoding", None) or "utf-8"
    safe = text.translate(_CONTROLS).encode(encoding, "backslashreplace").decode(encoding, "replace")
    stream.write(safe if safe.endswith("\n") else safe + "\n")
    stream.flush()


def dumps(value: Any) -> str:
    """JSON for people and machines alike: indented, UTF-8 kept as is (a lone surrogate escaped)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    """A plain, left-aligned table (no borders); an empty cell is shown as '-'."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    lines = [indent + "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.extend(
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return lines


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    text = " ".join(str(value).split())
    return text if len(text) <= 100 else text[:99] + "…"


def remedy(error: Mapping[str, Any]) -> str:
    """What an operator can do about an error entry of the result."""
    code = str(error.get("code") or "")
    status = error.get("status")
    message = str(error.get("message") or "")
    if "ELB_WATCH_DIAGNOSE=off" in message:
        return "grant elb:members:create, or export ELB_WATCH_DIAGNOSE=off"
    remedies = {
        "CONFIG.REGION": "export ELB_WATCH_REGION=<region id, e.g. cn-north-4> or put 'region' in the event",
        "CONFIG.PROJECT_ID": "export HUAWEICLOUD_SDK_PROJECT_ID=<the project id of that region>",
        "CONFIG.CREDENTIALS": "export HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (deployed: give the function "
        "an agency)",
        "CONFIG.INVALID": "fix the variable named above (every setting: docs/reference.md, Configuration)",
        "EVENT.INVALID": "compare the event with the samples in events/ (e.g. events/direct.json)",
        "WATCH.CHECK_JOB_INCOMPLETE": "give the function more time (--timeout, or the function's timeout); "
        "the next run reads the job again",
    }
    if code in remedies:
        return remedies[code]
    if status == 401:
        return "the AK/SK (or token) was refused: check HUAWEICLOUD_SDK_AK/SK belong to this account"
    if status == 403:
        return "grant the ELB read actions elb:pools:get, elb:pools:list, elb:members:get (infra/README.md)"
    if status == 404:
        return "check the pool/job id, the region and the project: ELB does not know it there"
    if status == 429 or (isinstance(status, int) and status >= 500):
        return "ELB is busy or failing; the next run tries again (ELB_WATCH_MAX_ATTEMPTS sets retries)"
    network = ("ELB.TIMEOUT", "ELB.CONNECT", "ELB.NETWORK", "WATCH.TIMEOUT", "WATCH.CONNECTION")
    if code.startswith(network) or "timed out" in message:
        return "check that the function reaches the ELB endpoint (VPC, DNS, proxy) and the timeouts"
    return "see the message; docs/reference.md, Troubleshooting, lists the usual causes"


SCREEN_LINES = 60
"""`invoke --output text` prints at most this many lines, whatever the run did (`--output json` has all)."""
BODY_LINES = 12  # lines of an alert's text shown before "… N more lines"
TITLES = 6  # one-line titles of further notifications
HELD_ROWS = 6
LOST_ROWS = 4
ERRORS_SHOWN = 4
RECEIVER_ROWS = 10
LINKS_SHOWN = 2


def _notification(record: Mapping[str, Any], cut: list[str]) -> list[str]:
    """One alert's body, once: title, its tags, its plain lines (at most BODY_LINES of them)."""
    tags = [
        str(record.get(key))
        for key in ("status", "severity", "kind", "notification_reason")
        if record.get(key) not in (None, "")
    ]
    lines = [str(record.get("title") or record.get("kind") or "?")]
    lines.append(f"  {' · '.join(tags)} · fingerprint {record.get('fingerprint', '?')}")
    body = str(record.get("text") or "").splitlines()
    lines.extend(f"  {line}" for line in body[:BODY_LINES])
    if len(body) > BODY_LINES:
        lines.append(f"  … {len(body) - BODY_LINES} more line(s)")
        cut.append("the alert's text")
    return lines + _links(record)


def _links(record: Mapping[str, Any]) -> list[str]:
    """The record's runbook and console links, one line each (action links never reach the result)."""
    from handler.wording import link_labels  # noqa: PLC0415 - only a text view needs the labels

    labels = link_labels("en")
    links = record.get("links")
    shown = [link for link in links if isinstance(link, Mapping)] if isinstance(links, list) else []
    return [
        f"  {labels.get(str(link.get('name')), str(link.get('name')))}: {link.get('url')}"
        for link in shown[:LINKS_SHOWN]
        if isinstance(link.get("url"), str)
    ]


def _notifications(notifications: Sequence[Mapping[str, Any]], cut: list[str]) -> list[str]:
    """The first alert in full (both when there are two), the next ones by title, then how many more."""
    if not notifications:
        return ["No notification this run.", ""]
    full = 2 if len(notifications) == 2 else 1
    lines: list[str] = []
    for record in notifications[:full]:
        lines += [*_notification(record, cut), ""]
    rest = notifications[full:]
    if rest:
        lines.append(f"{len(rest)} more notification(s):")
        lines += [f"  {record.get('title') or record.get('fingerprint')}" for record in rest[:TITLES]]
        if len(rest) > TITLES:
            lines.append(f"  … and {len(rest) - TITLES} more")
            cut.append(f"{len(notifications)} notifications")
        lines.append("")
    return lines


# Which column of the summary each delivery status counts in.
_COLUMNS = {
    "sent": "sent",
    "dry_run": "sent",
    "deferred": "deferred",
    "skipped": "held",
    "silenced": "held",
    "muted": "held",
    "acknowledged": "held",
    "failed": "failed",
    "throttled": "failed",
}


def _detail(entries: Sequence[Mapping[str, Any]]) -> str:
    """Each distinct failure with its error (and how often); else a hold or a note (Teams' 202)."""
    for column in ("failed", "deferred", "held", "sent"):
        found: dict[str, int] = {}
        for entry in entries:
            if _COLUMNS.get(str(entry.get("status"))) == column:
                text = str(entry.get("error") or entry.get("note") or "")
                if text and not (column == "sent" and entry.get("status") == "dry_run"):
                    found[text] = found.get(text, 0) + 1
        if found:
            return "; ".join(f"{count}x {text}" if count > 1 else text for text, count in found.items())
    return ""


def _messages(entries: Sequence[Mapping[str, Any]]) -> int:
    """How many messages the entries went out in: a digest's parts count once each."""
    parts = set()
    single = 0
    for entry in entries:
        digest = entry.get("digest")
        if isinstance(digest, Mapping):
            parts.add((digest.get("title"), digest.get("part")))
        else:
            single += 1
    return single + len(parts)


def _deliveries(deliveries: Sequence[Mapping[str, Any]], *, dry_run: bool, cut: list[str]) -> list[str]:
    """One summary table: a row per receiver (or channel), its counts, and each failure's error."""
    by_receiver: dict[str, list[Mapping[str, Any]]] = {}
    for delivery in deliveries:
        name = str(delivery.get("receiver") or delivery.get("channel") or "?")
        by_receiver.setdefault(name, []).append(delivery)
    rows = []
    for name, entries in by_receiver.items():
        counts = dict.fromkeys(("sent", "deferred", "held", "failed"), 0)
        for entry in entries:
            counts[_COLUMNS.get(str(entry.get("status")), "failed")] += 1
        rows.append((name, *counts.values(), _messages(entries), _detail(entries)))
    sent = "rendered" if dry_run else "sent"
    headers = ("receiver", sent, "deferred", "held", "failed", "messages", "detail")
    lines = ["Deliveries", *table(headers, rows[:RECEIVER_ROWS])]
    if len(rows) > RECEIVER_ROWS:
        lines.append(f"  … and {len(rows) - RECEIVER_ROWS} more receivers")
        cut.append(f"{len(rows)} receivers")
    return [*lines, ""]


def _held(held: Sequence[Mapping[str, Any]], cut: list[str]) -> list[str]:
    """What was seen and not notified, with the silence that holds it and its end."""
    lines = [f"Held (not notified this run): {len(held)}"]
    for entry in held[:HELD_ROWS]:
        if entry.get("silence_id"):
            why = f"silence {entry.get('silence_id')} until {entry.get('silenced_until')}"
        elif entry.get("time_interval"):
            until = entry.get("muted_until") or "no end ahead"
            why = f"time interval {entry.get('time_interval')} until {until}"
        else:
            why = " ".join(str(entry.get("why") or "").split())
        lines.append(f"  {entry.get('fingerprint')}  {entry.get('state')}  {why}")
    if len(held) > HELD_ROWS:
        lines.append(f"  … and {len(held) - HELD_ROWS} more")
        cut.append(f"{len(held)} held")
    return [*lines, ""]


def _undelivered(lost: Sequence[Mapping[str, Any]], cut: list[str]) -> list[str]:
    lines = ["Undelivered and not remembered (no usable state store): check these channels"]
    rows = [(u.get("channel"), u.get("status"), u.get("fingerprint"), u.get("error")) for u in lost]
    lines += table(("channel", "status", "fingerprint", "error"), rows[:LOST_ROWS])
    if len(rows) > LOST_ROWS:
        lines.append(f"  … and {len(rows) - LOST_ROWS} more")
        cut.append(f"{len(rows)} undelivered")
    return [*lines, ""]


def _would_start(jobs: Sequence[Mapping[str, Any]], shown: int = 3) -> list[str]:
    """The check jobs a dry run did not start: the first few by member and listener, and how many."""
    if not jobs:
        return []
    lines = [f"Would start {len(jobs)} member check job(s) (a real run starts them):"]
    lines += [f"  member {job.get('member_id')} on listener {job.get('listener_id')}" for job in jobs[:shown]]
    if len(jobs) > shown:
        lines.append(f"  and {len(jobs) - shown} more (--output json lists them in would_start)")
    return [*lines, ""]


def _errors(errors: Sequence[Mapping[str, Any]], cut: list[str] | None = None) -> list[str]:
    """Each error with its fix; with `cut`, only the first few and how many more."""
    shown = errors if cut is None else errors[:ERRORS_SHOWN]
    lines = ["Errors"]
    for error in shown:
        status = f" (HTTP {error['status']})" if error.get("status") else ""
        lines.append(f"  {error.get('code')}{status}: {error.get('message')}")
        lines.append(f"    fix: {remedy(error)}")
    if cut is not None and len(errors) > len(shown):
        lines.append(f"  … and {len(errors) - len(shown)} more")
        cut.append(f"{len(errors)} errors")
    return lines


def _unwrapped(result: Mapping[str, Any]) -> Mapping[str, Any] | str:
    """The result itself: an API Gateway response's body parsed (its raw text when it does not parse)."""
    if "statusCode" in result and isinstance(result.get("body"), str):
        try:
            parsed: Mapping[str, Any] = json.loads(result["body"])
        except ValueError:
            return str(result.get("body"))
        return parsed
    return result


def render_errors(result: Mapping[str, Any]) -> str:
    """`invoke --quiet --output text`: only the errors, each with its fix; empty when there is none."""
    unwrapped = _unwrapped(result)
    if isinstance(unwrapped, str):
        return unwrapped
    errors = list(unwrapped.get("errors") or [])
    return "\n".join(_errors(errors)) if errors else ""


def render_result(result: Mapping[str, Any]) -> str:
    """The `invoke` result on one screen (at most SCREEN_LINES lines).

    The alert body once, one delivery summary per receiver, what was held (with the silence's end),
    errors with remedies, one summary line; what did not fit is counted and `--output json` named.
    """
    unwrapped = _unwrapped(result)
    if isinstance(unwrapped, str):
        return unwrapped
    result = unwrapped
    cut: list[str] = []
    lines: list[str] = []
    if result.get("dry_run"):
        lines += ["DRY RUN: nothing was sent, no check job was started and no state was written.", ""]
        lines += _would_start(list(result.get("would_start") or []))
    notifications = list(result.get("notifications") or [])
    lines += _notifications(notifications, cut)
    deliveries = list(result.get("deliveries") or [])
    if deliveries:
        lines += _deliveries(deliveries, dry_run=bool(result.get("dry_run")), cut=cut)
    elif notifications:
        lines += ["No channel configured: the notification went only to this output and the log.", ""]
    if result.get("held"):
        lines += _held(list(result["held"]), cut)
    if result.get("undelivered"):
        lines += _undelivered(list(result["undelivered"]), cut)
    errors = list(result.get("errors") or [])
    if errors:
        lines += [*_errors(errors, cut), ""]
    return "\n".join([*_screen(lines, cut), _summary(result)])


def _screen(lines: list[str], cut: list[str]) -> list[str]:
    """The lines cut to one screen (leaving room for the summary), and where to see the rest."""
    room = SCREEN_LINES - 2
    if len(lines) > room:
        lines = [*lines[: room - 1], "…"]
        cut.append("the rest")
    if cut:
        lines.append(f"Not all shown ({', '.join(dict.fromkeys(cut))}): --output json prints everything.")
    return lines


def _summary(result: Mapping[str, Any]) -> str:
    targets = list(result.get("targets") or [])
    assessed = sum(1 for t in targets if t.get("status") == "assessed")
    sweeps = list(result.get("sweeps") or [])
    return (
        f"{assessed} of {len(targets)} target(s) assessed"
        + (f", {len(sweeps)} sweep(s)" if sweeps else "")
        + f", {len(result.get('notifications') or [])} notification(s), {len(result.get('errors') or [])} "
        + f"error(s); de-duplication {result.get('deduplication', 'off')}"
    )
