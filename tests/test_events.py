"""Every accepted trigger shape yields targets; everything else yields a located error, never an exception."""

from __future__ import annotations

import base64
import json

import pytest

from handler.domain import Target
from handler.events import MAX_EVENT_BYTES, MAX_TARGETS, parse_event
from tests.support import DEMO_JOB, DEMO_LISTENER, DEMO_POOL, load_event

DEMO = Target(pool_id=DEMO_POOL, job_id=DEMO_JOB, region="cn-north-4")


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("direct.json", "direct"),
        ("timer.json", "timer"),
        ("smn.json", "smn"),
        ("apig.json", "apig"),
        ("apig_plain.json", "apig"),
        ("eventgrid.json", "eventgrid"),
        ("cloudevent.json", "cloudevent"),
    ],
)
def test_each_trigger_sample_names_the_demo_pool_and_job(name, source):
    parsed = parse_event(load_event(name))
    assert parsed.errors == ()
    assert parsed.source == source
    assert parsed.targets == (DEMO,)


def test_targets_list_shares_region_and_keeps_order():
    parsed = parse_event(load_event("direct_targets.json"))
    assert parsed.errors == ()
    assert parsed.targets == (
        Target(pool_id=DEMO_POOL, listener_id=DEMO_LISTENER, region="cn-north-4"),
        Target(job_id=DEMO_JOB, region="cn-north-4"),
    )


def test_target_region_overrides_the_shared_one():
    parsed = parse_event({"region": "cn-north-4", "targets": [{"pool_id": "p1", "region": "ap-southeast-1"}]})
    assert parsed.targets == (Target(pool_id="p1", region="ap-southeast-1"),)


def test_kafka_batch_yields_one_target_per_message():
    parsed = parse_event(load_event("kafka.json"))
    assert parsed.source == "kafka"
    assert parsed.targets == (
        Target(pool_id=DEMO_POOL, region="cn-north-4"),
        Target(job_id=DEMO_JOB, region="cn-north-4"),
    )


def test_job_only_event():
    assert parse_event(load_event("job_only.json")).targets == (Target(job_id=DEMO_JOB, region="cn-north-4"),)


def test_event_as_json_text_is_accepted():
    assert parse_event(json.dumps({"pool_id": "p1"})).targets == (Target(pool_id="p1"),)
    assert parse_event(b'{"job_id": "j1"}').targets == (Target(job_id="j1"),)


def test_duplicate_targets_are_watched_once():
    parsed = parse_event({"targets": [{"pool_id": "p1"}, {"pool_id": "p1"}]})
    assert parsed.targets == (Target(pool_id="p1"),)


def test_one_bad_kafka_message_does_not_lose_the_others():
    event = {
        "trigger_type": "KAFKA",
        "records": [{"messages": ['{"pool_id": "p1"}', "not json", '{"pool_id": 7}', '{"job_id": "j2"}']}],
    }
    parsed = parse_event(event)
    assert parsed.targets == (Target(pool_id="p1"), Target(job_id="j2"))
    assert [e.where for e in parsed.errors] == ["records[0].messages[1]", "records[0].messages[2].pool_id"]
    assert "not valid JSON" in parsed.errors[0].message
    assert "must be a string, got a number" in parsed.errors[1].message


def test_smn_record_without_smn_is_reported_with_its_index():
    parsed = parse_event({"record": [{"event_source": "smn"}]})
    assert parsed.targets == ()
    assert parsed.errors[0].where == "record[0].smn"


def test_timer_without_user_event_says_where_to_put_the_request():
    parsed = parse_event({"version": "v1.0", "trigger_type": "TIMER", "trigger_name": "t", "user_event": ""})
    assert parsed.source == "timer"
    assert parsed.errors[0].where == "user_event"
    assert "additional info" in parsed.errors[0].message


def test_timer_user_event_that_is_not_json():
    parsed = parse_event({"trigger_type": "TIMER", "trigger_name": "t", "user_event": "User Event"})
    assert parsed.errors[0].where == "user_event"
    assert "not valid JSON" in parsed.errors[0].message


def test_apig_bad_base64_is_reported():
    parsed = parse_event({"httpMethod": "POST", "body": "%%%not-base64", "isBase64Encoded": True})
    assert parsed.is_apig
    assert parsed.errors[0].where == "body"
    assert "base64" in parsed.errors[0].message


def test_apig_empty_body():
    parsed = parse_event({"httpMethod": "GET", "body": "", "isBase64Encoded": True})
    assert parsed.errors[0].where == "body"


def test_cloudevent_with_data_base64():
    data = base64.b64encode(b'{"pool_id": "p9"}').decode()
    parsed = parse_event({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": data})
    assert parsed.targets == (Target(pool_id="p9"),)


def test_cloudevent_data_as_json_string():
    parsed = parse_event({"events": [{"specversion": "1.0", "data": '{"job_id": "j3"}'}]})
    assert parsed.targets == (Target(job_id="j3"),)


def test_cloudevent_without_data():
    parsed = parse_event({"events": [{"specversion": "1.0", "id": "1"}]})
    assert parsed.errors[0].where == "events[0].data"


@pytest.mark.parametrize(
    ("event", "where", "fragment"),
    [
        ({}, "event", "neither a pool_id nor a job_id"),
        ({"pool_id": ""}, "pool_id", "not a valid pool id"),
        ({"pool_id": 12345}, "pool_id", "must be a string, got a number"),
        ({"pool_id": ["a"]}, "pool_id", "must be a string, got a list"),
        ({"pool_id": None, "job_id": None}, "event", "neither a pool_id nor a job_id"),
        ({"pool_id": "../../v3/other"}, "pool_id", "not a valid pool id"),
        ({"pool_id": "p1", "region": "CN North"}, "region", "not a valid region"),
        ({"pool_id": "p1", "project_id": "x/y"}, "project_id", "not a valid project id"),
        ({"pool_id": "p1", "jobid": "j1"}, "event", "unknown field(s) ['jobid']"),
        ({"targets": []}, "targets", "is empty"),
        ({"targets": "p1"}, "targets", "must be a list, got a string"),
        ({"targets": [{"pool_id": "p1"}, 5]}, "targets[1]", "must be a JSON object, got a number"),
        ({"targets": [{"pool_id": "p1"}], "extra": 1}, "event", "unknown field(s) ['extra']"),
        ("not json at all", "event", "not valid JSON"),
        ("[1, 2]", "event", "must be a JSON object, got a list"),
        (None, "event", "must be a JSON object, got null"),
        (42, "event", "must be a JSON object, got a number"),
        (b"\xff\xfe", "event", "not UTF-8"),
    ],
)
def test_invalid_events_get_a_located_error(event, where, fragment):
    parsed = parse_event(event)
    assert parsed.targets == () or where.startswith("targets[")
    assert parsed.errors, "an invalid event must produce an error"
    assert parsed.errors[0].where == where
    assert fragment in parsed.errors[0].message


def test_ten_megabyte_blob_is_rejected_without_parsing():
    blob = '{"pool_id": "' + "x" * (10 * 1024 * 1024) + '"}'
    parsed = parse_event(blob)
    assert parsed.targets == ()
    assert f"larger than {MAX_EVENT_BYTES} bytes" in parsed.errors[0].message


def test_ten_megabyte_object_is_rejected():
    parsed = parse_event({"pool_id": "p1", "padding": "x" * (10 * 1024 * 1024)})
    assert parsed.targets == ()
    assert "larger than" in parsed.errors[0].message


def test_deeply_nested_json_is_an_error_not_a_crash():
    parsed = parse_event("[" * 100_000 + "]" * 100_000)
    assert parsed.targets == ()
    assert parsed.errors


def test_non_json_values_in_a_dict_event_are_an_error():
    parsed = parse_event({"pool_id": "p1", "weird": {1, 2}})
    assert parsed.errors
    assert parsed.targets == ()


def test_too_many_targets_are_refused_as_a_whole():
    parsed = parse_event({"targets": [{"pool_id": f"p{i}"} for i in range(MAX_TARGETS + 1)]})
    assert parsed.targets == ()
    assert f"at most {MAX_TARGETS}" in parsed.errors[-1].message
