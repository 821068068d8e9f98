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
        "CONFIG.INVALID": "fix the variable named above (the README lists every setting)",
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
    return "see the message; the README's troubleshooting table lists the usual causes"


def _notification(record: Mapping[str, Any]) -> list[str]:
    tags = [
        str(record.get(key))
        for key in ("status", "severity", "kind", "notification_reason")
        if record.get(key) not in (None, "")
    ]
    lines = [str(record.get("title") or record.get("kind") or "?")]
    lines.append(f"  {' · '.join(tags)} · fingerprint {record.get('fingerprint', '?')}")
    lines.extend(f"  {line}" for line in str(record.get("text") or "").splitlines())
    return lines


def _deliveries(deliveries: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> list[str]:
    by_channel: dict[str, list[Mapping[str, Any]]] = {}
    for delivery in deliveries:
        by_channel.setdefault(str(delivery.get("channel", "?")), []).append(delivery)
    lines: list[str] = []
    for channel, entries in by_channel.items():
        sent = sum(1 for entry in entries if entry.get("status") == "sent")
        lines.append(f"Deliveries to {channel}: {sent} of {len(entries)} sent")
        rows = []
        for entry in entries:
            digest = entry.get("digest")
            part = (
                f" (digest {digest.get('part')}/{digest.get('parts')})" if isinstance(digest, Mapping) else ""
            )
            fingerprint = str(entry.get("fingerprint") or "")
            rows.append(
                (
                    entry.get("status"),
                    entry.get("attempts"),
                    (titles.get(fingerprint) or fingerprint) + part,
                    entry.get("error") or entry.get("note"),
                )
            )
        lines.extend(table(("status", "attempts", "notification", "detail"), rows))
    return lines


def render_result(result: Mapping[str, Any]) -> str:
    """The `invoke` result as text: notifications, deliveries per channel, held, errors with remedies."""
    if "statusCode" in result and isinstance(result.get("body"), str):
        try:
            result = json.loads(result["body"])
        except ValueError:
            return str(result.get("body"))
    lines: list[str] = []
    if result.get("dry_run"):
        lines += ["DRY RUN: nothing was sent and no state was written.", ""]
    notifications = list(result.get("notifications") or [])
    for record in notifications:
        lines += [*_notification(record), ""]
    if not notifications:
        lines += ["No notification this run.", ""]
    titles = {str(n.get("fingerprint")): str(n.get("title") or "") for n in notifications}
    deliveries = list(result.get("deliveries") or [])
    if deliveries:
        lines += [*_deliveries(deliveries, titles), ""]
    elif notifications:
        lines += ["No channel configured: the notification went only to this output and the log.", ""]
    held = list(result.get("held") or [])
    if held:
        lines.append("Held (not notified this run)")
        lines += table(
            ("fingerprint", "state", "why"),
            [(h.get("fingerprint"), h.get("state"), h.get("why")) for h in held],
        )
        lines.append("")
    lost = list(result.get("undelivered") or [])
    if lost:
        lines.append("Undelivered and not remembered (no usable state store): check these channels")
        rows = [(u.get("channel"), u.get("status"), u.get("fingerprint"), u.get("error")) for u in lost]
        lines += table(("channel", "status", "fingerprint", "error"), rows)
        lines.append("")
    errors = list(result.get("errors") or [])
    if errors:
        lines.append("Errors")
        for error in errors:
            status = f" (HTTP {error['status']})" if error.get("status") else ""
            lines.append(f"  {error.get('code')}{status}: {error.get('message')}")
            lines.append(f"    fix: {remedy(error)}")
        lines.append("")
    targets = list(result.get("targets") or [])
    assessed = sum(1 for t in targets if t.get("status") == "assessed")
    sweeps = list(result.get("sweeps") or [])
    summary = (
        f"{assessed} of {len(targets)} target(s) assessed"
        + (f", {len(sweeps)} sweep(s)" if sweeps else "")
        + f", {len(notifications)} notification(s), {len(errors)} error(s); "
        + f"de-duplication {result.get('deduplication', 'off')}"
    )
    lines.append(summary)
    return "\n".join(lines)
