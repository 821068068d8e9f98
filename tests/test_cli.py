"""The CLI as a user runs it: a separate process, JSON on stdout only, logs on stderr, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import EVENTS, ROOT

SCENARIO = str(EVENTS / "scenarios" / "demo.json")
FAST = {"ELB_WATCH_POLL_INTERVAL_SECONDS": "0.05", "ELB_WATCH_RETRY_BASE_SECONDS": "0.02"}


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ELB_WATCH_", "HUAWEICLOUD_SDK_"))}
    return subprocess.run(
        [sys.executable, "-m", "handler", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        # The test's own temp directory (conftest): the default state store never lands in the real /tmp.
        env={**clean, **FAST, "TMPDIR": tempfile.gettempdir(), **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("event", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_runs_on_the_simulator(event):
    done = cli("invoke", f"events/{event}", "--simulate", SCENARIO)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is exactly one JSON document
    if "statusCode" in result:
        result = json.loads(result["body"])
    assert result["ok"] is True
    assert result["notifications"], "every sample names the failed demo master or its failing check"
    assert all(n["title"].startswith("[") for n in result["notifications"])


def test_logs_go_to_stderr_as_json_lines():
    done = cli("invoke", "events/direct.json", "--simulate", SCENARIO)
    log_events = [json.loads(line)["event"] for line in done.stderr.splitlines() if line.startswith("{")]
    assert "notification" in log_events
    assert log_events[-1] == "invocation.done"


def test_invalid_event_exits_2_with_a_clear_error():
    done = cli("invoke", "-", "--simulate", SCENARIO, stdin='{"pool_id": 7}')
    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["errors"][0]["message"] == "pool_id must be a string, got a number"


def test_text_that_is_not_json_exits_2():
    done = cli("invoke", "-", stdin="hello")
    assert done.returncode == 2
    assert "not valid JSON" in json.loads(done.stdout)["errors"][0]["message"]


def test_unassessable_target_exits_1():
    done = cli("invoke", "-", "--simulate", SCENARIO, stdin='{"pool_id": "no-such-pool"}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"][0]["status"] == 404


def test_timeout_flag_bounds_a_job_that_never_finishes(tmp_path: Path):
    scenario = json.loads(Path(SCENARIO).read_text(encoding="utf-8"))
    scenario["jobs"][0]["processing_reads"] = -1
    path = tmp_path / "stuck.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    done = cli("invoke", "events/job_only.json", "--simulate", str(path), "--timeout", "2")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["errors"][0]["code"] == "WATCH.CHECK_JOB_INCOMPLETE"
    assert result["targets"][0]["check"] == "processing"


def test_missing_event_file_is_reported():
    done = cli("invoke", "events/does-not-exist.json")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert done.stdout == ""


def test_simulator_credentials_override_real_ones_so_nothing_real_is_sent():
    done = cli(
        "invoke",
        "events/direct.json",
        "--simulate",
        SCENARIO,
        env={"HUAWEICLOUD_SDK_AK": "REALAKNEVERSENT00001", "HUAWEICLOUD_SDK_SK": "real-secret-never-sent"},
    )
    assert done.returncode == 0
    assert "real-secret-never-sent" not in done.stdout + done.stderr


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "inf", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(seconds: str):
    # Before: accepted, and reported as "[CRITICAL] … cannot read ELB: WATCH.TIMEOUT", stored, paged.
    done = cli("invoke", "events/direct.json", "--simulate", SCENARIO, f"--timeout={seconds}")
    assert done.returncode == 64
    assert "--timeout" in done.stderr
    assert done.stdout == ""
    tested = cli("channels", "test", f"--timeout={seconds}")
    assert tested.returncode == 64


# -- conventions: global flags, --quiet, --help, unknown options ---------------------------------------


def test_output_is_accepted_before_the_command_and_after_it(tmp_path):
    env = {"ELB_WATCH_STATE": f"sqlite:///{tmp_path / 'state.db'}"}
    for args in (
        ("-o", "json", "alerts", "list"),
        ("alerts", "list", "-o", "json"),
        ("alerts", "-o", "json", "list"),
    ):
        done = cli(*args, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []
    before = cli("-o", "text", "silence", "list", env=env)
    assert before.stdout.strip() == "No active silence."
    after = cli("--output=json", "invoke", "events/direct.json", "--simulate", SCENARIO)
    assert json.loads(after.stdout)["notifications"]


def test_quiet_prints_no_text_but_keeps_the_exit_status_errors_and_asked_for_json(tmp_path):
    env = {"ELB_WATCH_STATE": f"sqlite:///{tmp_path / 'state.db'}"}
    quiet = cli("-q", "invoke", "events/direct.json", "--simulate", SCENARIO, "-o", "text", env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    broken = cli("invoke", "events/direct.json", "--simulate", "broken-credentials", "-o", "text", "--quiet")
    assert broken.returncode == 1
    assert broken.stdout.startswith("Errors\n")
    assert "fix: the AK/SK (or token) was refused" in broken.stdout
    assert "target(s) assessed" not in broken.stdout
    listed = cli("alerts", "list", "-o", "text", "-q", env=env)
    assert (listed.returncode, listed.stdout) == (0, "")
    assert json.loads(cli("-q", "alerts", "list", "-o", "json", env=env).stdout)[0]["state"] == "firing"
    added = cli("-q", "silence", "add", "--pool", "p", "--for", "1h", env=env)
    assert added.returncode == 0
    assert len(added.stdout.strip()) == 36  # the id is the answer, quiet or not
    assert added.stderr == ""  # no "silenced ... until" confirmation
    missing = cli("-q", "silence", "expire", "no-such-id", env=env)
    assert missing.returncode == 1
    assert "no silence 'no-such-id'" in missing.stderr  # errors stay


def _every_parser(parser, path=()):
    import argparse  # noqa: PLC0415

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _every_parser(child, (*path, name))


def test_every_help_shows_an_example_the_variables_it_reads_and_its_exit_codes():
    from handler.cli import _parser  # noqa: PLC0415

    seen = []
    for path, parser in _every_parser(_parser()):
        text = parser.format_help()
        seen.append(" ".join(path))
        for part in ("example:\n  ", "elb-master-watch ", "environment:\n  ", "exit status:\n  "):
            assert part in text, f"`{' '.join(path)} --help` lacks {part!r}"
    assert {"invoke", "channels test", "alerts list", "silence add", "silence expire", "package"} <= set(seen)
    shown = cli("silence", "expire", "--help")
    assert shown.returncode == 0
    assert "1 no such silence, it had already ended" in shown.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--versoin",), "unknown option --versoin (did you mean --version?)"),
        (("alerts", "list", "--bogus"), "unknown option --bogus"),
        (("invoke", "--dry-rn", "events/direct.json"), "unknown option --dry-rn (did you mean --dry-run?)"),
        (("silence", "add", "--pool", "p", "--for", "1h", "--coment", "x"), "unknown option --coment"),
    ],
)
def test_an_unknown_option_is_named_and_exits_64(args, named):
    done = cli(*args)
    assert done.returncode == 64
    assert named in done.stderr
    assert "arguments are required" not in done.stderr
    assert done.stdout == ""


def test_an_abbreviated_option_is_not_called_unknown():
    done = cli("invoke", "events/direct.json", "--sim", SCENARIO, "--output", "yaml")
    assert done.returncode == 64
    assert "invalid choice: 'yaml'" in done.stderr
    assert "unknown option" not in done.stderr
