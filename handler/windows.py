"""Recurring time windows of the routing file, in Alertmanager's shape and semantics. Pure.

    time_intervals: [{name, time_intervals: [{times, weekdays, days_of_month, months, years, location}]}]

A time interval contains an instant when every field it gives does (a field given matches when one
of its entries does; an absent field matches anything): `times` [{start_time, end_time}] "HH:MM",
end exclusive, 00:00 to 24:00; `weekdays` names or ranges (`monday:friday`); `days_of_month` 1..31
or -31..-1 counted from the month's end, or ranges (`-7:-1`); `months` names or 1..12, or ranges;
`years` or ranges (`2026:2027`); `location` an IANA zone (default UTC) the others are read in. A named
window is active when one of its time intervals is. A route with `mute_time_intervals` holds what it
routes while one of them is active; with `active_time_intervals`, while none of them is.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from handler.zones import UnknownZoneError, zone

# Sunday first, as Alertmanager (Go) numbers them: `sunday:saturday` is a week, `saturday:sunday` an error.
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
# Spelled out: calendar.month_name follows the process's locale.
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
INTERVAL_KEYS = frozenset({"times", "weekdays", "days_of_month", "months", "years", "location"})
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TIME = re.compile(r"(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))")
MAX_WINDOWS = 200
MAX_ENTRIES = 100
HORIZON_DAYS = 400
"""How far ahead the end of a window is looked for: past a year, a window that never ends says so."""

Span = tuple[int, int]
"""An inclusive range (weekdays 0 = Sunday, days of month, months, years); of minutes: end-exclusive."""


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One entry of a window's `time_intervals`: every field given must match (None: any value)."""

    times: tuple[Span, ...] | None = None
    weekdays: tuple[Span, ...] | None = None
    days_of_month: tuple[Span, ...] | None = None
    months: tuple[Span, ...] | None = None
    years: tuple[Span, ...] | None = None
    location: str = "UTC"


@dataclass(frozen=True, slots=True)
class Window:
    """A named window of the routing file's `time_intervals`: active when one of its intervals is."""

    name: str
    intervals: tuple[TimeInterval, ...] = ()


def _within(value: int, spans: tuple[Span, ...] | None) -> bool:
    return spans is None or any(begin <= value <= end for begin, end in spans)


def _day_in(day: int, last: int, spans: tuple[Span, ...] | None) -> bool:
    """Whether a day of a month with `last` days is in the spans (negative: from the end, as Alertmanager)."""
    if spans is None:
        return True
    for begin, end in spans:
        first = last + begin + 1 if begin < 0 else begin
        final = last + end + 1 if end < 0 else end
        # A range that starts after this month's last day (30 in February) is not in this month.
        if first > last:
            continue
        if max(first, 1) <= day <= min(final, last):
            return True
    return False


def contains(interval: TimeInterval, moment: datetime) -> bool:
    """Whether the interval contains a moment already in its location's time."""
    if interval.times is not None:
        minute = moment.hour * 60 + moment.minute
        if not any(start <= minute < end for start, end in interval.times):
            return False
    last = calendar.monthrange(moment.year, moment.month)[1]
    return (
        _day_in(moment.day, last, interval.days_of_month)
        and _within(moment.month, interval.months)
        and _within((moment.weekday() + 1) % 7, interval.weekdays)
        and _within(moment.year, interval.years)
    )


def window_active(interval: TimeInterval | Window, at_epoch: float) -> bool:
    """Whether a time interval (or a named window: one of its intervals) contains the instant `at_epoch`."""
    if isinstance(interval, Window):
        return any(window_active(item, at_epoch) for item in interval.intervals)
    moment = datetime.fromtimestamp(at_epoch, timezone.utc).astimezone(zone(interval.location))
    return contains(interval, moment)


def _boundaries(windows: Iterable[Window]) -> tuple[tuple[tzinfo, ...], tuple[int, ...]]:
    """The zones the windows are read in, and the minutes of a day at which one of them may change."""
    zones: dict[str, tzinfo] = {}
    minutes = {0}
    for window in windows:
        for interval in window.intervals:
            zones.setdefault(interval.location, zone(interval.location))
            for start, end in interval.times or ():
                minutes.update((start, end % 1440))
    return tuple(zones.values()), tuple(sorted(minutes))


def _changes(windows: Sequence[Window], after: float, days: int) -> list[float]:
    """Every instant after `after` (within `days`) at which a window's state can change, in order.

    Between two of them each zone's local date and minute of day cross no boundary and no UTC offset
    changes, so no window can change. A wall time repeated when clocks go back counts twice (fold).
    """
    zones, minutes = _boundaries(windows)
    found: set[float] = set()
    for tz in zones:
        local = datetime.fromtimestamp(after, timezone.utc).astimezone(tz)
        today = local.date()
        for offset in range(days + 1):
            day = today + timedelta(days=offset)
            found.update(_day_changes(day, tz, minutes))
    return sorted(moment for moment in found if moment > after)


def _day_changes(day: date, tz: tzinfo, minutes: tuple[int, ...]) -> list[float]:
    """The instants of a local day's boundary minutes (both folds), and of its UTC offset change."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    moments = [
        (start + timedelta(minutes=minute)).replace(fold=fold).timestamp()
        for minute in minutes
        for fold in (0, 1)
    ]
    begin, end = start.timestamp(), (start + timedelta(days=1)).timestamp()
    if _offset(begin, tz) != _offset(end, tz):
        moments.append(_offset_change(begin, end, tz))
    return moments


def _offset(epoch: float, tz: tzinfo) -> timedelta | None:
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(tz).utcoffset()


def _offset_change(begin: float, end: float, tz: tzinfo) -> float:
    """The first instant (to the second) in (begin, end] whose UTC offset is the one at `end`."""
    wanted = _offset(end, tz)
    low, high = int(begin), int(end)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(middle, tz) == wanted:
            high = middle
        else:
            low = middle
    return float(high)


def next_change(
    windows: Sequence[Window], now: float, held: Callable[[float], bool], days: int = HORIZON_DAYS
) -> float | None:
    """The first instant after `now` when `held` (a function of these windows) is false; None: none ahead."""
    for moment in _changes(windows, now, days):
        if not held(moment):
            return moment
    return None


@dataclass(frozen=True, slots=True)
class Muted:
    """Why a route holds what it routes now: the window's name, the sentence, until when (None: no end)."""

    window: str
    why: str
    until: float | None


def muting(mute: Sequence[Window], active: Sequence[Window], now: float) -> Muted | None:
    """Whether a route with these mute and active windows holds its notifications at `now`, and until when."""

    def held(moment: float) -> bool:
        if any(window_active(window, moment) for window in mute):
            return True
        return bool(active) and not any(window_active(window, moment) for window in active)

    if not held(now):
        return None
    until = next_change([*mute, *active], now, held)
    muting_now = next((window for window in mute if window_active(window, now)), None)
    if muting_now is not None:
        name, what = muting_now.name, f"muted by time interval {muting_now.name}"
    else:
        names = ", ".join(window.name for window in active)
        name, what = active[0].name, f"outside active time interval {names}"
    return Muted(name, f"{what} until {iso(until)}" if until is not None else f"{what} (no end ahead)", until)


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time ("2026-11-29T19:30:00Z")."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


# --- reading the routing file's time_intervals ---------------------------------------------------------

Problem = Callable[[str, str], None]
"""Report one problem: (its place in the file, what is wrong)."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(text: str, names: Sequence[str], place: str, problem: Problem) -> int | None:
    """A weekday or month by name (0-based index into `names`), or a month or day or year by number."""
    word = text.strip().lower()
    if word in names:
        return names.index(word)
    if names is MONTHS and word.isdigit() and 1 <= int(word) <= 12:
        return int(word) - 1
    if not names and re.fullmatch(r"-?[0-9]{1,4}", word):
        return int(word)
    choices = ", ".join(names) + (" or 1 to 12" if names is MONTHS else "")
    problem(place, f"{text!r} is not one of {choices}" if names else f"{text!r} is not a number")
    return None


def _spans(value: Any, field: str, place: str, problem: Problem) -> tuple[Span, ...] | None:
    """A list of entries and `begin:end` ranges of weekdays, days of month, months or years."""
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        problem(place, f"must be a list of at most {MAX_ENTRIES} entries, got {_kind(value)}")
        return None
    names: Sequence[str] = {"weekdays": WEEKDAYS, "months": MONTHS}.get(field, ())
    spans = []
    for index, given in enumerate(value):
        where = f"{place}[{index}]"
        # YAML reads `days_of_month: [1, 15]` and `years: [2026]` as numbers: they mean the same.
        numeric = isinstance(given, int) and not isinstance(given, bool) and field != "weekdays"
        item = str(given) if numeric else given
        if not isinstance(item, str):
            problem(where, f"must be a string, got {_kind(item)}")
            continue
        parts = item.split(":")
        if len(parts) > 2:
            problem(where, f"{item!r} must be one value or a range begin:end")
            continue
        numbers = [_number(part, names, where, problem) for part in parts]
        if any(number is None for number in numbers):
            continue
        begin, end = numbers[0] or 0, numbers[-1] or 0
        span = _checked(field, (begin, end), item, where, problem)
        if span is not None:
            spans.append(span)
    return tuple(spans)


def _checked(field: str, span: Span, item: str, where: str, problem: Problem) -> Span | None:
    """A range as Alertmanager accepts it: in bounds, begin not after end (days: when of one sign)."""
    begin, end = span
    if field == "days_of_month":
        if any(day == 0 or abs(day) > 31 for day in (begin, end)):
            problem(where, f"{item!r}: a day of month is 1 to 31, or -31 to -1 counted from the end")
            return None
        if (begin < 0) == (end < 0) and begin > end:
            problem(where, f"{item!r}: the range ends before it begins")
            return None
        return begin, end
    if field == "years" and (begin < 1 or end < 1):
        problem(where, f"{item!r}: a year is a positive number")
        return None
    if begin > end:
        problem(where, f"{item!r}: the range ends before it begins")
        return None
    return (begin + 1, end + 1) if field == "months" else (begin, end)


def _minute(value: Any, place: str, problem: Problem) -> int | None:
    found = _TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        problem(place, f"must be a time HH:MM from 00:00 to 24:00, got {value!r}")
        return None
    hour, minute = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), found.group(4))
    return int(hour) * 60 + int(minute)


def _times(value: Any, place: str, problem: Problem) -> tuple[Span, ...] | None:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        problem(
            place, f"must be a list of at most {MAX_ENTRIES} {{start_time, end_time}}, got {_kind(value)}"
        )
        return None
    spans = []
    for index, item in enumerate(value):
        where = f"{place}[{index}]"
        if not isinstance(item, Mapping):
            problem(where, f"must be an object with start_time and end_time, got {_kind(item)}")
            continue
        for key in sorted(str(k) for k in item if k not in {"start_time", "end_time"}):
            problem(f"{where}.{key}", "is not a time range key: use start_time, end_time")
        start = _minute(item.get("start_time"), f"{where}.start_time", problem)
        end = _minute(item.get("end_time"), f"{where}.end_time", problem)
        if start is None or end is None:
            continue
        if start >= end:
            problem(where, "start_time must be before end_time (a range past midnight is two ranges)")
            continue
        spans.append((start, end))
    return tuple(spans)


def _location(value: Any, place: str, problem: Problem) -> str | None:
    if not isinstance(value, str) or not value:
        problem(place, f"must be an IANA time zone name such as Asia/Shanghai, got {_kind(value)}")
        return None
    try:
        zone(value)
    except UnknownZoneError as exc:
        problem(place, str(exc))
        return None
    return value


def _interval(value: Any, place: str, problem: Problem) -> TimeInterval | None:
    if not isinstance(value, Mapping):
        problem(place, f"must be an object of {', '.join(sorted(INTERVAL_KEYS))}, got {_kind(value)}")
        return None
    for key in sorted(str(k) for k in value if k not in INTERVAL_KEYS):
        problem(f"{place}.{key}", f"is not a time interval key: use {', '.join(sorted(INTERVAL_KEYS))}")
    fields: dict[str, Any] = {
        key: _spans(value[key], key, f"{place}.{key}", problem)
        for key in ("weekdays", "days_of_month", "months", "years")
        if key in value
    }
    if "times" in value:
        fields["times"] = _times(value["times"], f"{place}.times", problem)
    if "location" in value:
        location = _location(value["location"], f"{place}.location", problem)
        if location is None:
            return None
        fields["location"] = location
    if any(spans is None for key, spans in fields.items() if key != "location"):
        return None
    return TimeInterval(**fields)


def parse_windows(value: Any, problem: Problem, place: str = "time_intervals") -> dict[str, Window]:
    """The routing file's `time_intervals` by name; each problem reported with its place."""
    if not isinstance(value, list) or len(value) > MAX_WINDOWS:
        problem(
            place, f"must be a list of at most {MAX_WINDOWS} {{name, time_intervals}}, got {_kind(value)}"
        )
        return {}
    found: dict[str, Window] = {}
    for index, item in enumerate(value):
        where = f"{place}[{index}]"
        if not isinstance(item, Mapping):
            problem(where, f"must be an object with name and time_intervals, got {_kind(item)}")
            continue
        for key in sorted(str(k) for k in item if k not in {"name", "time_intervals"}):
            problem(f"{where}.{key}", "is not a time_intervals key: use name, time_intervals")
        name = item.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problem(f"{where}.name", f"must be a name ([A-Za-z0-9_.-]{{1,64}}), got {_kind(name)}")
            continue
        if name in found:
            problem(f"{where}.name", f"{name!r} is already the name of another time interval")
            continue
        entries = item.get("time_intervals")
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            problem(f"{where}.time_intervals", f"must be a list of time intervals, got {_kind(entries)}")
            continue
        intervals = [
            _interval(entry, f"{where}.time_intervals[{position}]", problem)
            for position, entry in enumerate(entries)
        ]
        found[name] = Window(name, tuple(interval for interval in intervals if interval is not None))
    return found
