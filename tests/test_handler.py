"""The handler end to end: real SDK, real HTTP, the embedded ELB simulator on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import socket
import time

import pytest
import structlog

import handler
from elb_simulator import ElbSimulator, Fault
from handler import logs
from tests.support import (
    DEMO_JOB,
    DEMO_POOL,
    PlatformContext,
    api_job,
    demo_scenario,
    load_event,
)

TRIGGER_SAMPLES = [
    "direct.json",
    "timer.json",
    "smn.json",
    "apig.json",
    "apig_plain.json",
    "eventgrid.json",
    "cloudevent.json",
]


def run(event, context=None):
    result = handler.handler(event, context or PlatformContext())
    if "statusCode" in result:
        return json.loads(result["body"])
    return result


def log_lines(capsys):
    """The JSON log lines the handler wrote to stdout (what LTS would collect)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", TRIGGER_SAMPLES)
def test_every_trigger_sample_reports_the_failed_master_with_check_reasons(simulator, name):
    result = run(load_event(name))
    assert result["schema"] == "elb-master-watch/v1"
    assert result["ok"] is True
    assert result["errors"] == []
    [record] = result["notifications"]
    assert record["kind"] == "master_failed"
    assert record["severity"] == "major"
    assert record["title"] == (
        "[MAJOR] web-pool: master web-master-1 down, traffic failed over to standby web-standby-1"
    )
    assert record["master"]["reason_code"] == "RESPONSE_MISMATCH"
    assert [item["reason"] for item in record["check"]["failed_items"]] == [
        "healthCheck destination port 80 is not allowed by ACL acl-7f3e2a1b ingress policies",
        "healthCheck source IP 100.125.0.0/16 is not allowed by securityGroup sg-web-backend ingress rules",
    ]
    assert record["project_id"] == simulator.project_id
    assert record["region"] == "cn-north-4"


def test_kafka_batch_assesses_each_message(simulator):
    result = run(load_event("kafka.json"))
    assert result["ok"] is True
    kinds = [n["kind"] for n in result["notifications"]]
    assert kinds == ["master_failed", "check_failed"]
    assert [t["target"] for t in result["targets"]] == [
        {"pool_id": DEMO_POOL, "region": "cn-north-4"},
        {"job_id": DEMO_JOB, "region": "cn-north-4"},
    ]


def test_check_job_is_polled_until_processed(simulator):
    simulator.set_job({**demo_scenario()["jobs"][0], "processing_reads": 3})
    result = run({"job_id": DEMO_JOB})
    assert simulator.job_reads(DEMO_JOB) == 4
    [record] = result["notifications"]
    assert record["kind"] == "check_failed"
    assert record["check"]["status"] == "processed"
    assert (record["check"]["finished"], record["check"]["total"]) == (17, 17)


def test_job_that_passed_gives_a_result_entry_and_no_notification(simulator):
    simulator.set_job({"member_check": api_job(member_id="m-1") | {"job_id": "job-ok"}})
    result = run({"job_id": "job-ok"})
    assert result["ok"] is True
    assert result["notifications"] == []
    assert result["targets"][0]["check"] == "passed"


def test_healthy_pool_sends_nothing(simulator):
    pool = copy.deepcopy(demo_scenario()["pools"][0])
    pool["members"][0]["status"] = []
    pool["members"][0]["reason"] = None
    simulator.set_pool(pool)
    result = run({"pool_id": DEMO_POOL})
    assert result["ok"] is True
    assert result["notifications"] == []
    assert result["targets"][0]["master"] == "ONLINE"


def test_unknown_pool_is_a_404_entry_not_an_exception(simulator):
    result = run({"pool_id": "00000000-0000-0000-0000-000000000000"})
    assert result["ok"] is False
    assert result["notifications"] == []
    [error] = result["errors"]
    assert error["code"] == "ELB.8907"
    assert error["status"] == 404
    assert error["request_id"]
    assert error["target"] == {"pool_id": "00000000-0000-0000-0000-000000000000"}
    assert simulator.count("master-slave-pools") == 1, "a 404 must not be retried"


def test_server_errors_are_retried_then_succeed(simulator):
    simulator.add_fault(Fault(path="master-slave-pools", status=500, times=2))
    result = run({"pool_id": DEMO_POOL})
    assert result["ok"] is True
    assert [n["kind"] for n in result["notifications"]] == ["master_failed"]
    assert simulator.count("master-slave-pools") == 3


def test_throttling_is_retried_until_attempts_run_out(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "3")
    simulator.add_fault(Fault(path="master-slave-pools", status=429))
    result = run({"pool_id": DEMO_POOL})
    [error] = result["errors"]
    assert error["status"] == 429
    assert error["attempts"] == 3
    assert simulator.count("master-slave-pools") == 3


@pytest.mark.parametrize("status", [400, 403, 409])
def test_client_errors_other_than_429_are_not_retried(simulator, status):
    simulator.add_fault(Fault(path="master-slave-pools", status=status))
    result = run({"pool_id": DEMO_POOL})
    assert result["errors"][0]["status"] == status
    assert simulator.count("master-slave-pools") == 1


def test_wrong_secret_key_is_an_authentication_error(simulator, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-right-secret")
    result = run({"pool_id": DEMO_POOL})
    [error] = result["errors"]
    assert (error["status"], error["code"]) == (401, "APIGW.0301")
    assert "not-the-right-secret" not in json.dumps(result)


def test_wrong_project_is_forbidden(simulator):
    result = run({"pool_id": DEMO_POOL, "project_id": "0" * 32})
    assert result["errors"][0]["status"] == 403


def test_malformed_body_is_retried_then_reported(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    simulator.add_fault(Fault(path="master-slave-pools", malformed=True))
    result = run({"pool_id": DEMO_POOL})
    [error] = result["errors"]
    assert error["code"] == "ELB.MALFORMED_RESPONSE"
    assert error["attempts"] == 2


def test_connection_reset_is_a_connection_error(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    simulator.add_fault(Fault(path="master-slave-pools", reset=True))
    result = run({"pool_id": DEMO_POOL})
    assert result["errors"][0]["code"] == "WATCH.CONNECTION"
    assert simulator.count("master-slave-pools") == 2


def test_nothing_listening_is_a_connection_error(simulator, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_ELB_CN_NORTH_4", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    result = run({"pool_id": DEMO_POOL})
    assert result["errors"][0]["code"] == "WATCH.CONNECTION"
    assert result["errors"][0]["attempts"] == 2


def test_slow_answer_times_out_inside_the_budget(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
    simulator.add_fault(Fault(path="master-slave-pools", delay=5.0))
    started = time.monotonic()
    result = run({"pool_id": DEMO_POOL})
    assert result["errors"][0]["code"] == "WATCH.TIMEOUT"
    assert time.monotonic() - started < 3.0


def test_job_that_never_finishes_is_reported_before_the_function_times_out(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_POLL_INTERVAL_SECONDS", "0.2")
    simulator.set_job({**demo_scenario()["jobs"][0], "processing_reads": -1})
    started = time.monotonic()
    result = run({"pool_id": DEMO_POOL, "job_id": DEMO_JOB}, PlatformContext(remaining_ms=2500))
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, "the handler must return inside the platform's remaining time"
    [record] = result["notifications"]
    assert record["kind"] == "master_failed"
    assert record["check"]["status"] == "processing"
    assert record["check"]["finished"] < record["check"]["total"]
    assert "still running" in record["text"]
    [error] = result["errors"]
    assert error["code"] == "WATCH.CHECK_JOB_INCOMPLETE"
    assert simulator.job_reads(DEMO_JOB) >= 2


def test_budget_exhausted_targets_are_reported_not_dropped(simulator):
    simulator.add_fault(Fault(path="master-slave-pools", delay=1.5, times=1))
    event = {"targets": [{"pool_id": DEMO_POOL}, {"job_id": DEMO_JOB}]}
    result = run(event, PlatformContext(remaining_ms=1200))
    assert len(result["targets"]) == 2
    assert {e["code"] for e in result["errors"]} <= {"WATCH.TIMEOUT", "WATCH.TIME_BUDGET"}
    assert len(result["errors"]) == 2


def test_context_credentials_with_security_token_are_used(simulator, monkeypatch):
    scenario = demo_scenario()
    temporary = {"ak": "TEMPAK0000000000001", "sk": "temp-secret", "security_token": "tok-123"}
    scenario["credentials"] = [temporary]
    with ElbSimulator(scenario) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("HUAWEICLOUD_SDK_AK")
        monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
        context = PlatformContext(ak="TEMPAK0000000000001", sk="temp-secret", token="tok-123")
        result = run({"pool_id": DEMO_POOL}, context)
        assert result["ok"] is True
        wrong_token = PlatformContext(ak="TEMPAK0000000000001", sk="temp-secret", token="tok-999")
        assert run({"pool_id": DEMO_POOL}, wrong_token)["errors"][0]["status"] == 401


def test_project_id_comes_from_the_context_before_the_environment(simulator, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "f" * 32)
    assert run({"pool_id": DEMO_POOL}, PlatformContext(project_id=simulator.project_id))["ok"] is True
    monkeypatch.setenv("RUNTIME_PROJECT_ID", simulator.project_id)
    assert run({"pool_id": DEMO_POOL})["ok"] is True


def test_missing_configuration_is_named_all_at_once(monkeypatch):
    result = run({"pool_id": DEMO_POOL})
    assert [e["code"] for e in result["errors"]] == [
        "CONFIG.REGION",
        "CONFIG.PROJECT_ID",
        "CONFIG.CREDENTIALS",
    ]
    monkeypatch.setenv("ELB_WATCH_REGION", "cn-north-4")
    assert [e["code"] for e in run({"pool_id": DEMO_POOL})["errors"]] == [
        "CONFIG.PROJECT_ID",
        "CONFIG.CREDENTIALS",
    ]
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "a" * 32)
    assert [e["code"] for e in run({"pool_id": DEMO_POOL})["errors"]] == ["CONFIG.CREDENTIALS"]


def test_only_the_access_key_says_the_secret_key_is_missing(monkeypatch):
    monkeypatch.setenv("ELB_WATCH_REGION", "cn-north-4")
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "a" * 32)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "ONLYTHEACCESSKEY0001")
    [error] = run({"pool_id": DEMO_POOL})["errors"]
    assert error["code"] == "CONFIG.CREDENTIALS"
    assert error["message"].startswith("SK missing: HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not")
    monkeypatch.delenv("HUAWEICLOUD_SDK_AK")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "only-the-secret-key-0001")
    [error] = run({"pool_id": DEMO_POOL})["errors"]
    assert error["message"].startswith("AK missing")
    assert "only-the-secret-key-0001" not in json.dumps(error)


def test_a_region_in_the_wrong_case_gets_a_suggestion(monkeypatch):
    monkeypatch.setenv("ELB_WATCH_REGION", "CN-North-4")
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "a" * 32)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "SOMEACCESSKEY0000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "some-secret-key-00000001")
    [error] = run({"pool_id": DEMO_POOL})["errors"]
    assert error["code"] == "CONFIG.REGION"
    assert error["message"].endswith("did you mean 'cn-north-4'?")


def test_unknown_region_is_named(simulator):
    result = run({"pool_id": DEMO_POOL, "region": "xx-nowhere-9"})
    assert result["errors"][0]["code"] == "CONFIG.REGION"
    assert "HUAWEICLOUD_SDK_REGION_ELB_XX_NOWHERE_9" in result["errors"][0]["message"]


def test_bad_setting_is_a_config_error(monkeypatch):
    monkeypatch.setenv("ELB_WATCH_READ_TIMEOUT", "soon")
    result = run({"pool_id": DEMO_POOL})
    assert result["errors"][0]["code"] == "CONFIG.INVALID"
    assert "ELB_WATCH_READ_TIMEOUT" in result["errors"][0]["message"]


def test_every_bad_setting_is_named_in_the_same_run(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_READ_TIMEOUT", "soon")
    monkeypatch.setenv("ELB_WATCH_LOCALE", "fr")
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "maybe")
    monkeypatch.setenv("ELB_WATCH_RESOLVE_AFTER", "0")
    errors = [e for e in run({"pool_id": DEMO_POOL})["errors"] if e["code"] == "CONFIG.INVALID"]
    named = [
        name
        for e in errors
        for name in ("READ_TIMEOUT", "LOCALE", "DIAGNOSE", "RESOLVE_AFTER")
        if f"ELB_WATCH_{name}=" in e["message"]
    ]
    assert named == [
        "LOCALE",
        "READ_TIMEOUT",
        "DIAGNOSE",
        "RESOLVE_AFTER",
    ]  # one entry each, in the settings' order
    assert all("; using the default " in e["message"] for e in errors)


@pytest.mark.parametrize(
    ("name", "value", "default"),
    [
        ("ELB_WATCH_LOCALE", "fr", "en"),
        ("ELB_WATCH_LOG_LEVEL", "verbose", "info"),
        ("ELB_WATCH_CONNECT_TIMEOUT", "soon", "3"),
        ("ELB_WATCH_READ_TIMEOUT", "0", "10"),
        ("ELB_WATCH_RESERVE_SECONDS", "-1", "2"),
        ("ELB_WATCH_MAX_ATTEMPTS", "many", "4"),
        ("ELB_WATCH_RETRY_BASE_SECONDS", "x", "1"),
        ("ELB_WATCH_POLL_INTERVAL_SECONDS", "1e400", "1"),
        ("ELB_WATCH_DIAGNOSE", "maybe", "on"),
        ("ELB_WATCH_DIAGNOSE_TTL", "soon", "900"),
        ("ELB_WATCH_CONCURRENCY", "inf", "8"),
        ("ELB_WATCH_API_RATE", "fast", "10"),
        ("ELB_WATCH_GROUP_THRESHOLD", "lots", "3"),
        ("ELB_WATCH_REPEAT_INTERVAL", "1s", "4h"),
        ("ELB_WATCH_FIRE_AFTER", "0", "1"),
        ("ELB_WATCH_RESOLVE_AFTER", "x", "2"),
    ],
)
def test_a_bad_cosmetic_or_tuning_setting_falls_back_and_the_watch_goes_on(
    simulator, monkeypatch, name, value, default
):
    monkeypatch.setenv(name, value)
    result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext())
    [target] = result["targets"]
    assert target["status"] == "assessed"
    assert [n["kind"] for n in result["notifications"] if n["kind"] != "watcher_error"] == ["master_failed"]
    [error] = [e for e in result["errors"] if e["code"] == "CONFIG.INVALID"]
    assert error["message"].startswith(f"{name}=")
    assert error["message"].endswith(f"; using the default {default}")


def test_a_french_locale_still_watches_in_english(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_LOCALE", "fr")
    result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext())
    assert [t["status"] for t in result["targets"]] == ["assessed"]
    [alert] = [n for n in result["notifications"] if n["kind"] == "master_failed"]
    assert alert["title"].startswith("[MAJOR] web-pool: master web-master-1 down")
    assert alert["check"] is not None  # diagnosed as usual
    [error] = result["errors"]
    assert error["code"] == "CONFIG.INVALID"
    assert "ELB_WATCH_LOCALE='fr'" in error["message"]
    # The watcher says so too, once, beside the alert.
    [watcher] = [n for n in result["notifications"] if n["kind"] == "watcher_error"]
    assert watcher["watcher"]["code"] == "CONFIG.INVALID"


def test_apig_event_gets_an_apig_response(simulator):
    response = handler.handler(load_event("apig.json"), PlatformContext())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(response["body"])["notifications"][0]["kind"] == "master_failed"


def test_invalid_apig_request_is_a_400(simulator):
    event = load_event("apig_plain.json") | {"body": '{"pool": "x"}'}
    response = handler.handler(event, PlatformContext())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["errors"][0]["code"] == "EVENT.INVALID"


def test_invalid_event_is_one_error_and_one_log_line(simulator, capsys):
    result = run({"pool_id": 42})
    assert result["ok"] is False
    assert result["notifications"] == []
    assert result["errors"] == [
        {
            "target": None,
            "code": "EVENT.INVALID",
            "status": None,
            "message": "pool_id must be a string, got a number",
            "request_id": None,
            "where": "pool_id",
        }
    ]
    invalid_lines = [line for line in log_lines(capsys) if line["event"] == "event.invalid"]
    assert len(invalid_lines) == 1
    assert invalid_lines[0]["level"] == "error"
    assert simulator.count() == 0


def test_logs_one_line_per_notification_with_context_and_a_summary(simulator, capsys):
    run(load_event("direct.json"), PlatformContext(request_id="req-42"))
    lines = log_lines(capsys)
    notifications = [line for line in lines if line["event"] == "notification"]
    assert len(notifications) == 1
    assert notifications[0]["request_id"] == "req-42"
    assert notifications[0]["pool_id"] == DEMO_POOL
    assert notifications[0]["job_id"] == DEMO_JOB
    assert notifications[0]["title"].startswith("[MAJOR] web-pool")
    [summary] = [line for line in lines if line["event"] == "invocation.done"]
    assert summary["notifications"] == 1
    assert summary["api_calls"] >= 2
    assert all(line["timestamp"].endswith("Z") for line in lines)


def test_secrets_never_appear_in_logs_or_results(simulator, capsys, monkeypatch):
    scenario = demo_scenario()
    secrets = {
        "ak": "LEAKCHECKAK000000001",
        "sk": "leak-check-secret-key",
        "security_token": "leak-check-token",
    }
    scenario["credentials"] = [secrets]
    with ElbSimulator(scenario) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        context = PlatformContext(ak=secrets["ak"], sk=secrets["sk"], token=secrets["security_token"])
        outputs = [
            run(load_event("direct.json"), context),
            run({"pool_id": "missing-pool"}, context),
            run(
                {"pool_id": DEMO_POOL},
                PlatformContext(ak=secrets["ak"], sk="wrong", token=secrets["security_token"]),
            ),
        ]
        sim.add_fault(Fault(path="master-slave-pools", status=500, body=json.dumps(secrets)))
        outputs.append(run({"pool_id": DEMO_POOL}, context))
    everything = json.dumps(outputs) + capsys.readouterr().out + capsys.readouterr().err
    assert outputs[0]["ok"] is True
    assert outputs[3]["errors"][0]["status"] == 500
    for value in secrets.values():
        assert value not in everything


def test_handler_never_raises_on_a_context_that_misbehaves(simulator):
    class BrokenContext:
        def getRemainingTimeInMilliSeconds(self):  # noqa: N802
            raise RuntimeError("boom")

        def getSecurityAccessKey(self):  # noqa: N802
            return None

    result = run({"pool_id": DEMO_POOL}, BrokenContext())
    assert result["ok"] is True
    assert result["notifications"][0]["kind"] == "master_failed"


def test_none_context_still_works(simulator):
    result = handler.handler({"pool_id": DEMO_POOL}, None)
    assert result["ok"] is True


def test_redaction_survives_a_test_that_captured_logs(simulator, capsys, monkeypatch):
    with logs.held(), structlog.testing.capture_logs() as captured:
        run({"pool_id": DEMO_POOL})
    assert any(entry["event"] == "invocation.done" for entry in captured)
    capsys.readouterr()
    secrets = {
        "ak": "AFTERCAPTUREAK000001",
        "sk": "after-capture-secret",
        "security_token": "after-capture-tok",
    }
    scenario = demo_scenario()
    scenario["credentials"] = [secrets]
    with ElbSimulator(scenario) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        context = PlatformContext(ak=secrets["ak"], sk=secrets["sk"], token=secrets["security_token"])
        run({"pool_id": "no-such-pool"}, context)
    out = capsys.readouterr().out
    assert "invocation.done" in out, "the production chain is back after capture_logs"
    assert secrets["sk"] not in out
    assert secrets["ak"] not in out


def test_a_named_pool_and_job_are_read_at_the_same_time(simulator):
    """The two reads do not depend on each other: the pool is read while the job is polled."""
    simulator.add_fault(Fault(path="master-slave-pools", delay=0.4, times=1))
    simulator.add_fault(Fault(path="check/jobs", delay=0.4, times=1))
    result = run({"pool_id": DEMO_POOL, "job_id": DEMO_JOB})
    assert result["ok"] is True
    pool = next(r for r in simulator.requests if "master-slave-pools" in r.path)
    job = next(r for r in simulator.requests if "check/jobs" in r.path)
    # Each was answered only after its 0.4 s delay; the second arrived before the first was answered.
    assert job.started < pool.started + pool.duration
    assert pool.started < job.started + job.duration
    [notification] = result["notifications"]
    assert notification["check"]["job_id"] == DEMO_JOB


def test_a_pool_that_fails_still_gets_its_job_verdict_and_the_reverse(simulator):
    simulator.add_fault(Fault(path="master-slave-pools", status=404, times=1))
    result = run({"pool_id": DEMO_POOL, "job_id": DEMO_JOB})
    assert [(e["status"], e["target"]) for e in result["errors"]] == [
        (404, {"pool_id": DEMO_POOL, "job_id": DEMO_JOB})
    ]
    [target] = result["targets"]
    assert target["check"] == "failed"
    assert "master" not in target

    simulator.clear_faults()
    simulator.add_fault(Fault(path="check/jobs", status=404))
    result = run({"pool_id": DEMO_POOL, "job_id": DEMO_JOB})
    assert [e.get("status") for e in result["errors"]] == [404]
    [target] = result["targets"]
    assert target["master"] == "OFFLINE"
    assert "check" not in target
    assert [n["kind"] for n in result["notifications"]] == ["master_failed"]
