"""The v1 notification record: required fields, clear titles, readable text, rendered reasons."""

from __future__ import annotations

from handler.assess import assess_check_job, assess_pool, attach_check
from handler.domain import Notification, Target
from handler.elb_model import check_job_from_api, pool_from_api
from handler.lifecycle import resolved_record
from handler.notify import build, build_notification, fingerprint
from tests.support import api_job, api_member, api_pool

RECORD_KEYS = {
    "status",
    "severity",
    "kind",
    "title",
    "text",
    "pool",
    "master",
    "standby",
    "check",
    "project_id",
    "region",
    "observed_at",
}
MEMBER_KEYS = {
    "id",
    "name",
    "address",
    "protocol_port",
    "operating_status",
    "failed_listeners",
    "reason_code",
    "reason",
    "expected_response",
    "healthcheck_response",
}


def record_for(*members, job=None, locale="en", **pool_kwargs):
    pool = pool_from_api(api_pool(list(members), **pool_kwargs))
    findings = assess_pool(pool)
    if job is not None:
        findings = attach_check(
            findings, assess_check_job(check_job_from_api(job)), Target(pool_id=pool.id), pool
        )
    assert len(findings) == 1
    return build_notification(
        findings[0], region="cn-north-4", project_id="proj", observed_at="2026-11-21T00:00:00Z", locale=locale
    )


MISMATCH = {"reason_code": "RESPONSE_MISMATCH", "expected_response": "200", "healthcheck_response": "503"}


def test_record_has_every_contract_field():
    record = record_for(
        api_member("m", "master", "OFFLINE", reason=MISMATCH, name="web-1"),
        api_member("s", "slave", name="web-2"),
        job=api_job({"acl_check_hc_dest_port_ingress": {"params": ["80", "acl-1"]}}, member_id="m"),
    )
    assert set(record) >= RECORD_KEYS
    assert set(record["master"]) >= MEMBER_KEYS
    assert set(record["standby"]) >= MEMBER_KEYS
    assert set(record["pool"]) == {"id", "name", "protocol", "listener_ids", "loadbalancer_ids"}
    assert {"job_id", "status", "finished", "total", "failed_items"} <= set(record["check"])
    assert record["status"] == "firing"
    assert (record["region"], record["project_id"]) == ("cn-north-4", "proj")


EP_ID = "aa1c5b2e-5d8f-4a54-9b6f-a4a3c2e0f1d7"


def _record_of_pool(pool_json):
    [finding] = assess_pool(pool_from_api(pool_json))
    return build_notification(
        finding, region="cn-north-4", project_id="proj", observed_at="2026-11-21T00:00:00Z"
    )


def test_pool_block_carries_the_enterprise_project_elb_sent():
    members = [api_member("m", "master", "OFFLINE"), api_member("s", "slave")]
    pool_json = {**api_pool(members), "enterprise_project_id": EP_ID}
    assert pool_from_api(pool_json).enterprise_project_id == EP_ID
    assert _record_of_pool(pool_json)["pool"]["enterprise_project_id"] == EP_ID
    # "0", the default enterprise project, is a value like any other (routes may match it).
    default = _record_of_pool({**pool_json, "enterprise_project_id": "0"})
    assert default["pool"]["enterprise_project_id"] == "0"


def test_pool_block_has_no_enterprise_project_when_elb_sent_none():
    members = [api_member("m", "master", "OFFLINE"), api_member("s", "slave")]
    for missing in ({}, {"enterprise_project_id": None}, {"enterprise_project_id": ""}):
        record = _record_of_pool({**api_pool(members), **missing})
        assert "enterprise_project_id" not in record["pool"]


def test_failover_title_names_pool_master_and_standby():
    record = record_for(
        api_member("m", "master", "OFFLINE", name="web-1"), api_member("s", "slave", name="web-2")
    )
    assert record["title"] == "[MAJOR] web-pool: master web-1 down, traffic failed over to standby web-2"
    assert record["severity"] == "major"


def test_outage_title():
    record = record_for(api_member("m", "master", "OFFLINE"), api_member("s", "slave", "OFFLINE"))
    assert record["title"] == "[CRITICAL] web-pool: master and standby both down"


def test_reason_mismatch_shows_expected_and_actual_in_record_and_text():
    record = record_for(api_member("m", "master", "OFFLINE", reason=MISMATCH), api_member("s", "slave"))
    master = record["master"]
    assert master["reason_code"] == "RESPONSE_MISMATCH"
    assert master["expected_response"] == "200"
    assert master["healthcheck_response"] == "503"
    assert "expected 200, got 503" in master["reason"]
    assert "RESPONSE_MISMATCH" in record["text"]
    assert "expected 200, got 503" in record["text"]


def test_reason_in_chinese():
    record = record_for(
        api_member("m", "master", "OFFLINE", reason={"reason_code": "CONNECT_REFUSED"}),
        api_member("s", "slave"),
        locale="zh",
    )
    assert record["master"]["reason"] == "后端服务器拒绝了健康检查连接"


def test_text_says_traffic_failed_over_and_lists_rendered_check_reasons():
    record = record_for(
        api_member("m", "master", "OFFLINE", name="web-1", address="172.16.0.210", port=80),
        api_member("s", "slave", name="web-2"),
        job=api_job(
            {"security_group_check_hc_source_ip_ingress": {"params": ["100.125.0.0/16", "sg-web"]}},
            member_id="m",
        ),
    )
    lines = record["text"].splitlines()
    assert lines[0] == "Master web-1 (172.16.0.210:80) is OFFLINE on listener lsn-1."
    assert lines[1] == "Why: ELB gave no reason (the instance may be stopped or deleted)."
    assert lines[2] == "Standby web-2 (172.16.0.10:80) is ONLINE: traffic has failed over to it."
    assert lines[3].startswith(
        "Check job 919221ce-0011-4558-81ca-2866e6e68a27 (processed, 17/17 items): 1 failed"
    )
    assert lines[4] == (
        "- [Major] security group: "
        "healthCheck source IP 100.125.0.0/16 is not allowed by securityGroup sg-web ingress rules"
    )
    assert record["check"]["failed_items"] == [
        {
            "group": "security_group",
            "name": "security_group_check_hc_source_ip_ingress",
            "severity": "Major",
            "subject": "securityGroup",
            "reason": (
                "healthCheck source IP 100.125.0.0/16 is not allowed by securityGroup sg-web ingress rules"
            ),
        }
    ]


def test_healthy_member_has_no_reason_text():
    record = record_for(api_member("m", "master", "OFFLINE"), api_member("s", "slave"))
    assert record["standby"]["reason"] is None
    assert record["standby"]["operating_status"] == "ONLINE"


def test_check_only_record_title():
    verdict = assess_check_job(
        check_job_from_api(
            api_job(
                {"acl_check_hc_dest_ip_ingress": {"params": ["10.0.0.1", "acl-1"]}}, member_id="02272819-5655"
            )
        )
    )
    findings = attach_check([], verdict, Target(job_id="j"))
    record = build_notification(findings[0], region="r", project_id="p", observed_at="t")
    assert record["kind"] == "check_failed"
    assert record["title"] == "[WARNING] member 02272819: member check found 1 problem"
    assert record["pool"] is None
    assert record["master"] is None


def test_fingerprint_ignores_reason_text_but_not_kind():
    first = record_for(
        api_member("m", "master", "OFFLINE", reason={"reason_code": "CONNECT_REFUSED"}),
        api_member("s", "slave"),
    )
    second = record_for(
        api_member("m", "master", "OFFLINE", reason={"reason_code": "CONNECT_TIMEOUT"}),
        api_member("s", "slave"),
    )
    third = record_for(api_member("m", "master", "OFFLINE"), api_member("s", "slave", "OFFLINE"))
    assert first["fingerprint"] == second["fingerprint"] == third["fingerprint"]
    pool = pool_from_api(api_pool([api_member("m", "master"), api_member("s", "slave", "OFFLINE")]))
    assert fingerprint(assess_pool(pool)[0]) != first["fingerprint"]


def test_nameless_pool_and_members_fall_back_to_ids():
    record = record_for(
        api_member("2e7b36d2-66c8", "master", "OFFLINE", name=""),
        api_member("9f00aa11-0000", "slave", name=""),
        name="",
        pool_id="36ce7086-a496",
    )
    assert record["title"] == (
        "[MAJOR] 36ce7086: master 172.16.0.10 down, traffic failed over to standby 172.16.0.10"
    )


def test_chinese_title_and_text():
    record = record_for(
        api_member("m", "master", "OFFLINE", name="web-1", reason={"reason_code": "CONNECT_REFUSED"}),
        api_member("s", "slave", name="web-2"),
        job=api_job({"acl_check_hc_dest_ip_ingress": {"params": ["10.0.0.1", "acl-1"]}}, member_id="m"),
        locale="zh",
    )
    assert record["title"] == "[重要] web-pool:主节点 web-1 故障,流量已切换到备节点 web-2"
    lines = record["text"].splitlines()
    assert lines[0] == "主节点 web-1(172.16.0.10:80)状态为 OFFLINE(监听器 lsn-1)。"
    assert lines[1] == "原因:CONNECT_REFUSED, 后端服务器拒绝了健康检查连接。"
    assert lines[2] == "备节点 web-2(172.16.0.10:80)状态为 ONLINE,流量已切换到该节点。"
    assert lines[4].startswith("- [Major] 网络ACL: healthCheck destination IP 10.0.0.1")
    assert record["kind"] == "master_failed"  # structured fields stay as they are
    assert record["severity"] == "major"


def test_unknown_locale_falls_back_to_english():
    record = record_for(
        api_member("m", "master", "OFFLINE"), api_member("s", "slave", "OFFLINE"), locale="fr"
    )
    assert record["title"] == "[CRITICAL] web-pool: master and standby both down"


def test_resolved_notice_in_chinese():
    firing = record_for(
        api_member("m", "master", "OFFLINE", name="web-1"), api_member("s", "slave", name="web-2")
    )
    notice = resolved_record(
        firing,
        first_seen=1_000_000.0,
        back_at=1_000_720.0,
        last_seen=1_000_660.0,
        now=1_000_780.0,
        checks=2,
        locale="zh",
    )
    assert notice["title"] == "[已恢复] web-pool:主节点 web-1 已恢复 ONLINE,故障持续 12 min"
    assert notice["text"].splitlines()[0] == "主节点 web-1(172.16.0.10:80)已恢复 ONLINE。"
    assert notice["status"] == "resolved"
    english = resolved_record(
        firing, first_seen=1_000_000.0, back_at=1_000_720.0, last_seen=1_000_660.0, now=1_000_780.0, checks=2
    )
    assert english["title"] == "[RESOLVED] web-pool: master web-1 is back ONLINE after 12 min"


def test_a_notification_is_typed_and_its_v1_record_round_trips():
    pool = pool_from_api(
        api_pool([api_member("m", "master", "OFFLINE", reason=MISMATCH), api_member("s", "slave")])
    )
    [finding] = assess_pool(pool)
    notification = build(finding, region="cn-north-4", project_id="proj", observed_at="t")
    assert isinstance(notification, Notification)
    assert notification.kind == "master_failed"
    assert notification.reason is None  # the lifecycle has not decided yet
    record = notification.to_record()
    assert record == build_notification(finding, region="cn-north-4", project_id="proj", observed_at="t")
    assert Notification.of(record) == notification
    assert Notification.of(record).to_record() == record


def test_keys_the_type_does_not_know_ride_along_and_the_reason_is_typed():
    record = {
        "status": "resolved",
        "severity": "info",
        "kind": "watcher_error",
        "fingerprint": "abc",
        "title": "[RESOLVED] x",
        "watcher": {"code": "APIGW.0301"},
        "notification_reason": "resolved",
    }
    notification = Notification.of({**record, "region": None})
    assert notification.region is None  # a record without a region keeps null, not ""
    assert notification.to_record()["region"] is None
    notification = Notification.of(record)
    assert notification.resolved
    assert notification.reason == "resolved"
    assert notification.extra == {"watcher": {"code": "APIGW.0301"}}
    back = notification.to_record()
    assert back["watcher"] == {"code": "APIGW.0301"}
    assert back["notification_reason"] == "resolved"
