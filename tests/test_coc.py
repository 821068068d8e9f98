"""The COC receiver: alarm and recovery events through the real SDK to a loopback COC intake that checks
the signature and the body; owed when COC is down; the integration key never in any output."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from handler.app import WARM, invoke
from handler.channels.coc import ADDITIONAL_BYTES, alarm_name, level, render
from handler.channels.config import usable_channels
from handler.channels.delivery import plan
from handler.commands import channels_test
from handler.routes import RoutesError, parse
from handler.routes_cli import describe
from tests.builders import critical_record, demo_record, hostile_record, oversized_record, resolved_record
from tests.coc_receiver import CocReceiver, body_problem
from tests.receivers import Reply
from tests.support import DEMO_POOL, ROOT, PlatformContext, demo_scenario

T0 = 1_795_000_000.0
HEALTHY_POOL = copy.deepcopy(demo_scenario()["pools"][0])
HEALTHY_POOL["members"][0]["status"] = []
HEALTHY_POOL["members"][0]["reason"] = None
FAILED_POOL = copy.deepcopy(demo_scenario()["pools"][0])
KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
LB = FAILED_POOL["loadbalancers"][0]["id"]


@pytest.fixture
def coc(simulator, monkeypatch, tmp_path):
    """A COC intake accepting the simulator's keys; the default receiver `coc` points at it."""
    with CocReceiver(ak=simulator.credentials.ak, sk=simulator.credentials.sk, integration_key=KEY) as intake:
        for name, value in intake.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_COC_INTEGRATION_KEY", KEY)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
        WARM.smn_clients.clear()
        yield intake


def run(simulator, pool: dict[str, Any], minute: int) -> dict[str, Any]:
    simulator.set_pool(pool)
    return invoke({"pool_id": DEMO_POOL}, PlatformContext(), wall_clock=lambda: T0 + 60 * minute)


def coc_deliveries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The COC deliveries of the run's pool findings (a failed one also raises a watcher_error)."""
    found = {n["fingerprint"] for n in result["notifications"] if n["kind"] != "watcher_error"}
    return [d for d in result["deliveries"] if d["channel"] == "coc" and d["fingerprint"] in found]


def test_failed_then_recovered_master_is_one_alarm_then_one_ok_with_the_same_alarm_id(simulator, coc):
    results = [run(simulator, FAILED_POOL, minute) for minute in range(3)]
    results += [run(simulator, HEALTHY_POOL, minute) for minute in range(3, 6)]
    sent = [minute for minute, r in enumerate(results) for d in coc_deliveries(r) if d["status"] == "sent"]
    assert len(sent) == 2, sent
    assert sent[0] == 0
    assert sent[1] >= 3
    assert [d["receiver"] for d in coc_deliveries(results[0])] == ["coc"]
    fired, cleared = coc.accepted  # each one signed with the function's keys (the intake checks)
    assert (fired["alarmStatus"], cleared["alarmStatus"]) == ("alarm", "ok")
    assert fired["alarmId"] == cleared["alarmId"] == results[0]["notifications"][0]["fingerprint"]
    assert fired["alarmName"] == cleared["alarmName"] == "ElbMasterFailed_web-pool"
    assert fired["alarmLevel"] == cleared["alarmLevel"] == "Major"
    assert (fired["resourceId"], fired["resourceName"], fired["regionId"]) == (
        DEMO_POOL,
        "web-pool",
        "cn-north-4",
    )
    assert fired["alarmDesc"].startswith("[MAJOR] web-pool: master web-master-1 down")
    assert cleared["alarmDesc"].startswith("[RESOLVED] web-pool")
    assert fired["URL"] == "https://console.huaweicloud.com/elb/?region=cn-north-4#/elb/detail/" + LB
    assert fired["time"] == T0 * 1000
    assert cleared["time"] == (T0 + 60 * sent[1]) * 1000
    assert (fired["nameSpace"], fired["alarmSource"], fired["applicationId"]) == (
        "SYS.ELB",
        "elb-master-watch",
        "elb-master-watch",
    )
    assert fired["additional"]["pool"]["id"] == DEMO_POOL
    assert fired["additional"]["master"]["operating_status"] == "OFFLINE"
    assert coc.project_ids == [simulator.project_id] * 2


def test_coc_down_is_owed_and_reported_on_the_next_run(simulator, coc):
    coc.fail_with(Reply(503, {"error_code": "COC.00050000", "error_msg": "busy"}), Reply(503))
    first = run(simulator, FAILED_POOL, 0)
    [delivery] = coc_deliveries(first)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)
    assert "(HTTP 503" in delivery["error"]
    assert delivery["error"].startswith("COC ")
    assert [e["alarmName"] for e in coc.accepted] == ["ElbWatcherError"]  # the failure, said at once
    second = run(simulator, FAILED_POOL, 1)
    assert [d["status"] for d in coc_deliveries(second)] == ["sent"]
    # The delivery failure was a watcher_error (said at once); it clears when the owed alarm is sent.
    assert sorted((e["alarmName"], e["alarmStatus"]) for e in coc.accepted[1:]) == [
        ("ElbMasterFailed_web-pool", "alarm"),
        ("ElbWatcherError", "ok"),
    ]
    [owed] = [e for e in coc.accepted if e["alarmName"] == "ElbMasterFailed_web-pool"]
    assert owed["alarmId"] == first["notifications"][0]["fingerprint"]


def test_an_error_code_in_a_200_answer_is_a_failed_delivery(simulator, coc):
    coc.fail_with(
        Reply(200, {"provider_code": "042", "error_code": "COC.00041001", "error_msg": "bad level"})
    )
    monkey = run(simulator, FAILED_POOL, 0)
    [delivery] = coc_deliveries(monkey)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1, "a refusal in the body is not retried"
    assert "COC error_code COC.00041001: bad level" in delivery["error"]


def test_the_integration_key_is_in_no_result_log_or_error(simulator, coc, monkeypatch, capfd, caplog):
    # An answer that echoes the path, then a connection refused (urllib3 names the URL, key and all).
    coc.fail_with(Reply(404, {"error_code": "COC.0404", "error_msg": f"no /v1/event/huawei/custom/{KEY}"}))
    echoed = run(simulator, FAILED_POOL, 0)
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_COC_CN_NORTH_4", "http://127.0.0.1:9")
    refused = run(simulator, FAILED_POOL, 1)
    out, err = capfd.readouterr()
    [echo_delivery], [refused_delivery] = coc_deliveries(echoed), coc_deliveries(refused)
    assert echo_delivery["status"] == refused_delivery["status"] == "failed"
    assert "***" in echo_delivery["error"]
    assert refused_delivery["error"].startswith("connection refused")
    everything = json.dumps([echoed, refused]) + out + err + caplog.text + json.dumps(coc.accepted)
    assert KEY not in everything
    assert "delivery.failed" in out + err  # the log lines were written, scrubbed


def test_a_routing_file_receiver_reports_to_its_own_integration(simulator, coc, monkeypatch):
    monkeypatch.delenv("ELB_WATCH_COC_INTEGRATION_KEY")
    monkeypatch.setenv("COC_KEY", KEY)
    routes = {
        "receivers": [
            {"name": "ops-coc", "coc": {"integration_key": "${COC_KEY}", "region": "cn-north-4"}},
        ],
        "default_receivers": ["ops-coc"],
    }
    monkeypatch.setenv("ELB_WATCH_ROUTES", json.dumps(routes))
    result = run(simulator, FAILED_POOL, 0)
    assert [(d["receiver"], d["status"]) for d in coc_deliveries(result)] == [("ops-coc", "sent")]
    [event] = coc.accepted
    assert event["alarmStatus"] == "alarm"
    assert KEY not in json.dumps(result)


def test_many_findings_are_one_event_each_never_a_digest():
    [channel], _ = usable_channels({"ELB_WATCH_COC_INTEGRATION_KEY": KEY})
    records = []
    for index in range(6):
        record = demo_record()
        record["fingerprint"] = f"{index:016x}"
        records.append(record)
    units = plan(channel, records, group_threshold=3)
    assert [unit.digest for unit in units] == [None] * 6
    assert [unit.payload["alarmId"] for unit in units if unit.payload] == [r["fingerprint"] for r in records]


def test_every_rendered_record_is_a_body_coc_accepts():
    records = [demo_record(), critical_record(), resolved_record(), hostile_record()]
    for record in records:
        body = render(record) | {"time": render(record)["time"] or int(T0 * 1000)}
        assert body_problem(body) is None, body_problem(body)
        assert len(body["alarmDesc"]) <= 255


def test_severities_map_to_coc_levels_and_recovery_keeps_the_fired_one():
    record = demo_record()
    assert [level(record | {"severity": s}) for s in ("critical", "major", "warning", "info")] == [
        "Critical",
        "Major",
        "Minor",
        "Info",
    ]
    assert level(resolved_record()) == level(demo_record())


def test_alarm_names_keep_only_what_coc_allows():
    record = hostile_record()
    name = alarm_name(record)
    assert all(ch.isalnum() or ch in "-_" for ch in name), name


def test_a_watcher_error_is_an_alarm_without_a_resource():
    record = {
        "status": "firing",
        "severity": "critical",
        "kind": "watcher_error",
        "fingerprint": "43a5d0a169af8fef",
        "title": "[CRITICAL] elb-master-watch ELB refuses access",
        "text": "ShowMasterSlavePool: Authentication failed",
        "observed_at": "2026-03-02T08:15:00Z",
        "region": "cn-north-4",
    }
    body = render(record)
    assert "resourceId" not in body
    assert "URL" not in body
    assert (body["alarmName"], body["alarmLevel"], body["alarmStatus"]) == (
        "ElbWatcherError",
        "Critical",
        "alarm",
    )
    assert body_problem(body) is None


def test_coc_settings_are_checked_without_echoing_the_key():
    channels, problems = usable_channels({"ELB_WATCH_COC_INTEGRATION_KEY": "key with/slash-0123456"})
    assert channels == []
    assert "ELB_WATCH_COC_INTEGRATION_KEY must be COC's integration key" in problems[0]
    assert "slash" not in problems[0]
    channels, problems = usable_channels(
        {"ELB_WATCH_COC_INTEGRATION_KEY": KEY, "ELB_WATCH_COC_REGION": "Mars"}
    )
    assert channels == []
    assert "ELB_WATCH_COC_REGION must be a region id" in problems[0]
    [channel], _ = usable_channels({"ELB_WATCH_COC_INTEGRATION_KEY": KEY})
    assert (channel.name, channel.region, channel.application_id) == ("coc", "cn-north-4", "elb-master-watch")
    assert KEY not in repr(channel)
    with pytest.raises(RoutesError) as caught:
        parse({"receivers": [{"name": "ops-coc", "coc": {"integration_key": "short"}}]}, {})
    assert "receivers[0].coc.integration_key" in str(caught.value)
    assert "short" not in str(caught.value)


def test_an_unknown_coc_region_is_a_failed_delivery_that_says_so(simulator, coc, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_COC_REGION", "cn-south-1")
    [delivery] = coc_deliveries(run(simulator, FAILED_POOL, 0))
    assert delivery["status"] == "failed"
    assert "unknown COC region 'cn-south-1'" in delivery["error"]
    assert "HUAWEICLOUD_SDK_REGION_COC_CN_SOUTH_1" in delivery["error"]


def test_channels_test_raises_a_test_alarm_in_coc_and_clears_it_at_once(capsys, monkeypatch):
    with CocReceiver(integration_key=KEY) as intake:
        for name, value in intake.env().items():  # the SDK reads its endpoint override itself
            monkeypatch.setenv(name, value)
        env = {
            "ELB_WATCH_COC_INTEGRATION_KEY": KEY,
            "HUAWEICLOUD_SDK_AK": intake.ak,
            "HUAWEICLOUD_SDK_SK": intake.sk,
            "HUAWEICLOUD_SDK_PROJECT_ID": "04dd36f964000fe22f9ac00bc85b1a1d",
            "ELB_WATCH_REGION": "cn-north-4",
        }
        status = channels_test(only="coc", output="json", timeout=10, env=env)
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [(r["receiver"], r["status"]) for r in report["channels"]] == [("coc", "sent")]
    raised, cleared = intake.accepted
    assert (raised["alarmStatus"], cleared["alarmStatus"]) == ("alarm", "ok")
    assert raised["alarmId"] == cleared["alarmId"]
    assert raised["alarmLevel"] == "Info"
    assert raised["alarmDesc"].startswith("[TEST]")


IMPORTS_CHILD = """
import json, os, sys
from elb_simulator import ElbSimulator
from tests.receivers import WebhookReceiver
from tests.support import DEMO_POOL, ROOT, PlatformContext, demo_scenario
with ElbSimulator(demo_scenario()) as sim, WebhookReceiver() as hook:
    os.environ.update(sim.env())
    os.environ.update(HUAWEICLOUD_SDK_AK=sim.credentials.ak, HUAWEICLOUD_SDK_SK=sim.credentials.sk,
                      HUAWEICLOUD_SDK_PROJECT_ID=sim.project_id, ELB_WATCH_REGION=sim.region,
                      ELB_WATCH_STATE="off", ELB_WATCH_DIAGNOSE="off", ELB_WATCH_WEBHOOK_URL=hook.url)
    from handler.app import invoke
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
loaded = sorted(m for m in sys.modules if m.startswith(("huaweicloudsdkcoc", "handler.channels.coc_")))
print(json.dumps({"loaded": loaded, "sent": [d["status"] for d in result["deliveries"]]}))
"""


def test_without_a_coc_receiver_an_invocation_loads_no_coc_sdk():
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("ELB_WATCH_", "HUAWEICLOUD_"))},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child["sent"] == ["sent"], "the invocation notified through its one channel"
    assert child["loaded"] == []


def test_a_huge_check_job_rides_in_additional_cut_by_whole_items_with_a_count():
    record = oversized_record(300)
    body = render(record)
    check = body["additional"]["check"]
    size = len(json.dumps(body["additional"], ensure_ascii=False).encode("utf-8"))
    assert size <= ADDITIONAL_BYTES
    assert 0 < len(check["failed_items"]) < 300
    assert len(check["failed_items"]) + check["failed_items_omitted"] == 300
    assert check["failed_items"][0] == record["check"]["failed_items"][0]
    assert body_problem(body) is None


def test_config_check_shows_where_coc_alarms_go_never_the_key():
    [channel], _ = usable_channels(
        {"ELB_WATCH_COC_INTEGRATION_KEY": KEY, "ELB_WATCH_COC_REGION": "ap-southeast-3"}
    )
    shown = describe(channel)
    assert shown == {
        "name": "coc",
        "channel": "coc",
        "coc": "COC ap-southeast-3, application elb-master-watch",
    }
    assert KEY not in json.dumps(shown)


def test_the_records_console_link_is_the_alarms_url_and_a_long_one_is_left_out():
    record = demo_record() | {"links": [{"name": "runbook", "url": "https://wiki.example.com/r"}]}
    record["links"].append({"name": "console", "url": "https://console.example.com/pool"})
    assert render(record)["URL"] == "https://console.example.com/pool"
    record["links"] = [{"name": "console", "url": "https://console.example.com/" + "x" * 300}]
    assert "URL" not in render(record)
    assert body_problem(render(record)) is None
