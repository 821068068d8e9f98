"""`make bench` judges itself: a row that misses its target says MISSED and the run exits non-zero."""

from __future__ import annotations

import io
import time

from tests.bench.run import MISSED, Heartbeat, Row, exit_status, table_lines


def test_a_missed_row_says_missed_beside_its_result_and_the_run_fails():
    rows = [
        Row("warm", "6.63 ms vs 5.94 ms = 1.12x", "<= 1.10x", met=False),
        Row("import", "2.7 ms", "< 20 ms", met=True),
        Row("cold 3.13", "NOT MEASURED: no CPython 3.13", "-"),
    ]
    lines = table_lines(rows)
    assert lines[:2] == ["| measurement | result | target |", "|---|---|---|"]
    assert lines[2] == f"| warm | **{MISSED}** 6.63 ms vs 5.94 ms = 1.12x | <= 1.10x |"
    assert lines[3] == "| import | 2.7 ms | < 20 ms |"
    assert MISSED not in lines[4]  # not measured is not missed
    assert exit_status(rows) == 1


def test_every_row_met_or_not_measured_exits_0():
    assert exit_status([Row("a", "1", "< 2", met=True), Row("b", "NOT MEASURED", "-")]) == 0


def test_a_long_measurement_says_it_still_runs_at_least_every_interval():
    stream = io.StringIO()
    beat = Heartbeat(every=0.2, stream=stream)
    beat.start("storm: 500 failed masters")
    time.sleep(0.75)
    beat.stop.set()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("] storm: 500 failed masters")
    stills = [line for line in lines if "still running: storm: 500 failed masters" in line]
    assert 2 <= len(stills) <= 4


def test_a_ratio_is_judged_as_the_table_shows_it():
    from tests.bench.run import within  # noqa: PLC0415

    assert within(0.904, 0.90)  # shown as 0.90x: meets "<= 0.90x"
    assert not within(0.906, 0.90)  # shown as 0.91x
    assert not within(1.23, 1.10)


def test_one_duration_is_stated_everywhere():
    from tests.support import ROOT  # noqa: PLC0415

    for name in ("Makefile", "README.md", "docs/reference.md", "BENCHMARKS.md", "tests/bench/run.py"):
        text = " ".join((ROOT / name).read_text(encoding="utf-8").split())
        assert "about 5 minutes" in text, name
        assert "about 2 min" not in text
        assert "about five minutes" not in text
