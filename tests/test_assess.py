"""Assessment rules: which member is the master, when it failed, how bad it is, what the check job says."""

from __future__ import annotations

import pytest

from handler.assess import assess_check_job, assess_pool, attach_check, check_severity, member_state
from handler.domain import Target
from handler.elb_model import check_job_from_api, member_from_api, pool_from_api
from tests.support import api_job, api_member, api_pool, load_fixture


def pool_of(*members, **kwargs):
    return pool_from_api(api_pool(list(members), **kwargs))


def kinds(findings):
    return [(f.kind, f.severity) for f in findings]


def test_healthy_master_and_standby_produce_no_finding():
    assert assess_pool(pool_of(api_member("m", "master"), api_member("s", "slave"))) == []


def test_master_offline_with_standby_online_is_major_failover():
    findings = assess_pool(pool_of(api_member("m", "master", "OFFLINE"), api_member("s", "slave")))
    assert kinds(findings) == [("master_failed", "major")]
    assert findings[0].master.member.id == "m"
    assert findings[0].standby.state == "ONLINE"


def test_master_and_standby_offline_is_critical_outage():
    findings = assess_pool(pool_of(api_member("m", "master", "OFFLINE"), api_member("s", "slave", "OFFLINE")))
    assert kinds(findings) == [("master_failed", "critical")]


def test_master_offline_without_standby_is_critical():
    assert kinds(assess_pool(pool_of(api_member("m", "master", "OFFLINE")))) == [
        ("master_failed", "critical")
    ]


def test_master_offline_with_standby_not_monitored_is_critical():
    findings = assess_pool(
        pool_of(api_member("m", "master", "OFFLINE"), api_member("s", "slave", "NO_MONITOR"))
    )
    assert kinds(findings) == [("master_failed", "critical")]


def test_role_is_case_insensitive():
    findings = assess_pool(pool_of(api_member("m", "MASTER", "OFFLINE"), api_member("s", "Slave")))
    assert kinds(findings) == [("master_failed", "major")]


def test_listener_status_overrides_member_status():
    master = api_member("m", "master", "ONLINE", listeners={"lsn-1": "OFFLINE"})
    findings = assess_pool(pool_of(master, api_member("s", "slave")))
    assert kinds(findings) == [("master_failed", "major")]
    assert findings[0].master.failed_listeners == ("lsn-1",)


def test_listener_status_online_overrides_outer_offline():
    master = api_member("m", "master", "OFFLINE", listeners={"lsn-1": "ONLINE"})
    assert assess_pool(pool_of(master, api_member("s", "slave"))) == []


def test_outer_status_applies_to_listeners_missing_from_status_list():
    master = api_member("m", "master", "OFFLINE", listeners={"lsn-1": "ONLINE"})
    findings = assess_pool(pool_of(master, api_member("s", "slave"), listeners=("lsn-1", "lsn-2")))
    assert kinds(findings) == [("master_failed", "major")]
    assert findings[0].master.failed_listeners == ("lsn-2",)


def test_offline_on_any_listener_is_a_failure():
    master = api_member("m", "master", "ONLINE", listeners={"lsn-1": "ONLINE", "lsn-2": "OFFLINE"})
    findings = assess_pool(pool_of(master, api_member("s", "slave"), listeners=("lsn-1", "lsn-2")))
    assert findings[0].master.failed_listeners == ("lsn-2",)


def test_listener_named_in_the_event_narrows_the_assessment():
    master = api_member("m", "master", "ONLINE", listeners={"lsn-1": "ONLINE", "lsn-2": "OFFLINE"})
    pool = pool_of(master, api_member("s", "slave"), listeners=("lsn-1", "lsn-2"))
    assert assess_pool(pool, listener_id="lsn-1") == []
    assert kinds(assess_pool(pool, listener_id="lsn-2")) == [("master_failed", "major")]


def test_standby_health_is_judged_on_the_same_listeners():
    standby = api_member("s", "slave", "ONLINE", listeners={"lsn-1": "OFFLINE"})
    findings = assess_pool(pool_of(api_member("m", "master", "OFFLINE"), standby))
    assert kinds(findings) == [("master_failed", "critical")]


def test_pool_without_master_is_a_finding_not_a_crash():
    assert kinds(assess_pool(pool_of(api_member("s", "slave")))) == [("no_master", "warning")]
    assert kinds(assess_pool(pool_of())) == [("no_master", "warning")]


def test_pool_without_master_and_nothing_online_is_critical():
    assert kinds(assess_pool(pool_of(api_member("s", "slave", "OFFLINE")))) == [("no_master", "critical")]


def test_no_health_monitor_is_a_warning():
    pool = pool_of(
        api_member("m", "master", "NO_MONITOR"), api_member("s", "slave", "NO_MONITOR"), healthmonitor=None
    )
    assert kinds(assess_pool(pool)) == [("no_monitor", "warning")]


def test_disabled_health_monitor_is_a_warning():
    monitor = {"id": "hm", "type": "TCP", "admin_state_up": False}
    pool = pool_of(api_member("m", "master"), api_member("s", "slave"), healthmonitor=monitor)
    assert kinds(assess_pool(pool)) == [("no_monitor", "warning")]


def test_no_monitor_status_is_not_healthy():
    pool = pool_of(api_member("m", "master", "NO_MONITOR"), api_member("s", "slave"))
    assert kinds(assess_pool(pool)) == [("no_monitor", "warning")]


def test_offline_master_without_monitor_is_still_a_failure():
    pool = pool_of(
        api_member("m", "master", "OFFLINE"), api_member("s", "slave", "NO_MONITOR"), healthmonitor=None
    )
    assert kinds(assess_pool(pool)) == [("master_failed", "critical")]


@pytest.mark.parametrize("status", ["INITIAL", "UNKNOWN", "", "DEGRADED"])
def test_initial_and_unknown_states_are_their_own_state(status):
    findings = assess_pool(pool_of(api_member("m", "master", status), api_member("s", "slave")))
    assert kinds(findings) == [("master_unknown", "warning")]
    assert findings[0].master.state == (status or "UNKNOWN")


def test_standby_down_while_master_healthy_is_a_warning():
    findings = assess_pool(pool_of(api_member("m", "master"), api_member("s", "slave", "OFFLINE")))
    assert kinds(findings) == [("standby_failed", "warning")]


def test_member_state_without_listeners_uses_outer_status():
    state = member_state(member_from_api(api_member("m", "master", "OFFLINE")), [])
    assert state.state == "OFFLINE"


def test_reference_example_pool_master_and_slave_both_offline():
    pool = pool_from_api(load_fixture("show_master_slave_pool.json")["pool"])
    findings = assess_pool(pool)
    assert kinds(findings) == [("master_failed", "critical")]
    assert findings[0].master.member.name == "cx-test-master"
    assert findings[0].standby.member.name == "cx-test-slave"
    assert findings[0].master.failed_listeners == ("0b11747a-b139-492f-9692-2df0b1c87193",)


def test_reference_example_job_passes():
    job = check_job_from_api(load_fixture("show_member_health_check_job.json")["member_check"])
    verdict = assess_check_job(job)
    assert verdict.passed
    assert verdict.failed_items == ()
    assert (job.finished, job.total) == (17, 17)
    assert sum(len(g.items) for g in job.groups) == 17


def test_failed_items_are_rendered_and_keep_severity():
    job = check_job_from_api(
        api_job(
            {
                "acl_check_hc_dest_port_ingress": {"params": ["80", "acl-7f3e"]},
                "acl_check_hc_source_port_ingress": {"reason": "source ports 1-1023 are closed"},
            }
        )
    )
    verdict = assess_check_job(job)
    assert [(i.group, i.name, i.severity, i.subject) for i in verdict.failed_items] == [
        ("acl", "acl_check_hc_dest_port_ingress", "Major", "networkAcl"),
        ("acl", "acl_check_hc_source_port_ingress", "Tips", "networkAcl"),
    ]
    assert verdict.failed_items[0].reason == (
        "healthCheck destination port 80 is not allowed by ACL acl-7f3e ingress policies"
    )
    # Its template has an {$acl_id} placeholder and no params to fill it: ELB's own reason is shown.
    assert verdict.failed_items[1].reason == "source ports 1-1023 are closed"
    assert verdict.failed_groups == ("acl",)
    assert not verdict.passed


def test_items_with_reasons_in_a_passing_group_are_not_failures():
    raw = api_job()
    raw["result"]["config"]["check_items"][0]["reason_params"] = ["hm-1", "8080", "80"]
    verdict = assess_check_job(check_job_from_api(raw))
    assert verdict.failed_items == ()
    assert verdict.passed


def test_failed_group_without_item_details_is_still_a_failure():
    raw = api_job()
    raw["result"]["security_group"]["check_result"] = False
    verdict = assess_check_job(check_job_from_api(raw))
    assert verdict.failed_groups == ("security_group",)
    assert verdict.failed_items == ()
    assert check_severity(verdict) == "warning"


def test_group_whose_check_status_failed_could_not_complete():
    verdict = assess_check_job(check_job_from_api(api_job(group_status={"acl": "failed"})))
    assert verdict.incomplete_groups == ("acl",)
    assert not verdict.passed


def test_tips_only_failures_are_info():
    raw = api_job({"check_hc_config_port": {"params": ["hm-1", "8080", "80"]}})
    verdict = assess_check_job(check_job_from_api(raw))
    assert check_severity(verdict) == "info"


def test_processing_job_is_not_done():
    verdict = assess_check_job(check_job_from_api(api_job(status="processing")))
    assert not verdict.done
    assert not verdict.passed


def test_check_on_failed_master_rides_in_the_master_notification():
    pool = pool_of(api_member("m-master", "master", "OFFLINE"), api_member("s", "slave"))
    findings = assess_pool(pool)
    verdict = assess_check_job(
        check_job_from_api(api_job({"acl_check_hc_dest_ip_ingress": {"params": ["1.2.3.4"]}}))
    )
    merged = attach_check(findings, verdict, Target(pool_id=pool.id), pool)
    assert kinds(merged) == [("master_failed", "major")]
    assert merged[0].check is verdict


def test_failing_check_on_healthy_master_is_its_own_finding():
    pool = pool_of(api_member("m-master", "master"), api_member("s", "slave"))
    verdict = assess_check_job(
        check_job_from_api(api_job({"acl_check_hc_dest_ip_ingress": {"params": ["1.2.3.4"]}}))
    )
    merged = attach_check([], verdict, Target(pool_id=pool.id), pool)
    assert kinds(merged) == [("check_failed", "warning")]
    assert merged[0].pool is pool


def test_passing_check_adds_no_finding():
    verdict = assess_check_job(check_job_from_api(api_job()))
    assert attach_check([], verdict, Target(job_id="j")) == []
