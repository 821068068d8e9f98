"""Hostile inputs get a result, never a traceback: each class of crash the hostile round found, and more.

Through the real handler (and the CLI where the crash was the CLI's), the real SDK and the simulator.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from elb_simulator import Fault
from handler.app import WARM, invoke
from handler.assess import assess_pool
from handler.elb_model import check_job_from_api, pool_from_api
from handler.events import MAX_ERRORS, MAX_TARGETS, parse_event
from handler.limits import MAX_RESULT_BYTES, bound_result
from handler.started_jobs import _memo_key
from handler.state import open_store
from handler.text import clip, encodable
from tests.support import DEMO_POOL, PlatformContext, api_member, api_pool, demo_scenario

ROOT = Path(__file__).resolve().parents[1]
DEMO_MASTER = "2e7b36d2-66c8-4825-bcd2-211d99978680"
DEMO_LISTENER = "0b11747a-b139-492f-9692-2df0b1c87193"
LONE = "\ud83d"


@pytest.fixture(autouse=True)
def fresh_job_memory():
    WARM.started_jobs.clear()
    yield
    WARM.started_jobs.clear()


def _size(result) -> int:
    return len(json.dumps(result, ensure_ascii=False).encode("utf-8"))


# --- events ---------------------------------------------------------------------------------------


def test_flat_kafka_event_is_read():
    """The DMS-for-Kafka shape without `records`: messages[] sits at the top, beside topic_id."""
    event = {
        "event_version": "v1.0",
        "event_time": 1576737962,
        "trigger_type": "KAFKA",
        "region": "cn-north-4",
        "instance_id": "81335d56-b9fe-4679-ba95-7030949cc76b",
        "messages": [json.dumps({"pool_id": DEMO_POOL}), "not json"],
        "topic_id": "topic-test",
    }
    parsed = parse_event(event)
    assert parsed.source == "kafka"
    assert [t.pool_id for t in parsed.targets] == [DEMO_POOL]
    assert [e.where for e in parsed.errors] == ["messages[1]"]


def test_flat_kafka_event_through_the_handler(simulator):
    event = {"trigger_type": "KAFKA", "messages": [json.dumps({"pool_id": DEMO_POOL})], "topic_id": "t"}
    result = invoke(event, PlatformContext())
    assert result["source"] == "kafka"
    assert result["notifications"][0]["kind"] == "master_failed"


def test_kafka_event_without_messages_is_an_event_error():
    parsed = parse_event({"trigger_type": "KAFKA", "topic_id": "t"})
    assert [e.where for e in parsed.errors] == ["records"]


def test_87k_invalid_entries_give_100_errors_and_one_count():
    event = {"targets": [0] * 87_000}  # 174 KB: under the size limit, 87,000 invalid entries
    result = invoke(event, PlatformContext())
    errors = result["errors"]
    assert len(errors) == MAX_ERRORS + 1
    assert "86900 more" in errors[-1]["message"]
    assert _size(result) < MAX_RESULT_BYTES


def test_12000_distinct_targets_are_refused_as_too_many():
    event = {"targets": [{"pool_id": f"p{i:05d}"} for i in range(12_000)]}
    assert len(json.dumps(event, separators=(",", ":"))) < 256 * 1024
    parsed = parse_event(event)
    assert parsed.targets == ()
    assert parsed.errors[-1].message == f"names 12000 targets; at most {MAX_TARGETS} per event"


def test_duplicates_are_still_dropped_in_order():
    parsed = parse_event({"targets": [{"pool_id": "b"}, {"pool_id": "a"}, {"pool_id": "b"}]})
    assert [t.pool_id for t in parsed.targets] == ["b", "a"]


def _cli(args, tmp_path, env=None):
    return subprocess.run(
        [sys.executable, "-m", "handler", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=env or dict(os.environ),
    )


def test_cli_event_nested_100000_deep_is_an_event_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    done = _cli(["invoke", str(path), "--timeout", "5"], tmp_path)
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert [e["code"] for e in result["errors"]] == ["EVENT.INVALID"]
    assert result["errors"][0]["where"] == "event"
    assert done.returncode == 2


def test_deep_event_object_from_the_platform_is_an_event_error():
    event: dict = {}
    inner = event
    for _ in range(100_000):
        inner["targets"] = {}
        inner = inner["targets"]
    result = invoke(event, PlatformContext())
    assert [e["code"] for e in result["errors"]] == ["EVENT.INVALID"]


# --- lone surrogates from ELB ---------------------------------------------------------------------


def _surrogate_pool(simulator):
    pool = copy.deepcopy(demo_scenario()["pools"][0])
    pool["members"][0]["name"] = "web-master-" + LONE
    pool["name"] = LONE + "pool"
    # Valid JSON on the wire: the surrogate travels as the escape \ud83d.
    simulator.add_fault(Fault(path=f"master-slave-pools/{DEMO_POOL}", body=json.dumps({"pool": pool})))


@pytest.mark.parametrize("store", [None, "sqlite"])
def test_lone_surrogate_in_elb_text_is_carried_as_a_replacement_character(
    simulator, monkeypatch, tmp_path, capsys, store
):
    _surrogate_pool(simulator)
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    if store:
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["errors"] == []
    [record] = result["notifications"]
    assert record["master"]["name"] == "web-master-\ufffd"
    assert encodable(result)
    logged = capsys.readouterr().out
    logged.encode("utf-8")  # the log lines are writable
    assert "web-master-\ufffd" in logged
    if store:
        assert result["deduplication"] == "on"
        again = invoke({"pool_id": DEMO_POOL}, PlatformContext())
        assert again["notifications"] == [], "the stored state was read back"


def test_cli_prints_a_result_for_lone_surrogates(tmp_path):
    scenario = demo_scenario()
    scenario["pools"][0]["members"][0]["name"] = "web-master-" + LONE
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))  # ASCII-escaped: valid JSON with a lone surrogate
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pool_id": DEMO_POOL}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELB_WATCH_", "HUAWEICLOUD_SDK_"))}
    env["ELB_WATCH_DIAGNOSE"] = "off"
    done = _cli(["invoke", str(event), "--simulate", str(path)], tmp_path, env=env)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["notifications"][0]["master"]["name"] == "web-master-\ufffd"


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ELB_WATCH_DIAGNOSE_TTL", "1" + "0" * 400),
        ("ELB_WATCH_DIAGNOSE_TTL", "9" * 5000 + "h"),
        ("ELB_WATCH_CONNECT_TIMEOUT", "1" + "0" * 400),
        ("ELB_WATCH_CONCURRENCY", "inf"),
        ("ELB_WATCH_FIRE_AFTER", "9" * 5000),
        ("ELB_WATCH_REPEAT_INTERVAL", "1" + "0" * 400),
    ],
)
def test_absurd_numbers_are_config_errors(simulator, monkeypatch, name, value):
    monkeypatch.setenv("ELB_WATCH_STATE", "redis://127.0.0.1:1/0")
    monkeypatch.setenv(name, value)
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    [error] = result["errors"]
    assert error["code"] == "CONFIG.INVALID"
    assert name in error["message"]
    assert len(error["message"]) < 300, "the value is quoted short"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0?password=S3cretPassw0rd!",
        "redis://127.0.0.1:6379/0?timeout=1&password=S3cretPassw0rd!",
        "redis://:S3cretPassw0rd!@127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/0#password=S3cretPassw0rd!",
    ],
)
def test_redis_password_never_shows_in_a_config_error(monkeypatch, capsys, url):
    pytest.importorskip("redis")
    monkeypatch.setenv("ELB_WATCH_STATE", url)
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    [error] = [entry for entry in result["errors"] if entry["code"] == "CONFIG.INVALID"]
    assert "ELB_WATCH_STATE" in error["message"]
    output = capsys.readouterr()
    for text in (json.dumps(result), output.out, output.err):
        assert "S3cret" not in text


# --- secrets: scrub, then cut ---------------------------------------------------------------------


def test_a_secret_that_straddles_the_cut_leaves_no_prefix(simulator):
    token = "T" * 8 + "securitytoken" * 77  # 1009 characters, like a real temporary token
    message = "x" * 290 + token
    simulator.add_fault(
        Fault(
            path=f"master-slave-pools/{DEMO_POOL}",
            status=400,
            body=json.dumps({"error_code": "ELB.0001", "error_msg": message}),
        )
    )
    context = PlatformContext(ak=simulator.credentials.ak, sk=simulator.credentials.sk, token=token)
    result = invoke({"pool_id": DEMO_POOL, "project_id": simulator.project_id}, context)
    [error] = result["errors"]
    assert error["code"] == "ELB.0001"
    assert "***" in error["message"]
    assert "TTTT" not in error["message"]
    assert "securityto" not in json.dumps(result)


def test_clip_scrubs_before_it_cuts():
    secret = "hook-token-0123456789"
    text = "a" * 95 + secret
    assert clip(text, 100, [secret]) == "a" * 95 + "***"
    assert "hook" not in clip(text, 99, [secret])


# --- state that lies ------------------------------------------------------------------------------


def test_a_remembered_job_elb_forgot_is_forgotten_in_the_store_too(simulator, monkeypatch, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("ELB_WATCH_STATE", url)
    store = open_store(url)
    assert store is not None
    store.remember(_memo_key(DEMO_MASTER, DEMO_LISTENER), "job-that-no-longer-exists", 900)
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert result["errors"] == []
    [job] = simulator.created_jobs
    assert result["notifications"][0]["check"]["job_id"] == job["job_id"]
    assert store.recall(_memo_key(DEMO_MASTER, DEMO_LISTENER)) == job["job_id"]
    assert capsys.readouterr().out.count('"diagnosis.reuse"') == 1, "one reuse, then a new job"
    WARM.started_jobs.clear()
    invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert len(simulator.created_jobs) == 1, "the new job is the one reused next time"


# --- two masters ----------------------------------------------------------------------------------


def test_a_pool_with_two_masters_reports_the_failed_one():
    pool = pool_from_api(
        api_pool(
            [
                api_member("m-online", "master", listeners={"lsn-1": "ONLINE"}),
                api_member("m-offline", "master", listeners={"lsn-1": "OFFLINE"}),
                api_member("s-1", "slave", listeners={"lsn-1": "ONLINE"}),
            ]
        )
    )
    [finding] = assess_pool(pool)
    assert finding.kind == "master_failed"
    assert finding.master is not None
    assert finding.master.member.id == "m-offline"


# --- properties -----------------------------------------------------------------------------------

any_text = st.text(st.characters(codec=None, categories=None), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=25,
)
kafka_like = st.fixed_dictionaries(
    {"trigger_type": st.just("KAFKA")},
    optional={"messages": st.lists(json_values | any_text, max_size=4), "records": json_values},
)


@settings(max_examples=300, deadline=None)
@given(event=json_values | kafka_like | any_text)
def test_parse_event_is_total(event):
    """Any JSON value (lone surrogates included) becomes targets and located errors, never an exception."""
    parsed = parse_event(event)
    for error in parsed.errors:
        assert error.where
        assert error.message
    assert len(parsed.errors) <= MAX_ERRORS + 2


member_bodies = st.fixed_dictionaries(
    {},
    optional={
        "id": any_text | json_values,
        "name": any_text | json_values,
        "role": st.sampled_from(["master", "slave", "MASTER", ""]) | json_values,
        "operating_status": st.sampled_from(["ONLINE", "OFFLINE", "NO_MONITOR"]) | json_values,
        "protocol_port": st.integers() | any_text | json_values,
        "status": st.lists(
            st.fixed_dictionaries(
                {"listener_id": any_text, "operating_status": st.sampled_from(["ONLINE", "OFFLINE"])}
            ),
            max_size=3,
        )
        | json_values,
        "reason": json_values,
    },
)
pool_bodies = st.fixed_dictionaries(
    {"members": st.lists(member_bodies, max_size=4)},
    optional={
        "id": any_text | json_values,
        "name": any_text | json_values,
        "listeners": json_values,
        "healthmonitor": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(body=pool_bodies, job=json_values)
@example(body={"members": [{"protocol_port": "¹"}]}, job=None)  # str.isdigit() is True, int() refuses it
@example(body={"members": [{"protocol_port": "١٢"}]}, job={"result": "①"})  # non-ASCII digits
@example(body={"members": [{"protocol_port": "0\x1f"}]}, job=None)  # str.strip() removes \x1f, int() does not
def test_elb_bodies_map_to_encodable_domain_values(body, job):
    pool = pool_from_api(body)
    assess_pool(pool)
    check_job_from_api(job if isinstance(job, dict) else {"result": job})
    assert encodable(pool.name)
    assert all(encodable(member.name) for member in pool.members)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=pool_bodies)
def test_any_pool_body_through_the_sdk_gets_a_result(simulator, monkeypatch, body):
    """ELB bodies of any shape, through the real SDK and handler: a v1 result that can be written."""
    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    simulator.clear_faults()
    simulator.add_fault(
        Fault(path=f"master-slave-pools/{DEMO_POOL}", body=json.dumps({"pool": {"id": DEMO_POOL, **body}}))
    )
    result = invoke({"pool_id": DEMO_POOL}, PlatformContext(remaining_ms=5000))
    assert result["schema"] == "elb-master-watch/v1"
    assert all(e["code"] != "WATCH.INTERNAL" for e in result["errors"]), result["errors"]
    json.dumps(result, ensure_ascii=False).encode("utf-8")


def test_a_result_over_the_limit_says_what_was_cut():
    result = {
        "schema": "elb-master-watch/v1",
        "ok": True,
        "notifications": [],
        "errors": [],
        "targets": [{"target": {"pool_id": f"p{i}"}, "note": "x" * 1000} for i in range(5000)],
        "sweeps": [],
        "deliveries": [{"channel": "feishu", "status": "sent"}],
        "deduplication": "off",
        "held": [],
        "source": "direct",
    }
    bounded = bound_result(result)
    assert _size(bounded) <= MAX_RESULT_BYTES
    assert bounded["deliveries"] == result["deliveries"], "the small lists are kept"
    left_out = bounded["truncated"]["left_out"]
    assert left_out["targets"] + len(bounded["targets"]) == 5000
    assert len(bounded["targets"]) > 500


def test_the_generic_webhook_body_carries_the_same_cut_record_as_the_result():
    from handler.channels import webhook  # noqa: PLC0415
    from handler.channels.protocol import json_bytes  # noqa: PLC0415

    items = [
        {"group": "acl", "name": f"i{i}", "severity": "Major", "subject": "acl", "reason": "p" * 3000}
        for i in range(3000)
    ]
    check = {"job_id": "j", "failed_items": items}
    record = {"fingerprint": "f" * 16, "kind": "check_failed", "check": check}
    body = json_bytes(webhook.render(record))
    assert len(body) < 1_000_000  # not the 9 MB of the whole record
    [alert] = json.loads(body)["alerts"]
    assert len(alert["record"]["check"]["failed_items"]) == 100
    assert alert["record"]["check"]["failed_items_omitted"] == 2900
