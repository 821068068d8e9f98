"""Stage report: a `{"report": "weekly"}` event sends the history's summary to the receivers, as one message.

The episodes come from the store (`StateStore.episodes`), the summary and its wording from
`handler.report` (pure); the message goes through the normal channel layer (`handler.sending`: pacing,
retries, the deadline, the ledger-free path `channels test` uses too), one record of kind `report` to
each receiver (or to those the event's `channels` name). A store that cannot be read is one
REPORT.UNAVAILABLE error; with no receiver the report is only in the result and the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handler import report
from handler.domain import Notification
from handler.notifying import Notified
from handler.receivers import widen
from handler.result import error_entry
from handler.sending import channel_layer
from handler.state import StoreUnavailable

if TYPE_CHECKING:
    from handler.events import ReportRequest
    from handler.run_context import RunContext
    from handler.wiring import Wiring

UNAVAILABLE = "REPORT.UNAVAILABLE"


def send_report(
    request: ReportRequest, notified: Notified, run: RunContext, wiring: Wiring
) -> tuple[Notified, list[dict[str, Any]]]:
    """The run's notifications and deliveries with the report's, and the report's errors (each logged)."""
    if wiring.store is None:
        why = "no state store (ELB_WATCH_STATE=off): the history lives there"
        return notified, [_error(UNAVAILABLE, why, run)]
    try:
        kept = wiring.store.episodes()
    except StoreUnavailable as exc:
        return notified, [_error(UNAVAILABLE, f"the history cannot be read: {exc.message}", run)]
    now = run.clock()
    since = now - report.REPORT_DAYS * 86400.0
    found = report.summary(report.within(kept, since))
    record = report.report_record(found, since=since, now=now, locale=run.settings.locale)
    names = [channel.name for channel in wiring.channels]
    if request.channels is not None:
        names = list(widen(request.channels, wiring.channels))
    message = Notification.of(record)
    # No receiver: the report is in the result and the log, like a finding with no channel.
    answers = channel_layer(run, wiring)([(message, name) for name in names]) if names else []
    kinds = {channel.name: channel.type for channel in wiring.channels}
    deliveries = [
        {**answer, "fingerprint": message.fingerprint, "receiver": name, "channel": kinds[name]}
        for name, answer in zip(names, answers, strict=False)
    ]
    run.log.info(
        "report.sent",
        report=request.kind,
        episodes=len(found["episodes"]),
        pools=len(found["pools"]),
        sent=sum(1 for entry in deliveries if entry.get("status") == "sent"),
    )
    return (
        Notified(
            (*notified.notifications, message),
            (*notified.deliveries, *deliveries),
            notified.held,
            notified.undelivered,
            notified.dedup,
        ),
        [],
    )


def _error(code: str, message: str, run: RunContext) -> dict[str, Any]:
    run.log.error("report.failed", code=code, message=message)
    return error_entry(code, message)
