"""The operator's tool, as a user runs it: a separate process against loopback receivers and real stores.

Text output, --dry-run, channels test, alerts list, silences, exit codes, --version, scenarios by name.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from elb_simulator import DEFAULT_AK, DEFAULT_SK, scenario_names
from handler.channels import render
from handler.commands import sample_record
from handler.logs import console_view
from handler.textview import emit, render_result
from tests.receivers import Receivers, Reply, preview, running_receivers
from tests.support import DEMO_POOL, ROOT

pytest_plugins = ("tests.redis_server",)

FAST = {
    "ELB_WATCH_POLL_INTERVAL_SECONDS": "0.05",
    "ELB_WATCH_RETRY_BASE_SECONDS": "0.02",
    "ELB_WATCH_MAX_ATTEMPTS": "2",
}
DIRECT = str(ROOT / "events" / "direct.json")
SWEEP = str(ROOT / "events" / "sweep.json")


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ELB_WATCH_", "HUAWEICLOUD_SDK_"))}
    return subprocess.run(
        [sys.executable, "-m", "handler", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **FAST, **(env or {})},
        input=stdin,
        timeout=90,
        check=False,
    )


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """All six receivers; SMN accepts the simulator's keys (what `--simulate` signs with)."""
    with running_receivers(secret="local-signing-secret", smn_ak=DEFAULT_AK, smn_sk=DEFAULT_SK) as found:
        yield found


def counts(receivers: Receivers) -> dict[str, int]:
    return {type(r).__name__: len(r.accepted) for r in receivers.all()}


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"ELB_WATCH_STATE": f"sqlite:///{tmp_path / 'state.db'}"}


# -- invoke --output text ----------------------------------------------------------------------------


def test_text_output_reads_like_the_alert_then_one_delivery_summary(receivers):
    done = cli("invoke", DIRECT, "--simulate", "demo", "--output", "text", env=receivers.env())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[MAJOR] web-pool: master web-master-1 down")
    # The reasons are plain lines, not one JSON string full of \n.
    assert any(line.strip().startswith("Why: RESPONSE_MISMATCH") for line in lines)
    assert any("security group: healthCheck source IP 100.125.0.0/16" in line for line in lines)
    assert "\\n" not in done.stdout
    # The alert once, then one summary table: a row per channel with its counts.
    assert done.stdout.count("web-pool: master web-master-1 down") == 1
    assert "  RECEIVER  SENT  DEFERRED  HELD  FAILED  MESSAGES  DETAIL" in done.stdout
    for channel in ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink"):
        assert [channel, "1", "0", "0", "0", "1"] in [line.split()[:6] for line in lines]
    assert set(counts(receivers).values()) == {1}


def test_output_is_json_when_piped_and_text_only_when_asked():
    done = cli("invoke", DIRECT, "--simulate", "demo")
    assert json.loads(done.stdout)["notifications"][0]["title"].startswith("[MAJOR]")
    assert json.loads(done.stdout)["dry_run"] is False


def test_text_output_gives_each_error_its_remedy():
    done = cli("invoke", DIRECT, "--simulate", "broken-credentials", "-o", "text")
    assert done.returncode == 1
    assert "APIGW.0301 (HTTP 401)" in done.stdout
    assert "fix: the AK/SK (or token) was refused" in done.stdout


def test_a_diagnosis_denied_by_iam_names_the_switch_and_the_action(tmp_path):
    scenario = json.loads((ROOT / "events" / "scenarios" / "demo.json").read_text(encoding="utf-8"))
    denied = {
        "error_code": "ELB.1007",
        "error_msg": "Policy doesn't allow elb:members:create to be performed.",
    }
    scenario["faults"] = [
        {"method": "POST", "path": "health-check", "status": 403, "body": json.dumps(denied)}
    ]
    path = tmp_path / "denied.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    done = cli("invoke", "-", "--simulate", str(path), "-o", "json", stdin=json.dumps({"pool_id": DEMO_POOL}))
    assert done.returncode == 1
    result = json.loads(done.stdout)
    [error] = result["errors"]
    assert error["status"] == 403
    assert "ELB_WATCH_DIAGNOSE=off" in error["message"]
    assert "elb:members:create" in error["message"]
    assert result["notifications"][0]["kind"] == "master_failed"  # still notified, without the job's reasons


# -- exit codes, --version, usage ----------------------------------------------------------------


def test_a_failed_delivery_exits_3(receivers):
    receivers.slack.fail_with(Reply(500, "boom"), Reply(500, "boom"))
    done = cli("invoke", DIRECT, "--simulate", "demo", "-o", "json", env=receivers.env())
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    statuses = {d["channel"]: d["status"] for d in result["deliveries"]}
    assert statuses["slack"] == "failed"
    assert statuses["feishu"] == "sent"
    receivers.slack.fail_with(Reply(500, "boom"), Reply(500, "boom"))
    # Without a store nothing remembers that slack is owed the alert: the text view says so.
    without_store = {**receivers.env(), "ELB_WATCH_STATE": "off"}
    text = cli("invoke", DIRECT, "--simulate", "demo", "-o", "text", env=without_store)
    assert text.returncode == 3
    slack = next(line.split() for line in text.stdout.splitlines() if line.split()[:1] == ["slack"])
    assert slack[1:6] == ["0", "0", "0", "1", "1"]  # the summary row: 1 failed, with its error
    assert len(slack) > 6
    assert "Undelivered and not remembered (no usable state store)" in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("invoke",),
        ("invoke", DIRECT, "--output", "yaml"),
        ("silence", "add", "--for", "1h"),
        ("silence", "add", "--pool", "p", "--fingerprint", "f", "--for", "1h"),
        ("silence", "add", "--pool", "p", "--for", "soon"),
        ("channels", "test", "--channel", "pager"),
    ],
)
def test_usage_errors_exit_64(args, tmp_path):
    done = cli(*args, env=sqlite_env(tmp_path))
    assert done.returncode == 64, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip()


def test_version():
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == "elb-master-watch 0.1.0"


# -- scenarios by name ---------------------------------------------------------------------------


def test_scenarios_by_name_work_from_any_directory(tmp_path):
    assert scenario_names() == ["broken-credentials", "demo", "outage", "recovered", "storm"]
    done = cli("invoke", DIRECT, "--simulate", "outage", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["notifications"][0]["title"].startswith("[CRITICAL]")


def test_a_bad_scenario_name_lists_the_names():
    done = cli("invoke", DIRECT, "--simulate", "outgae")
    assert done.returncode == 64
    assert "broken-credentials, demo, outage, recovered, storm" in done.stderr


def test_the_old_scenario_path_still_works():
    done = cli("invoke", DIRECT, "--simulate", "events/scenarios/demo.json")
    assert done.returncode == 0, done.stderr


def test_demo_then_recovered_shows_a_resolved_notice(tmp_path):
    env = {**sqlite_env(tmp_path), "ELB_WATCH_RESOLVE_AFTER": "1"}
    assert cli("invoke", DIRECT, "--simulate", "demo", env=env).returncode == 0
    done = cli("invoke", DIRECT, "--simulate", "recovered", "-o", "text", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[RESOLVED] web-pool: master web-master-1 is back ONLINE")


def test_the_storm_scenario_sends_digests(receivers):
    env = {**receivers.env(), "ELB_WATCH_SMN_TOPIC_URN": ""}
    done = cli("invoke", SWEEP, "--simulate", "storm", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["notifications"]) > 10
    assert all("digest" in d for d in result["deliveries"])
    assert len(receivers.feishu.accepted) < len(result["notifications"])


# -- channels test ----------------------------------------------------------------------------------


def test_channels_test_sends_one_marked_message_to_each_channel(receivers):
    env = {**receivers.env(), "HUAWEICLOUD_SDK_AK": DEFAULT_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_SK}
    done = cli("channels", "test", "-o", "text", env=env)
    assert done.returncode == 0, done.stderr
    assert set(counts(receivers).values()) == {1}
    for receiver in receivers.all():
        assert "[TEST] elb-master-watch" in preview(receiver.accepted[0])[0]
    for channel in ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook"):
        assert any(line.split()[:2] == [channel, "sent"] for line in done.stdout.splitlines())


def test_channels_test_with_a_receiver_down_exits_non_zero_naming_it(receivers):
    env = {**receivers.env(), "HUAWEICLOUD_SDK_AK": DEFAULT_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_SK}
    down = receivers.wecom.url
    receivers.wecom.__exit__(None, None, None)  # the WeCom receiver stops listening
    done = cli("channels", "test", "-o", "json", env={**env, "ELB_WATCH_WECOM_WEBHOOK": down})
    assert done.returncode == 3
    report = {r["channel"]: r for r in json.loads(done.stdout)["channels"]}
    assert report["wecom"]["status"] == "failed"
    assert report["wecom"]["error"]
    assert all(r["status"] == "sent" for name, r in report.items() if name != "wecom")
    assert "not delivered to: wecom" in done.stderr


def test_channels_test_of_one_channel_and_of_none(receivers):
    done = cli("channels", "test", "--channel", "slack", env=receivers.env())
    assert done.returncode == 0, done.stderr
    assert counts(receivers)["SlackReceiver"] == 1
    assert counts(receivers)["FeishuReceiver"] == 0
    nothing = cli("channels", "test")
    assert nothing.returncode == 1
    assert "no channel is configured" in nothing.stderr
    slack_only = cli("channels", "test", "--channel", "slack")
    assert slack_only.returncode == 1
    assert "the slack channel is not configured: set its ELB_WATCH_* variable" in slack_only.stderr
    assert "docs/reference.md" in slack_only.stderr


def test_a_failed_channels_test_prints_no_sent_header(receivers):
    down = receivers.slack.url
    receivers.slack.__exit__(None, None, None)
    done = cli("channels", "test", "--channel", "slack", "-o", "text", env={"ELB_WATCH_SLACK_WEBHOOK": down})
    assert done.returncode == 3
    assert "Sent " not in done.stdout
    assert done.stdout.startswith("Not sent '[TEST] elb-master-watch")
    assert "to any of 1 channel(s)" in done.stdout
    keys = {"HUAWEICLOUD_SDK_AK": DEFAULT_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_SK}
    partly = cli(
        "channels", "test", "-o", "text", env={**receivers.env(), **keys, "ELB_WATCH_SLACK_WEBHOOK": down}
    )
    assert partly.returncode == 3
    assert partly.stdout.startswith("Sent '[TEST] elb-master-watch")
    assert " to 7 of 8 channel(s):" in partly.stdout.splitlines()[0]


def test_channels_test_says_a_teams_202_means_accepted_by_the_flow(receivers):
    json_run = cli("channels", "test", "--channel", "teams", "-o", "json", env=receivers.env())
    assert json_run.returncode == 0, json_run.stderr
    [report] = json.loads(json_run.stdout)["channels"]
    assert (report["channel"], report["status"], report["error"]) == ("teams", "sent", None)
    assert report["note"].startswith("accepted by the Teams workflow (HTTP 202)")
    text_run = cli("channels", "test", "--channel", "teams", "-o", "text", env=receivers.env())
    assert "not proof it was posted" in " ".join(text_run.stdout.split())
    slack = cli("channels", "test", "--channel", "slack", "-o", "json", env=receivers.env())
    assert "note" not in json.loads(slack.stdout)["channels"][0]


def test_text_output_shows_the_teams_note_as_the_deliverys_detail():
    delivery = {"fingerprint": "fp", "channel": "teams", "status": "sent", "attempts": 1, "error": None}
    delivery["note"] = "accepted by the Teams workflow (HTTP 202): not proof it was posted"
    stream = io.StringIO()
    emit(render_result({"notifications": [], "errors": [], "deliveries": [delivery]}), stream)
    assert "accepted by the Teams workflow (HTTP 202)" in stream.getvalue()


def test_the_service_error_is_shown(receivers):
    receivers.feishu.fail_with(
        *[
            Reply(
                200,
                {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                },
            )
        ]
        * 3
    )
    done = cli("channels", "test", "--channel", "feishu", "-o", "json", env=receivers.env())
    assert done.returncode == 3
    [report] = json.loads(done.stdout)["channels"]
    assert "19021" in report["error"]


# -- silences, alerts list, dry run against real stores -------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request, tmp_path) -> dict[str, str]:
    if request.param == "sqlite":
        return sqlite_env(tmp_path)
    return {"ELB_WATCH_STATE": request.getfixturevalue("redis_url")}


def run_demo(env: dict[str, str], *extra: str) -> dict[str, Any]:
    done = cli("invoke", DIRECT, "--simulate", "demo", "-o", "json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_silence_holds_the_alert_until_it_is_expired(receivers, store_env):
    env = {**receivers.env(), **store_env}
    added = cli("silence", "add", "--pool", DEMO_POOL, "--for", "2h", "--comment", "maintenance", env=env)
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    assert len(silence_id) == 36

    held = run_demo(env)
    assert held["notifications"] == []
    assert set(counts(receivers).values()) == {0}
    [entry] = held["held"]
    assert entry["silence_id"] == silence_id
    assert entry["state"] == "firing"
    assert entry["silenced_until"].endswith("Z")
    assert silence_id in entry["why"]
    assert {d["status"] for d in held["deliveries"]} == {"silenced"}

    listed = json.loads(cli("alerts", "list", "-o", "json", env=env).stdout)
    [alert] = listed
    assert alert["state"] == "firing"
    assert alert["kind"] == "master_failed"
    assert alert["pool"] == {"id": DEMO_POOL, "name": "web-pool"}
    assert alert["member"] == "web-master-1"
    assert alert["silenced_by"] == silence_id
    assert sorted(alert["pending_channels"]) == sorted(
        ["smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams"]
    )

    silences = json.loads(cli("silence", "list", "-o", "json", env=env).stdout)
    assert [(s["id"], s["matcher"], s["comment"]) for s in silences] == [
        (silence_id, {"pool": DEMO_POOL}, "maintenance")
    ]
    assert set(silences[0]) >= {"id", "matcher", "ends_at", "comment"}

    expired = cli("silence", "expire", silence_id, env=env)
    assert expired.returncode == 0, expired.stderr
    assert json.loads(cli("silence", "list", "-o", "json", env=env).stdout) == []

    after = run_demo(env)
    [notified] = after["notifications"]
    assert notified["notification_reason"] == "first"
    assert set(counts(receivers).values()) == {1}
    assert run_demo(env)["notifications"] == []  # notified once, not again
    assert set(counts(receivers).values()) == {1}
    [alert] = json.loads(cli("alerts", "list", "-o", "json", env=env).stdout)
    assert alert["silenced_by"] is None
    assert alert["pending_channels"] == []
    assert alert["last_notified"] is not None


def test_a_fingerprint_silence_and_expiring_an_unknown_silence(receivers, tmp_path):
    env = {**receivers.env(), **sqlite_env(tmp_path)}
    fingerprint = run_demo({**sqlite_env(tmp_path / "other")}, "--dry-run")["notifications"][0]["fingerprint"]
    assert cli("silence", "add", "--fingerprint", fingerprint, "--for", "30m", env=env).returncode == 0
    assert run_demo(env)["held"][0]["fingerprint"] == fingerprint
    assert set(counts(receivers).values()) == {0}
    missing = cli("silence", "expire", "no-such-id", env=env)
    assert missing.returncode == 1
    assert "no silence 'no-such-id'" in missing.stderr


def test_expiring_a_silence_twice_exits_1_the_second_time(tmp_path):
    env = sqlite_env(tmp_path)
    silence_id = cli("silence", "add", "--pool", DEMO_POOL, "--for", "1h", env=env).stdout.strip()
    first = cli("silence", "expire", silence_id, env=env)
    assert first.returncode == 0, first.stderr
    assert f"silence {silence_id} expired" in first.stderr
    second = cli("silence", "expire", silence_id, env=env)
    assert second.returncode == 1
    assert f"silence {silence_id} had already ended at " in second.stderr
    assert "nothing to expire" in second.stderr
    assert "expired;" not in second.stderr


def test_alerts_list_text_shows_the_firing_alert(tmp_path):
    env = sqlite_env(tmp_path)
    run_demo(env)
    done = cli("alerts", "list", "-o", "text", env=env)
    assert done.returncode == 0
    header, row = done.stdout.splitlines()
    assert header.split() == [
        "SEVERITY",
        "STATE",
        "SINCE",
        "NOTIFIED",
        "FINGERPRINT",
        "KIND",
        "POOL",
        "/",
        "MEMBER",
    ]
    cells = row.split()
    assert cells[:2] == ["major", "firing"]
    assert cells[3] == "ago"  # "3s ago": relative, not an ISO time
    assert cells[2].endswith("s")
    assert row.endswith("master_failed  web-pool / web-master-1")
    assert max(len(line) for line in done.stdout.splitlines()) <= 100
    critical = cli("alerts", "list", "--severity", "critical", "-o", "text", env=env)
    assert (critical.returncode, critical.stdout.strip()) == (0, "No critical alert is firing.")
    assert (
        json.loads(cli("alerts", "list", "--severity", "major", "-o", "json", env=env).stdout)[0]["severity"]
        == "major"
    )


def test_store_commands_with_the_store_off_say_how_to_configure_one():
    for args in (("alerts", "list"), ("silence", "list"), ("silence", "add", "--pool", "p", "--for", "1h")):
        done = cli(*args, env={"ELB_WATCH_STATE": "off"})
        assert done.returncode == 1
        assert "no state store (ELB_WATCH_STATE=off): export ELB_WATCH_STATE" in done.stderr


def test_store_commands_read_the_functions_default_instance_store_when_unset(tmp_path):
    # Unset, the function keeps its state in the temp directory's instance store: so do the commands.
    env = {"TMPDIR": str(tmp_path)}
    done = cli("silence", "list", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert (tmp_path / f"elb-master-watch-state-{os.getuid()}.db").exists()


def test_dry_run_sends_nothing_writes_nothing_and_the_next_run_still_notifies_first(receivers, store_env):
    env = {**receivers.env(), **store_env}
    dry = run_demo(env, "--dry-run")
    assert dry["dry_run"] is True
    assert dry["notifications"][0]["notification_reason"] == "first"
    assert {d["status"] for d in dry["deliveries"]} == {"dry_run"}
    assert set(counts(receivers).values()) == {0}
    assert json.loads(cli("alerts", "list", "-o", "json", "--all", env=env).stdout) == []
    text = cli("invoke", DIRECT, "--simulate", "demo", "--dry-run", "-o", "text", env=env)
    assert text.stdout.startswith(
        "DRY RUN: nothing was sent, no check job was started and no state was written."
    )
    real = run_demo(env)
    assert real["dry_run"] is False
    assert real["notifications"][0]["notification_reason"] == "first"
    assert set(counts(receivers).values()) == {1}


def test_dry_run_without_a_store_reports_nothing_lost(receivers):
    dry = run_demo(receivers.env(), "--dry-run")
    assert dry["undelivered"] == []
    assert set(counts(receivers).values()) == {0}


# -- previews and console logs ------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["smn", "feishu", "dingtalk", "wecom", "slack", "webhook"])
def test_receiver_previews_read_like_the_message(channel):
    record = sample_record(1_800_000_000.0, "cn-north-4")
    lines = preview(render(channel, record))
    assert any("[TEST] elb-master-watch: test notification" in line for line in lines)
    assert lines[0] == "[TEST] elb-master-watch: test notification, no action needed"
    assert not any("**" in line or "<font" in line for line in lines)


def test_console_logs_show_a_notification_by_its_title():
    record = {
        "title": "[MAJOR] web-pool: master down",
        "fingerprint": "fp",
        "text": "a\nb",
        "pool": {"id": "p"},
    }
    shown = console_view(None, "warning", {"event": "notification", **record})
    assert shown == {"event": "notification", "title": "[MAJOR] web-pool: master down", "fingerprint": "fp"}
    other = console_view(None, "info", {"event": "target.assessed", "target": {"pool_id": "p"}})
    assert other["target"] == '{"pool_id":"p"}'


def test_text_output_escapes_terminal_controls_and_lone_surrogates():
    record = {
        "title": "[MAJOR] pool\x1b[2J\x1b[31m: master \ud800 down\r",
        "text": "line one\nWhy: \x07bell",
        "fingerprint": "fp",
    }
    stream = io.StringIO()
    emit(render_result({"notifications": [record], "errors": [], "deliveries": []}), stream)
    shown = stream.getvalue()
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\r" not in shown
    assert shown.startswith("[MAJOR] pool\\x1b[2J\\x1b[31m: master \\ud800 down\\x0d\n")
    assert "  Why: \\x07bell" in shown


def test_the_receivers_command_prints_a_preview_of_each_message():
    with subprocess.Popen(
        [sys.executable, "-m", "tests.receivers"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as server:
        watchdog = threading.Timer(30, server.kill)  # a missing line must fail the test, not hang it
        watchdog.start()
        try:
            assert server.stdout is not None
            env: dict[str, str] = {}
            for line in server.stdout:
                if line.startswith("# receivers running"):
                    break
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = value.strip("'")
            assert env["ELB_WATCH_SLACK_WEBHOOK"].startswith("http://127.0.0.1:")
            done = cli("channels", "test", "--channel", "slack", env=env)
            assert done.returncode == 0, done.stderr
            heading = next(line for line in server.stdout if line.strip())
            assert "Slack got: [TEST] elb-master-watch: test notification, no action needed" in heading
            # The README's step 2 as written: every channel, SMN too (it signs with the printed test keys).
            everything = cli("channels", "test", env=env)
            assert everything.returncode == 0, everything.stdout + everything.stderr
        finally:
            watchdog.cancel()
            server.terminate()
