"""The watcher watches itself: watcher_error findings, end to end through the real handler.

The ELB simulator rejects a wrong secret key with 401 APIGW.0301 exactly as the API gateway does;
a loopback Alertmanager-webhook receiver stands in for the chat channel; state is the default
instance store (ELB_WATCH_STATE unset), a SQLite file in this test's own temp directory.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

from handler import watcher_error as watcher
from handler.app import invoke
from handler.channels.message import summarize
from handler.domain import ElbApiError, ElbHealth
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
    # The watch goes on with the default (the alert is sent), and the watcher says what fell back.
    assert sorted(r["kind"] for r in records(webhook)) == ["master_failed", "watcher_error"]
    [sent] = [r for r in records(webhook) if r["kind"] == "watcher_error"]
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


def _watcher_sent(receiver: WebhookReceiver) -> list[tuple[str, str]]:
    """(status, code) of every watcher_error the receiver got, in order."""
    return [(r["status"], r["watcher"]["code"]) for r in records(receiver) if r["kind"] == "watcher_error"]


@pytest.mark.parametrize(
    "case",
    [("instance", False), ("instance", True), ("on", False), ("on", True)],
    ids=[
        "instance-store-healthy-pool",
        "instance-store-failed-master",
        "sqlite-url-healthy-pool",
        "sqlite-url-failed-master",
    ],
)
def test_a_corrupt_sqlite_store_is_set_aside_said_once_and_dedup_comes_back(
    simulator, webhook, case, capsys, monkeypatch
):
    # ELB_WATCH_STATE unset: the instance store, a SQLite file under this test's temp directory
    # (run in the caller's thread); a sqlite: URL is run in a thread of its own, bounded.
    kind, failing = case
    tmp = Path(tempfile.gettempdir())
    if kind == "on":
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp}/state.db")
    if not failing:
        simulator.set_pool(HEALTHY_POOL)
    event = {"pool_id": DEMO_POOL}
    assert invoke(event, PlatformContext())["deduplication"] == kind
    [path] = [tmp / "state.db"] if kind == "on" else tmp.glob("*-state-*.db")
    sent_before = len(webhook.accepted)
    # The warm instance keeps its connection open. SQLite copies its WAL into the file by itself
    # (every 1000 pages); done here at once, then the file is overwritten in place.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    garbage = b"\x00garbage, not a database\xff" * 300
    path.write_bytes(garbage)
    capsys.readouterr()

    corrupt = invoke(event, PlatformContext())
    assert corrupt["deduplication"] == "unavailable"
    [aside] = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert aside.read_bytes() == garbage, "the damaged file is kept as it was"
    assert path.is_file(), "a fresh store was made in its place within the same run"
    assert _watcher_sent(webhook) == [("firing", watcher.STORE_UNAVAILABLE)]
    [problem] = [r for r in records(webhook) if r["kind"] == "watcher_error"]
    assert problem["watcher"]["message"].startswith(
        f"de-duplication unavailable: state store was corrupt: set aside as {aside}, started afresh"
    )
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "was corrupt" in line]
    assert [line["event"] for line in logged if line["event"] != "notification"] == ["dedup.unavailable"]

    healed = invoke(event, PlatformContext())
    assert healed["deduplication"] == kind
    mentions = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "was corrupt" in line]
    assert [(line["event"], line["status"]) for line in mentions] == [("notification", "resolved")], (
        "said once"
    )
    assert _watcher_sent(webhook) == [
        ("firing", watcher.STORE_UNAVAILABLE),
        ("resolved", watcher.STORE_UNAVAILABLE),
    ]
    # The fresh store knows nothing of what the corrupt one held: a failed master is sent as new,
    # once in the run without de-duplication and once by the first run on the fresh store.
    repeats = [r["kind"] for r in records(webhook)[sent_before:] if r["kind"] != "watcher_error"]
    assert repeats == (["master_failed", "master_failed"] if failing else [])

    sent = len(webhook.accepted)
    third = invoke(event, PlatformContext())
    assert third["notifications"] == []
    assert len(webhook.accepted) == sent, "an identical run sends nothing: de-duplication is back"
    assert list(path.parent.glob(f"{path.name}.corrupt-*")) == [aside], "set aside once"


# --- the pure parts -------------------------------------------------------------------------------


def entry(code, status=None, where=None):
    return {"code": code, "status": status, "message": f"{code} happened", "where": where}


def test_setup_and_settings_problems_are_one_per_component_never_per_target():
    errors = [entry("CONFIG.REGION")] * 5 + [entry("CONFIG.CREDENTIALS"), entry("APIGW.0302", 403)]
    errors += [entry("CONFIG.INVALID", where="ELB_WATCH_STATE"), entry("CONFIG.INVALID", where="X")]
    problems = watcher.problems_in(errors)
    assert [(p.code, p.scope) for p in problems] == [
        ("CONFIG.REGION", watcher.SCOPE_SETUP),
        ("CONFIG.INVALID", watcher.SCOPE_STORE),
        ("CONFIG.INVALID", watcher.SCOPE_CONFIG),
    ]


def failure(code, status=None):
    return ElbApiError(code, f"{code} happened", status=status, request_id="req-9")


def test_unanswered_calls_are_a_reach_problem_only_where_nothing_answered():
    blind = ElbHealth("cn-north-4", "pa", calls=3, unreached=failure("WATCH.TIMEOUT"))
    slow_pool = ElbHealth(
        "cn-north-4", "pb", calls=3, answered=True, authorized=True, unreached=failure("WATCH.TIMEOUT")
    )
    problems, judged = watcher.elb_problems([blind, slow_pool])
    assert [(p.code, p.scope, p.region, p.project_id) for p in problems] == [
        ("WATCH.TIMEOUT", "watcher:elb-reach:cn-north-4/pa", "cn-north-4", "pa")
    ]
    assert judged == {"watcher:elb-reach:cn-north-4/pb", "watcher:elb-access:cn-north-4/pb"}


def test_access_is_judged_only_by_a_2xx_in_the_same_scope():
    denied = ElbHealth("cn-north-4", "pb", calls=1, answered=True, denied=failure("APIGW.0302", 403))
    missing_pool = ElbHealth("cn-north-4", "pc", calls=1, answered=True)  # a 404 proves reach, not access
    problems, judged = watcher.elb_problems([denied, missing_pool])
    assert [(p.code, p.scope, p.status, p.request_id) for p in problems] == [
        ("APIGW.0302", "watcher:elb-access:cn-north-4/pb", 403, "req-9")
    ]
    assert judged == {"watcher:elb-reach:cn-north-4/pb", "watcher:elb-reach:cn-north-4/pc"}
    assert problems[0].component == watcher.ELB_ACCESS


def test_a_scope_without_calls_judges_nothing():
    assert watcher.elb_problems([ElbHealth("cn-north-4", "pa")]) == ([], set())


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


ACCESS = watcher.elb_scope(watcher.ELB_ACCESS, "cn-north-4", "p1")


def make_record(code="APIGW.0301", status=401, locale="en", scope=ACCESS):
    problem = watcher.WatcherProblem(code, scope, "signature rejected", status, "req-1", "cn-north-4", "p1")
    return watcher.watcher_record(
        problem, region="cn-north-4", project_id="p1", observed_at="2026-01-01T00:00:00Z", locale=locale
    )


def test_a_chinese_watcher_error_says_what_to_do_in_chinese_and_keeps_the_names():
    record = make_record(locale="zh")
    assert record["title"] == "[紧急] elb-master-watch ELB 拒绝访问:APIGW.0301(HTTP 401)"
    action = record["watcher"]["action"]
    assert action.startswith("ELB API 拒绝了请求签名")
    assert "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK" in action  # names stay copyable
    assert record["text"] == f"signature rejected\n处理方法:{action}"
    assert "elb:pools:get" in watcher.advice("SOME.CODE", 403, "zh")
    assert "故障排查" in watcher.advice("SOME.CODE", None, "zh")


def test_the_record_has_the_v1_shape_and_one_fingerprint_per_component_and_scope():
    record = make_record()
    assert record["fingerprint"] == make_record(status=None)["fingerprint"]
    assert record["fingerprint"] == make_record(code="APIGW.0302")["fingerprint"], "a code is not a new alert"
    other_project = watcher.elb_scope(watcher.ELB_ACCESS, "cn-north-4", "p2")
    assert record["fingerprint"] != make_record(scope=other_project)["fingerprint"]
    assert scope_of(record) == ACCESS
    assert record["watcher"]["component"] == watcher.ELB_ACCESS
    assert (record["region"], record["project_id"]) == ("cn-north-4", "p1")
    assert record["pool"] is record["master"] is record["check"] is None
    assert record["title"] == ("[CRITICAL] elb-master-watch ELB refuses access: APIGW.0301 (HTTP 401)")


def test_another_code_of_the_same_component_is_a_change_never_resolved_and_firing():
    settings = LifecycleSettings()
    timeout = make_record("WATCH.TIMEOUT", None, scope=watcher.elb_scope(watcher.ELB_REACH, "r", "p"))
    refused = make_record("WATCH.CONNECTION", None, scope=watcher.elb_scope(watcher.ELB_REACH, "r", "p"))
    first = decide({}, [timeout], set(), now=0, settings=settings, channels=["webhook"])
    state = first.states[timeout["fingerprint"]]
    then = decide(
        {state.fingerprint: state}, [refused], set(), now=60, settings=settings, channels=["webhook"]
    )
    assert [(o.fingerprint, o.record["status"], o.record["notification_reason"]) for o in then.outgoing] == [
        (timeout["fingerprint"], "firing", "changed")
    ]


def test_lifecycle_leaves_it_alone_in_runs_that_cannot_judge_it():
    record = make_record()
    settings = LifecycleSettings()  # resolve_after 2 for pools; a watcher_error needs one judging run
    first = decide({}, [record], set(), now=0, settings=settings, channels=["webhook"])
    state = first.states[record["fingerprint"]]
    quiet = decide({state.fingerprint: state}, [], {"pool-1"}, now=60, settings=settings, channels=[])
    assert quiet.outgoing == []
    other = watcher.elb_scope(watcher.ELB_ACCESS, "cn-north-4", "p2")
    assert (
        decide({state.fingerprint: state}, [], {other}, now=60, settings=settings, channels=[]).outgoing == []
    )
    judged = decide({state.fingerprint: state}, [], {ACCESS}, now=60, settings=settings, channels=[])
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
