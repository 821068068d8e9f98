"""Recurring time windows (issue 22 item 2): Alertmanager's time_intervals, parsed and evaluated. Pure."""

from __future__ import annotations

import tarfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handler.routes import RoutesError, parse
from handler.windows import TimeInterval, Window, muting, parse_windows, window_active
from handler.zones import from_bundle

BERLIN = "Europe/Berlin"


def at(text: str, zone: str = "UTC") -> float:
    """Epoch seconds of a wall time in a zone ("2027-03-28 01:59")."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def windows(*intervals: dict) -> Window:
    problems: list[str] = []
    found = parse_windows(
        [{"name": "w", "time_intervals": list(intervals)}], lambda p, t: problems.append(f"{p}: {t}")
    )
    assert problems == []
    return found["w"]


def test_times_are_end_exclusive_and_start_inclusive():
    window = windows({"times": [{"start_time": "02:00", "end_time": "04:00"}]})
    assert not window_active(window, at("2027-01-16 01:59:59"))
    assert window_active(window, at("2027-01-16 02:00"))
    assert window_active(window, at("2027-01-16 03:59:59"))
    assert not window_active(window, at("2027-01-16 04:00"))


def test_a_whole_day_is_00_00_to_24_00():
    window = windows({"times": [{"start_time": "00:00", "end_time": "24:00"}], "weekdays": ["sunday"]})
    assert window_active(window, at("2027-01-17 00:00"))
    assert window_active(window, at("2027-01-17 23:59:59"))
    assert not window_active(window, at("2027-01-18 00:00"))
    assert not window_active(window, at("2027-01-16 23:59"))


def test_weekday_ranges_and_the_location_shift_the_day():
    window = windows({"weekdays": ["monday:friday"], "location": "Asia/Shanghai"})
    # Friday 20:00 UTC is Saturday 04:00 in Shanghai.
    assert not window_active(window, at("2027-01-15 20:00"))
    assert window_active(window, at("2027-01-15 15:59"))
    # Sunday 17:00 UTC is Monday 01:00 in Shanghai.
    assert window_active(window, at("2027-01-17 17:00"))


def test_days_of_month_count_from_the_end_when_negative():
    last_week = windows({"days_of_month": ["-7:-1"]})
    assert window_active(last_week, at("2027-02-22 00:00"))
    assert not window_active(last_week, at("2027-02-21 23:59"))
    assert window_active(last_week, at("2027-01-25 00:00"))
    assert not window_active(last_week, at("2027-01-24 12:00"))
    # A range past the month's last day is cut to it; one that starts past it is not in that month.
    assert window_active(windows({"days_of_month": ["28:31"]}), at("2027-02-28 12:00"))
    assert not window_active(windows({"days_of_month": ["30:31"]}), at("2027-02-28 12:00"))
    assert window_active(windows({"days_of_month": [1, "15"]}), at("2027-02-15 12:00"))


def test_months_by_name_or_number_and_years_as_ranges():
    window = windows({"months": ["march:may", "11"], "years": ["2027:2028"]})
    assert window_active(window, at("2027-04-30 12:00"))
    assert window_active(window, at("2028-11-01 00:00"))
    assert not window_active(window, at("2027-06-01 00:00"))
    assert not window_active(window, at("2029-04-01 00:00"))
    assert window_active(windows({"months": ["December"]}), at("2027-12-31 23:59"))


def test_a_named_window_is_active_when_any_interval_is_and_an_empty_interval_always_is():
    window = windows({"weekdays": ["saturday"]}, {"weekdays": ["sunday"]})
    assert window_active(window, at("2027-01-17 09:00"))
    assert not window_active(window, at("2027-01-18 09:00"))
    assert window_active(TimeInterval(), at("2027-01-18 09:00"))


def test_the_spring_dst_gap_in_berlin_is_skipped_by_wall_time():
    window = windows({"times": [{"start_time": "01:00", "end_time": "02:30"}], "location": BERLIN})
    # 2027-03-28: at 02:00 CET clocks jump to 03:00 CEST. 00:59 UTC is 01:59 CET, 01:00 UTC is 03:00 CEST.
    assert window_active(window, at("2027-03-28 00:59"))
    assert not window_active(window, at("2027-03-28 01:00"))
    held = muting([window], [], at("2027-03-28 00:30"))
    assert held is not None
    assert held.until == at("2027-03-28 01:00")


def test_the_autumn_dst_hour_happens_twice_in_berlin():
    window = windows({"times": [{"start_time": "02:00", "end_time": "03:00"}], "location": BERLIN})
    # 2027-10-31: 03:00 CEST goes back to 02:00 CET, so 02:00-03:00 wall time covers two real hours.
    assert window_active(window, at("2027-10-31 00:30"))  # 02:30 CEST
    assert window_active(window, at("2027-10-31 01:00"))  # 02:00 CET, the second time
    assert window_active(window, at("2027-10-31 01:59"))
    assert not window_active(window, at("2027-10-31 02:00"))
    held = muting([window], [], at("2027-10-31 00:10"))
    assert held is not None
    assert held.until == at("2027-10-31 02:00")


def test_until_is_the_next_end_of_the_window_in_its_zone():
    window = windows(
        {
            "weekdays": ["saturday"],
            "times": [{"start_time": "02:00", "end_time": "04:00"}],
            "location": "Asia/Shanghai",
        }
    )
    window = Window("sat-night", window.intervals)
    held = muting([window], [], at("2027-01-16 03:00", "Asia/Shanghai"))
    assert held is not None
    assert held.until == at("2027-01-16 04:00", "Asia/Shanghai")
    assert held.why == "muted by time interval sat-night until 2027-01-15T20:00:00Z"
    assert muting([window], [], at("2027-01-16 04:00", "Asia/Shanghai")) is None


def test_outside_active_intervals_is_held_until_the_next_start():
    hours = Window(
        "office",
        windows(
            {"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}]}
        ).intervals,
    )
    held = muting([], [hours], at("2027-01-16 10:00"))  # a Saturday
    assert held is not None
    assert held.until == at("2027-01-18 09:00")
    assert held.why.startswith("outside active time interval office until 2027-01-18T09:00:00Z")
    assert muting([], [hours], at("2027-01-18 09:00")) is None


def test_a_window_that_never_ends_says_so():
    held = muting([Window("always", (TimeInterval(),))], [], at("2027-01-16 10:00"))
    assert held is not None
    assert held.until is None
    assert held.why == "muted by time interval always (no end ahead)"


ROUTING = {
    "receivers": [{"name": "ops", "slack": {"webhook": "https://hooks.slack.com/services/T/B/x"}}],
    "routes": [{"match": {"pool_name": "pay-*"}, "receivers": ["ops"], "mute_time_intervals": ["sat-night"]}],
}


def problems_of(document: dict) -> list[str]:
    with pytest.raises(RoutesError) as caught:
        parse(document, {})
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("interval", "problem"),
    [
        (
            {"weekdays": ["saturday:sunday"]},
            "weekdays[0]: 'saturday:sunday': the range ends before it begins",
        ),
        ({"weekdays": ["funday"]}, "weekdays[0]: 'funday' is not one of sunday, monday"),
        ({"days_of_month": ["0"]}, "days_of_month[0]: '0': a day of month is 1 to 31"),
        ({"days_of_month": ["5:2"]}, "days_of_month[0]: '5:2': the range ends before it begins"),
        ({"months": ["13"]}, "months[0]: '13' is not one of january"),
        ({"years": ["2028:2027"]}, "years[0]: '2028:2027': the range ends before it begins"),
        ({"times": [{"start_time": "04:00", "end_time": "02:00"}]}, "times[0]: start_time must be before"),
        (
            {"times": [{"start_time": "4:00", "end_time": "24:01"}]},
            "times[0].start_time: must be a time HH:MM",
        ),
        ({"location": "Mars/Olympus"}, "location: 'Mars/Olympus' is not a time zone"),
        ({"weekday": ["monday"]}, "weekday: is not a time interval key"),
    ],
)
def test_every_problem_in_a_time_interval_is_reported_with_its_place(interval, problem):
    document = {**ROUTING, "time_intervals": [{"name": "sat-night", "time_intervals": [interval]}]}
    found = problems_of(document)
    assert any(p.startswith("time_intervals[0].time_intervals[0].") and problem in p for p in found), found


def test_a_route_naming_an_unknown_time_interval_is_a_config_error():
    found = problems_of({**ROUTING, "time_intervals": [{"name": "weekend", "time_intervals": [{}]}]})
    assert found == [
        "routes[0].mute_time_intervals: names unknown time interval 'sat-night' (time_intervals: weekend)"
    ]
    route = {**ROUTING["routes"][0], "active_time_intervals": "office"}
    found = problems_of(
        {**ROUTING, "routes": [route], "time_intervals": [{"name": "sat-night", "time_intervals": []}]}
    )
    assert found == [
        "routes[0].active_time_intervals: must be a non-empty list of time interval names, got a string"
    ]


def test_two_time_intervals_of_one_name_are_refused():
    document = {**ROUTING, "time_intervals": [{"name": "sat-night", "time_intervals": []}] * 2}
    assert problems_of(document) == [
        "time_intervals[1].name: 'sat-night' is already the name of another time interval"
    ]


def test_the_routing_file_keeps_its_windows_and_each_routes_names():
    document = {
        **ROUTING,
        "time_intervals": [{"name": "sat-night", "time_intervals": [{"weekdays": ["saturday"]}]}],
    }
    config = parse(document, {})
    assert config.routes[0].mute == ("sat-night",)
    assert config.windows["sat-night"].intervals == (TimeInterval(weekdays=((6, 6),)),)


def test_a_zone_is_read_from_the_packaged_archive_when_the_runtime_has_none(tmp_path: Path):
    import tzdata  # noqa: PLC0415 - the runtime dependency that ships the zones

    source = Path(tzdata.__file__).parent / "zoneinfo" / BERLIN
    archive = tmp_path / "zoneinfo.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(source, arcname=f"zoneinfo/{BERLIN}")
    berlin = from_bundle(archive, BERLIN)
    assert berlin is not None
    summer = datetime(2027, 7, 1, 12, tzinfo=timezone.utc).astimezone(berlin)
    assert summer.utcoffset() is not None
    assert summer.utcoffset().total_seconds() == 7200
    assert from_bundle(archive, "Asia/Shanghai") is None
