"""The watcher watches itself: watcher_error findings, end to end through the real handler.

The ELB simulator rejects a wrong secret key with 401 APIGW.0301 exactly as the API gateway does;
a loopback Alertmanager-webhook receiver stands in for the chat channel; state is the default
instance store (ELB_WATCH_STATE unset), a SQLite file in this test's own temp directory.
"""

from __future__ import annotations

import copy
import os

import pytest

from handler import watcher_error as watcher
from handler.app import invoke
from handler.channels.message import summarize
from handler.lifecycle import LifecycleSettings, decide, resolved_record, scope_of
from tests.receivers import Reply, WebhookReceiver
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

HEALTHY_POOL = copy.deepcopy(demo_scenario()["pools"][0])
HEALTHY_POOL["members"][0]["status"] = []
HEALTHY_POOL["members"][0]["reason"] = None


@pytest.fixture
def webhook(simulator, monkeypatch):
    """Only the generic webhook channel, pointed at a loopback receiver; no diagnosis jobs."""
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_MAX_ATTEMPTS", "1")
        yield receiver


def records(receiver: WebhookReceiver) -> list[dict]:
    return [alert["record"] for envelope in receiver.accepted for alert in envelope["alerts"]]


def test_rejected_credentials_notify_once_then_resolve(simulator, webhook, monkeypatch):
    simulator.set_pool(HEALTHY_POOL)
    right_sk = simulator.credentials.sk
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "a-wrong-secret-key-0123456789abcdef")
    event = {"targets": [{"pool_id": DEMO_POOL}, {"pool_id": DEMO_POOL.replace("3", "4")}]}

    first = invoke(event, PlatformContext())
    assert [e["code"] for e in first["errors"]] == ["APIGW.0301", "APIGW.0301"]
    [sent] = records(webhook)
    assert sent["kind"] == "watcher_error"
    assert sent["notification_reason"] == "first"
    assert "APIGW.0301" in sent["title"]
    assert sent["watcher"]["code"] == "APIGW.0301"
    assert sent["watcher"]["status"] == 401
    assert "AK/SK" in sent["watcher"]["action"]
    assert "What to do:" in sent["text"]
    assert first["deduplication"] == "instance"

    second = invoke(event, PlatformContext())
    assert second["notifications"] == []
    assert len(webhook.accepted) == 1, "the second run with the same fault sends nothing"
    assert [h["why"] for h in second["held"]] == ["already notified"]

    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", right_sk)  # the fault is gone: one good run resolves it
    fixed = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert fixed["ok"] is True
    [resolved] = records(webhook)[1:]
    assert resolved["status"] == "resolved"
    assert resolved["kind"] == "watcher_error"
    assert resolved["fingerprint"] == sent["fingerprint"]
    assert "works again" in resolved["title"]
    assert "APIGW.0301" in resolved["title"]
    assert webhook.accepted[1]["status"] == "resolved"

    assert invoke({"pool_id": DEMO_POOL}, PlatformContext())["notifications"] == []
    assert len(webhook.accepted) == 2


def test_an_event_error_alone_does_not_resolve_a_watcher_error(simulator, webhook, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "a-wrong-secret-key-0123456789abcdef")
    invoke({"pool_id": DEMO_POOL}, PlatformContext())
    bad = invoke({"pool_id": 7}, PlatformContext())  # nothing watched: cannot judge the ELB scope
    assert [e["code"] for e in bad["errors"]] == ["EVENT.INVALID"]
    assert bad["notifications"] == []
    assert len(webhook.accepted) == 1


def test_missing_region_is_one_watcher_error_for_all_targets(simulator, webhook, monkeypatch):
    monkeypatch.delenv("ELB_WATCH_REGION")
    result = invoke({"targets": [{"pool_id": DEMO_POOL}, {"pool_id": "p2"}]}, PlatformContext())
    assert [n["watcher"]["code"] for n in result["notifications"]] == ["CONFIG.REGION"]
    assert "ELB_WATCH_REGION" in records(webhook)[0]["watcher"]["action"]


def test_a_bad_setting_still_reaches_the_channels(simulator, webhook, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_CONCURRENCY", "many")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["errors"][0]["code"] == "CONFIG.INVALID"
    [sent] = records(webhook)
    assert sent["watcher"]["code"] == "CONFIG.INVALID"
    assert "ELB_WATCH_CONCURRENCY" in sent["watcher"]["message"]


def test_every_channel_failing_becomes_a_watcher_error(simulator, webhook):
    webhook.fail_with(Reply(500), Reply(500))
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    kinds = [(n["kind"], (n.get("watcher") or {}).get("code")) for n in result["notifications"]]
    assert kinds == [("master_failed", None), ("watcher_error", watcher.CHANNELS_FAILED)]
    assert [d["status"] for d in result["deliveries"]] == ["failed", "failed"]
    # The channel is back: the missed alert is caught up, and that delivery resolves the channel problem.
    caught_up = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert [(r["kind"], r["status"]) for r in records(webhook)] == [
        ("master_failed", "firing"),
        ("watcher_error", "resolved"),
    ]
    assert "WATCH.CHANNELS" in records(webhook)[1]["title"]
    assert {d["status"] for d in caught_up["deliveries"]} == {"sent"}
    assert invoke({"pool_id": DEMO_POOL}, PlatformContext())["notifications"] == []


def test_an_unusable_store_url_is_a_watcher_error_and_the_instance_store_takes_over(
    simulator, webhook, monkeypatch
):
    monkeypatch.setenv("ELB_WATCH_STATE", "memcached://cache:11211")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["errors"][0]["where"] == "ELB_WATCH_STATE"
    assert {r["kind"] for r in records(webhook)} == {"master_failed", "watcher_error"}
    [problem] = [r for r in records(webhook) if r["kind"] == "watcher_error"]
    assert problem["watcher"]["scope"] == watcher.SCOPE_STORE
    # The run fell back to the instance store: the next run does not repeat either message.
    assert result["deduplication"] == "instance"
    again = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert again["notifications"] == []
    assert len(webhook.accepted) == 2


def test_unreachable_store_is_reported_through_the_channels(simulator, webhook, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "redis://127.0.0.1:9/0?timeout=0.2")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["deduplication"] == "unavailable"
    codes = [r.get("watcher", {}).get("code") for r in records(webhook)]
    assert codes == [None, watcher.STORE_UNAVAILABLE]


# --- the pure parts -------------------------------------------------------------------------------


def entry(code, status=None, where=None):
    return {"code": code, "status": status, "message": f"{code} happened", "where": where}


def test_one_problem_per_code_and_scope_never_per_target():
    errors = [entry("APIGW.0301", 401)] * 5 + [entry("ELB.8907", 404), entry("APIGW.0302", 403)]
    problems = watcher.problems_in(errors, elb_answered=True)
    assert [(p.code, p.scope) for p in problems] == [
        ("APIGW.0301", watcher.SCOPE_ELB),
        ("APIGW.0302", watcher.SCOPE_ELB),
    ]


def test_timeouts_count_only_when_elb_never_answered():
    errors = [entry("WATCH.TIMEOUT"), entry("WATCH.CONNECTION")]
    assert watcher.problems_in(errors, elb_answered=True) == []
    assert [p.code for p in watcher.problems_in(errors, elb_answered=False)] == [
        "WATCH.TIMEOUT",
        "WATCH.CONNECTION",
    ]


def test_delivery_problem_needs_every_attempt_to_fail():
    failed = {"channel": "feishu", "status": "failed", "error": "HTTP 500"}
    assert watcher.delivery_problem([]) is None
    assert watcher.delivery_problem([{"channel": "slack", "status": "skipped"}]) is None
    assert watcher.delivery_problem([failed, {"channel": "slack", "status": "sent"}]) is None
    problem = watcher.delivery_problem([failed])
    assert problem is not None
    assert "HTTP 500" in problem.message


def test_advice_falls_back_to_the_http_status():
    assert "elb:pools:get" in watcher.advice("SOME.CODE", 403)
    assert "Troubleshooting" in watcher.advice("SOME.CODE")


def make_record(code="APIGW.0301", status=401, locale="en"):
    problem = watcher.WatcherProblem(code, watcher.SCOPE_ELB, "signature rejected", status, "req-1")
    return watcher.watcher_record(
        problem, region="cn-north-4", project_id="p1", observed_at="2026-01-01T00:00:00Z", locale=locale
    )


def test_a_chinese_watcher_error_says_what_to_do_in_chinese_and_keeps_the_names():
    record = make_record(locale="zh")
    assert record["title"] == "[紧急] elb-master-watch 无法读取 ELB:APIGW.0301(HTTP 401)"
    action = record["watcher"]["action"]
    assert action.startswith("ELB API 拒绝了请求签名")
    assert "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK" in action  # names stay copyable
    assert record["text"] == f"signature rejected\n处理方法:{action}"
    assert "elb:pools:get" in watcher.advice("SOME.CODE", 403, "zh")
    assert "故障排查" in watcher.advice("SOME.CODE", None, "zh")


def test_the_record_has_the_v1_shape_and_its_own_scope():
    record = make_record()
    assert record["fingerprint"] == make_record(status=None)["fingerprint"]
    assert record["fingerprint"] != make_record(code="APIGW.0302")["fingerprint"]
    assert scope_of(record) == watcher.SCOPE_ELB
    assert record["pool"] is record["master"] is record["check"] is None
    assert record["title"] == "[CRITICAL] elb-master-watch cannot read ELB: APIGW.0301 (HTTP 401)"


def test_lifecycle_leaves_it_alone_in_runs_that_cannot_judge_it():
    record = make_record()
    settings = LifecycleSettings()  # resolve_after 2 for pools; a watcher_error needs one judging run
    first = decide({}, [record], set(), now=0, settings=settings, channels=["webhook"])
    state = first.states[record["fingerprint"]]
    quiet = decide({state.fingerprint: state}, [], {"pool-1"}, now=60, settings=settings, channels=[])
    assert quiet.outgoing == []
    judged = decide(
        {state.fingerprint: state}, [], {watcher.SCOPE_ELB}, now=60, settings=settings, channels=[]
    )
    assert [o.record["status"] for o in judged.outgoing] == ["resolved"]


def test_resolved_text_and_channel_facts():
    resolved = resolved_record(make_record(), first_seen=0, back_at=600, last_seen=540, now=600, checks=1)
    assert resolved["title"] == "[RESOLVED] elb-master-watch works again: APIGW.0301 is gone after 10 min"
    message = summarize(make_record())
    facts = {fact.label: fact.value for fact in message.facts}
    assert facts["Error code"] == "APIGW.0301 (HTTP 401)"
    assert facts["What to do"].startswith("The ELB API rejected the signature")
    zh = {fact.label for fact in summarize(make_record(), "zh").facts}
    assert {"错误码", "处理方法"} <= zh


# --- the default store ----------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [None, "instance", "INSTANCE"])
def test_default_store_is_a_sqlite_file_in_the_temp_directory(simulator, monkeypatch, tmp_path, setting):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    if setting is not None:
        monkeypatch.setenv("ELB_WATCH_STATE", setting)
    first = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    second = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert [n["kind"] for n in first["notifications"]] == ["master_failed"]
    assert second["notifications"] == []
    assert first["deduplication"] == second["deduplication"] == "instance"
    assert (tmp_path / f"elb-master-watch-state-{os.getuid()}.db").is_file()


def test_state_off_notifies_every_run(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_STATE", "off")
    runs = [invoke({"pool_id": DEMO_POOL}, PlatformContext()) for _ in range(2)]
    assert [len(run["notifications"]) for run in runs] == [1, 1]
    assert [run["deduplication"] for run in runs] == ["off", "off"]


def test_delivery_problem_with_the_configured_channels_needs_each_of_them_to_fail():
    slack = {"channel": "slack", "status": "failed", "error": "HTTP 403"}
    feishu = {"channel": "feishu", "status": "failed", "error": "HTTP 500"}
    # Slack's catch-up is the only delivery owed, and it fails: Slack's problem, not every channel's.
    assert watcher.delivery_problem([slack], ["slack", "feishu"]) is None
    problem = watcher.delivery_problem([slack, feishu], ["slack", "feishu"])
    assert problem is not None
    assert problem.code == watcher.CHANNELS_FAILED
    assert watcher.delivery_problem([slack], ["slack"]) is not None
