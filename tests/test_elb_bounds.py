"""Hostile ELB answers stay bounded and are rendered truthfully (issue 20, item 6).

- a response body over MAX_ELB_RESPONSE_BYTES is refused while it is read (ELB.RESPONSE_TOO_LARGE);
- every text field is cut to its cap at the border, before a record, a log line or the store;
- reason_params that is not a list, or does not fit its template, still lists the item, with ELB's reason;
- impossible progress counters are clamped and flagged.

Real SDK over real HTTP against the simulator (its `huge_field_bytes` knob streams a huge field);
the 40 MB answer is measured in a child process, whose peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import handler
from elb_simulator import ElbSimulator, Fault
from elb_simulator.scenario import ScenarioError, load_scenario
from handler import elb, limits
from handler.assess import assess_check_job
from handler.budget import Budget
from handler.channels.message import summarize
from handler.config import Credentials, Settings
from handler.domain import CheckVerdict, Sweep
from handler.elb_model import check_job_from_api, counters, pool_from_api
from handler.instance import SdkClients
from handler.notify import check_block
from handler.reasons import item_reason
from tests.builders import point_at
from tests.support import (
    DEMO_JOB,
    DEMO_POOL,
    ROOT,
    PlatformContext,
    api_job,
    api_member,
    api_pool,
    demo_scenario,
)

MB = 1024 * 1024


def _gateway(sim: ElbSimulator) -> elb.ElbGateway:
    return elb.ElbGateway(
        region=sim.region,
        project_id=sim.project_id,
        credentials=Credentials(sim.credentials.ak, sim.credentials.sk),
        settings=Settings(max_attempts=3, retry_base=0.01),
        budget=Budget(20.0),
        clients=SdkClients(),
    )


def _huge(size: int) -> dict[str, Any]:
    scenario = demo_scenario()
    scenario["huge_field_bytes"] = size
    return scenario


# ---------------------------------------------------------------- the response body cap

_CHILD = """
import json, sys
import handler
from tests.support import PlatformContext
result = handler.handler({"pool_id": sys.argv[1]}, PlatformContext(60_000))
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
sys.stderr.write("RESULT " + json.dumps({"peak_kb": int(status), "result": result}) + "\\n")
"""


def _in_a_child(sim: ElbSimulator) -> tuple[dict[str, Any], str]:
    """Run handler.handler for the demo pool in a fresh process: (its peak RSS and result, its stdout)."""
    env = {
        **os.environ,
        **sim.env(),
        "HUAWEICLOUD_SDK_AK": sim.credentials.ak,
        "HUAWEICLOUD_SDK_SK": sim.credentials.sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
        "ELB_WATCH_REGION": sim.region,
        "ELB_WATCH_STATE": "off",
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, DEMO_POOL],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(child.stderr.split("RESULT ", 1)[1]), child.stdout


def test_a_40_mb_answer_is_refused_in_chunks_and_peak_rss_stays_under_128_mb():
    """Before the cap the SDK read the whole body: a 40 MB member name peaked at 912 MB."""
    with ElbSimulator(_huge(40 * 1000 * 1000)) as sim:
        report, stdout = _in_a_child(sim)
        pool_reads = sim.count("master-slave-pools", "GET")
    assert report["peak_kb"] < 128 * 1024, f"peak RSS {report['peak_kb']} kB"
    [error] = report["result"]["errors"]
    assert error["code"] == "ELB.RESPONSE_TOO_LARGE"
    assert "ShowMasterSlavePool" in error["message"]
    assert "16 MB cap" in error["message"]
    assert pool_reads == 1, "refused, not retried"
    # One log line for it, never the body.
    lines = [line for line in stdout.splitlines() if "ELB.RESPONSE_TOO_LARGE" in line]
    assert len(lines) == 1
    assert "x" * 300 not in stdout
    assert report["result"]["ok"] is False


def test_15_mb_of_tiny_objects_is_refused_before_parsing_and_peak_rss_stays_under_128_mb():
    """Under the byte cap, 5 million `{}` members parsed and mapped peaked at 1 GB."""
    members = ",".join(["{}"] * 5_000_000)
    with ElbSimulator(demo_scenario()) as sim:
        body = f'{{"pool": {{"id": "{DEMO_POOL}", "members": [{members}]}}}}'
        sim.add_fault(Fault(path="master-slave-pools", status=200, body=body))
        del body, members
        report, _stdout = _in_a_child(sim)
    assert report["peak_kb"] < 128 * 1024, f"peak RSS {report['peak_kb']} kB"
    [error] = report["result"]["errors"]
    assert error["code"] == "ELB.RESPONSE_TOO_LARGE"
    assert f"over the cap of {limits.MAX_ELB_RESPONSE_VALUES}" in error["message"]


def test_an_answer_just_under_the_value_cap_is_read(simulator):
    members = ",".join(['{"role": "x"}'] * limits.MAX_ELB_RESPONSE_VALUES)
    body = f'{{"pool": {{"id": "{DEMO_POOL}", "members": [{members}]}}}}'
    simulator.add_fault(Fault(path="master-slave-pools", status=200, body=body))
    pool = _gateway(simulator).show_pool(DEMO_POOL)
    assert len(pool.members) == limits.MAX_MEMBERS, "the members past the cap are not read"


def test_a_page_with_more_pools_than_asked_for_is_malformed(simulator):
    pools = [api_pool([api_member(f"m-{n}", "master")], pool_id=f"pool-{n}") for n in range(3)]
    simulator.add_fault(Fault(path="master-slave-pools", status=200, body=json.dumps({"pools": pools})))
    with pytest.raises(elb.ElbApiError) as raised:
        _gateway(simulator).list_pools_page(Sweep(), None, limit=2)
    assert raised.value.code == "ELB.MALFORMED_RESPONSE"
    assert "holds 3 pools, more than the 2 asked for" in raised.value.message


@pytest.mark.parametrize(
    ("read", "operation"),
    [
        (lambda gateway: gateway.show_pool(DEMO_POOL), "ShowMasterSlavePool"),
        (lambda gateway: gateway.show_check_job(DEMO_JOB), "ShowMemberHealthCheckJob"),
        (
            lambda gateway: gateway.list_pools_page(Sweep(), None),
            "ListMasterSlavePools",
        ),
    ],
)
def test_every_read_refuses_a_streamed_answer_over_the_cap_naming_its_operation(read, operation, monkeypatch):
    with ElbSimulator(_huge(limits.MAX_ELB_RESPONSE_BYTES + MB)) as sim:
        point_at(sim, monkeypatch)
        with pytest.raises(elb.ElbApiError) as raised:
            read(_gateway(sim))
        assert len(sim.requests) == 1, "the same answer would come again: not retried"
    assert raised.value.code == "ELB.RESPONSE_TOO_LARGE"
    assert operation in raised.value.message
    assert "bytes read" in raised.value.message


def test_a_declared_content_length_over_the_cap_is_refused_before_the_body_is_read(simulator):
    declared = str(limits.MAX_ELB_RESPONSE_BYTES + 1)
    simulator.add_fault(
        Fault(
            path="master-slave-pools", status=200, body='{"pool": {}}', headers={"Content-Length": declared}
        )
    )
    with pytest.raises(elb.ElbApiError) as raised:
        _gateway(simulator).show_pool(DEMO_POOL)
    assert raised.value.code == "ELB.RESPONSE_TOO_LARGE"
    assert f"Content-Length is {declared} bytes" in raised.value.message


def test_an_answer_just_under_the_cap_is_read(monkeypatch):
    with ElbSimulator(_huge(limits.MAX_ELB_RESPONSE_BYTES - 4096)) as sim:
        point_at(sim, monkeypatch)
        pool = _gateway(sim).show_pool(DEMO_POOL)
    assert pool.id == DEMO_POOL
    assert len(pool.members[0].name) == limits.MAX_NAME_CHARS


def test_one_refused_pool_leaves_the_other_targets_assessed(simulator, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    simulator.set_pool(api_pool([api_member("m-2", "master", "OFFLINE")], pool_id="pool-2"))
    huge = {"Content-Length": str(limits.MAX_ELB_RESPONSE_BYTES + 1)}
    simulator.add_fault(Fault(path=f"master-slave-pools/{DEMO_POOL}", status=200, body="{}", headers=huge))
    event = {"targets": [{"pool_id": DEMO_POOL}, {"pool_id": "pool-2"}]}
    result = handler.handler(event, PlatformContext())
    assert [e["code"] for e in result["errors"]] == ["ELB.RESPONSE_TOO_LARGE"]
    assert [n["pool"]["id"] for n in result["notifications"]] == ["pool-2"]


# ---------------------------------------------------------------- text field caps


def test_a_1_mb_member_name_is_cut_before_the_record_the_log_and_the_store(monkeypatch, tmp_path, capsys):
    store = tmp_path / "state.db"
    monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite://{store}")
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    with ElbSimulator(_huge(MB)) as sim:
        point_at(sim, monkeypatch)
        result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext())
    [record] = result["notifications"]
    name = record["master"]["name"]
    assert len(name) == limits.MAX_NAME_CHARS
    assert name.endswith("…")
    assert "x" * limits.MAX_NAME_CHARS not in json.dumps(result)
    assert "x" * limits.MAX_NAME_CHARS not in capsys.readouterr().out
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("state.db"))
    assert b"x" * (limits.MAX_NAME_CHARS - 1) in stored, "the store holds the cut name"
    assert b"x" * limits.MAX_NAME_CHARS not in stored
    assert store.stat().st_size < 200_000


def test_pool_fields_are_cut_to_their_caps():
    long = "é" * 5000
    member = api_member("m-" + long, "master", "OFFLINE", name=long, address=long)
    member["reason"] = {"reason_code": long, "expected_response": long, "healthcheck_response": long}
    member["status"] = [{"listener_id": long, "operating_status": long}]
    pool = pool_from_api(api_pool([member], pool_id=long, name=long, listeners=(long,)))
    [mapped] = pool.members
    texts = [pool.id, pool.name, *pool.listener_ids, mapped.id, mapped.name, mapped.address]
    texts += [mapped.listener_health[0].listener_id, mapped.listener_health[0].operating_status]
    assert mapped.reason is not None
    assert {len(text) for text in [*texts, mapped.reason.reason_code or ""]} == {limits.MAX_NAME_CHARS}
    assert all(text.endswith("…") for text in texts)
    responses = [mapped.reason.expected_response or "", mapped.reason.healthcheck_response or ""]
    assert {len(text) for text in responses} == {limits.MAX_REASON_CHARS}
    # A cut id still matches the same cut id elsewhere in the answer: the listener's view is found.
    assert mapped.listener_health[0].listener_id == pool.listener_ids[0]


def test_short_fields_are_kept_as_they_are():
    pool = pool_from_api(api_pool([api_member("m-1", "master", name="n" * limits.MAX_NAME_CHARS)]))
    assert pool.members[0].name == "n" * limits.MAX_NAME_CHARS


def _job_with(item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    job = api_job()
    job["result"]["acl"]["check_result"] = False
    job["result"]["acl"]["check_items"] = [
        {"name": "acl_item", "severity": "Major", "subject": "acl", **item}
    ]
    job.update(fields)
    return job


def test_check_item_texts_params_and_item_counts_are_capped():
    long = "r" * 50_000
    template = " ".join(f"{{$p{i}}}" for i in range(100))
    params = ["v" * 5000] * 100
    job = check_job_from_api(
        _job_with({"reason": long, "reason_template": template, "reason_params": params, "name": long})
    )
    [item] = job.groups[1].items
    assert len(item.name) == limits.MAX_NAME_CHARS
    assert len(item.reason or "") == limits.MAX_REASON_CHARS
    assert len(item.reason_params) == limits.MAX_REASON_PARAMS
    assert {len(param) for param in item.reason_params} == {limits.MAX_PARAM_CHARS}
    [failed] = assess_check_job(job).failed_items
    assert len(failed.reason) <= limits.MAX_REASON_CHARS


def test_check_items_past_the_cap_are_counted_in_the_record_not_kept():
    many = [{"name": f"i{n}", "reason": f"bad {n}", "reason_params": []} for n in range(3000)]
    passing = [{"name": "ok", "reason": None, "reason_params": []}] * 50
    raw = _job_with({})
    raw["result"]["acl"]["check_items"] = many + passing
    verdict = assess_check_job(check_job_from_api(raw))
    assert len(verdict.failed_items) == limits.MAX_CHECK_ITEMS
    assert verdict.failed_items_omitted == 3000 - limits.MAX_CHECK_ITEMS
    block = check_block(verdict)
    assert block is not None
    compact = limits.compact_record({"check": block})
    assert len(compact["check"]["failed_items"]) == limits.MAX_RECORD_ITEMS
    assert compact["check"]["failed_items_omitted"] == 3000 - limits.MAX_RECORD_ITEMS


# ---------------------------------------------------------------- reason_params


@pytest.mark.parametrize("params", ["443", {"port": 443}, 443, 4.5, True])
def test_reason_params_that_is_not_a_list_still_lists_the_item_with_elbs_reason(params):
    raw = _job_with(
        {
            "reason": "port 443 is blocked by ACL acl-1",
            "reason_template": "port {$port} is blocked by ACL {$acl_id}",
            "reason_params": params,
        }
    )
    [failed] = assess_check_job(check_job_from_api(raw)).failed_items
    assert failed.name == "acl_item"
    assert failed.reason == "port 443 is blocked by ACL acl-1"


def test_reason_params_not_a_list_and_no_reason_shows_the_template_and_what_elb_sent():
    raw = _job_with({"reason": None, "reason_template": "port {$port} blocked", "reason_params": {"a": 1}})
    [failed] = assess_check_job(check_job_from_api(raw)).failed_items
    assert failed.reason == 'port {$port} blocked (ELB\'s reason_params is not a list: "{"a": 1}")'


def test_null_params_render_empty_and_never_shift_the_others():
    """[null, 1, true] used to become ("1", "True"): "port 1 … ACL True"."""
    raw = _job_with({"reason_template": "a={$a} b={$b} c={$c}", "reason_params": [None, 1, True]})
    [failed] = assess_check_job(check_job_from_api(raw)).failed_items
    # Booleans read as they always have (Python's True), numbers as JSON writes them.
    assert failed.reason == "a= b=1 c=True"


def test_a_list_of_nulls_still_lists_the_item():
    raw = _job_with({"reason_template": "port {$port}", "reason_params": [None]})
    [failed] = assess_check_job(check_job_from_api(raw)).failed_items
    assert failed.reason == "port "


@pytest.mark.parametrize("params", [["80"], ["80", "acl-1", "extra"]])
def test_params_that_do_not_fit_the_template_show_elbs_reason(params):
    raw = _job_with(
        {
            "reason": "ELB's own sentence",
            "reason_template": "port {$port} by ACL {$acl_id}",
            "reason_params": params,
        }
    )
    [failed] = assess_check_job(check_job_from_api(raw)).failed_items
    assert failed.reason == "ELB's own sentence"


def test_params_that_do_not_fit_and_no_reason_show_the_template_and_the_params_quoted():
    text = item_reason("port {$port} by ACL {$acl_id}", ["80", "acl-1", "x"], None)
    assert text == (
        "port {$port} by ACL {$acl_id} "
        '(ELB\'s 3 reason_params do not fit its 2 placeholders: "80", "acl-1", "x")'
    )
    assert item_reason("port {$port}", [], None) == (
        "port {$port} (ELB's 0 reason_params do not fit its 1 placeholders: none)"
    )
    assert item_reason(None, ["a"], None) == '(ELB gave no reason, only reason_params: "a")'


@pytest.mark.parametrize(
    ("template", "params"),
    [
        ("{0:>999999999} {$a}", ["{0:>999999999}"]),
        ("{0.__class__} {$a}", ["{0.__class__.__mro__}"]),
        ("{$a}", ["{$a}{$a}"]),
    ],
)
def test_format_string_templates_and_params_stay_literal(template, params):
    text = item_reason(template, params, None)
    assert text == template.replace("{$a}", params[0])
    assert len(text) < 100


# ---------------------------------------------------------------- impossible counters


@pytest.mark.parametrize(
    ("finished", "total", "shown", "note"),
    [
        (99, 17, (17, 17), "99/17"),
        (-5, 17, (0, 17), "-5/17"),
        (3, -1, (3, None), "3/-1"),
        (-2, None, (0, None), "-2/?"),
        (17, 17, (17, 17), None),
        (None, None, (None, None), None),
    ],
)
def test_impossible_counters_are_clamped_and_flagged(finished, total, shown, note):
    assert counters(finished, total) == (*shown, note)


def test_a_job_with_impossible_counters_says_so_in_its_record_and_text(simulator, monkeypatch):
    raw = api_job({"acl_check_hc_dest_port_ingress": {"params": ["80", "acl-1"]}}, member_id="m-x")
    raw.update(job_id=DEMO_JOB, check_item_finished_num=99, check_item_total_num=17)
    simulator.add_fault(Fault(path="check/jobs", status=200, body=json.dumps({"member_check": raw})))
    result = handler.handler({"job_id": DEMO_JOB}, PlatformContext())
    [record] = result["notifications"]
    check = record["check"]
    assert (check["finished"], check["total"]) == (17, 17)
    assert check["impossible_counters"] == "99/17"
    assert "ELB reported impossible progress counters (99/17)" in record["text"]
    assert "17/17 items" in record["text"]
    # The chat channels' check-job fact shows ELB's own counters next to the clamped ones.
    facts = [fact.value for fact in summarize(record).facts]
    assert any("17/17 (ELB: 99/17)" in fact for fact in facts)


def test_sane_counters_add_nothing_to_the_record():
    verdict = CheckVerdict(check_job_from_api(api_job()))
    block = check_block(verdict)
    assert block is not None
    assert "impossible_counters" not in block
    assert "failed_items_omitted" not in block


# ---------------------------------------------------------------- end to end through the handler


def test_hostile_check_items_reach_the_notification_listed_and_in_place(simulator, monkeypatch):
    raw = api_job(member_id="m-x")
    raw["job_id"] = DEMO_JOB
    raw["result"]["acl"]["check_result"] = False
    items = raw["result"]["acl"]["check_items"]
    items[0].update(reason="ELB says: protocol blocked", reason_params="not-a-list")
    items[1].update(reason_template="ACL {$a} port {$b} on {$c}", reason_params=[None, 1, True])
    items[2].update(reason="ELB's words", reason_params=["only-one", "two", "three", "four"])
    simulator.add_fault(Fault(path="check/jobs", status=200, body=json.dumps({"member_check": raw})))
    result = handler.handler({"job_id": DEMO_JOB}, PlatformContext())
    [record] = result["notifications"]
    reasons = [item["reason"] for item in record["check"]["failed_items"]]
    assert reasons == ["ELB says: protocol blocked", "ACL  port 1 on True", "ELB's words"]
    assert "ACL  port 1 on True" in record["text"]


@pytest.mark.parametrize("value", [-1, True, "40MB", 1.5, (1 << 32) + 1])
def test_the_simulator_refuses_a_huge_field_size_that_is_not_a_byte_count(value):
    scenario = demo_scenario()
    scenario["huge_field_bytes"] = value
    with pytest.raises(ScenarioError, match="huge_field_bytes"):
        load_scenario(scenario)


def test_the_simulators_huge_field_is_the_first_members_name_behind_the_signature_check(monkeypatch):
    import urllib.request  # noqa: PLC0415

    with ElbSimulator(_huge(3 * MB)) as sim:
        point_at(sim, monkeypatch)
        pool = _gateway(sim).show_pool(DEMO_POOL)
        # The signature is checked before the knob applies: an unsigned read is still refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{sim.endpoint}/v3/{sim.project_id}/elb/master-slave-pools/{DEMO_POOL}")
    refused.value.close()
    assert refused.value.code == 401
    assert pool.members[0].name == "x" * (limits.MAX_NAME_CHARS - 1) + "…"
    assert pool.members[1].name == "web-standby-1", "only the first member's name is huge"
