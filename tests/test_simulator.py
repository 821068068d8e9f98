"""The embedded ELB simulator, driven by the real Huawei Cloud SDK (and plain urllib for raw HTTP)."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    ConnectionException,
    ServerResponseException,
)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkelb.v3 import (
    ElbClient,
    ListLoadBalancersRequest,
    ShowMasterSlavePoolRequest,
    ShowMemberHealthCheckJobRequest,
)
from huaweicloudsdkelb.v3.region.elb_region import ElbRegion

from elb_simulator import (
    DEFAULT_AK,
    DEFAULT_SK,
    ElbSimulator,
    Fault,
    RecordedRequest,
    ScenarioError,
    load_scenario,
)
from elb_simulator.__main__ import main as simulator_main
from elb_simulator.jobs import processing_snapshot

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "events" / "scenarios" / "demo.json"
PROJECT = "04dd36f964000fe22f9ac00bc85b1a1d"
POOL = "36ce7086-a496-4666-9064-5ba0e6840c75"
JOB = "919221ce-0011-4558-81ca-2866e6e68a27"
LISTENER = "0b11747a-b139-492f-9692-2df0b1c87193"
POOL_PATH = f"/v3/{PROJECT}/elb/master-slave-pools/{POOL}"
JOB_PATH = f"/v3/{PROJECT}/elb/members/check/jobs/{JOB}"


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def sim():
    with ElbSimulator(DEMO) as simulator:
        yield simulator


@pytest.fixture
def make_client(monkeypatch):
    """Build real ElbClients pointed at a simulator through the SDK's endpoint override variable."""
    clients = []

    def build(simulator, *, ak=None, sk=None, project_id=None, security_token=None, timeout=(2, 5)):
        for name, value in simulator.env().items():
            monkeypatch.setenv(name, value)
        credentials = BasicCredentials(
            ak or simulator.credentials.ak, sk or simulator.credentials.sk, project_id or simulator.project_id
        )
        if security_token is not None:
            credentials = credentials.with_security_token(security_token)
        config = HttpConfig.get_default_config()
        config.timeout = timeout
        client = (
            ElbClient.new_builder()
            .with_http_config(config)
            .with_credentials(credentials)
            .with_region(ElbRegion.value_of(simulator.region))
            .build()
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(sim, make_client):
    return make_client(sim)


def show_pool(client, pool_id=POOL):
    return client.show_master_slave_pool(ShowMasterSlavePoolRequest(pool_id=pool_id))


def show_job(client, job_id=JOB):
    return client.show_member_health_check_job(ShowMemberHealthCheckJobRequest(job_id=job_id))


def signed(simulator, method, path, *, query=(), headers=None, body=b"", sdk_date=None, ak=None, sk=None):
    """A urllib request signed by the SDK's own Signer (optionally with a chosen X-Sdk-Date)."""
    header_params = {"Content-Type": "application/json", **(headers or {})}
    if sdk_date is not None:
        header_params["X-Sdk-Date"] = sdk_date
    request = SdkRequest(
        method=method,
        schema="http",
        host=simulator.endpoint.removeprefix("http://"),
        resource_path=path,
        query_params=list(query),
        header_params=header_params,
        body=body,
    )
    Signer(BasicCredentials(ak or simulator.credentials.ak, sk or simulator.credentials.sk)).sign(request)
    return urllib.request.Request(
        request.url, data=request.body or None, headers=request.header_params, method=method
    )


def fetch(request, timeout=5):
    """(status, headers, body bytes) for any status, closing the response."""
    if isinstance(request, str):
        request = urllib.request.Request(request)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def sdk_date(delta=timedelta()):
    return (datetime.now(timezone.utc) + delta).strftime("%Y%m%dT%H%M%SZ")


def minimal_scenario(**overrides):
    return {"project_id": PROJECT, **overrides}


def job_entry(job_id="job-1", processing_reads=0, status="processed"):
    return {
        "processing_reads": processing_reads,
        "member_check": {
            "job_id": job_id,
            "status": status,
            "check_item_total_num": 4,
            "check_item_finished_num": 4,
            "result": {
                "config": {"check_result": True, "check_status": status, "check_items": [{"name": "c1"}]},
                "acl": {"check_result": False, "check_status": status, "check_items": [{"name": "a1"}] * 2},
                "security_group": {
                    "check_result": True,
                    "check_status": status,
                    "check_items": [{"name": "s"}],
                },
            },
        },
    }


# --- scenarios -------------------------------------------------------------------------------------


def test_load_scenario_fills_defaults():
    scenario = load_scenario(minimal_scenario())
    assert scenario["region"] == "cn-north-4"
    assert scenario["credentials"] == [{"ak": DEFAULT_AK, "sk": DEFAULT_SK}]
    assert scenario["faults"] == []
    assert scenario["pools"] == {}
    assert scenario["jobs"] == {}


def test_load_scenario_keys_pools_and_jobs_and_is_idempotent():
    scenario = load_scenario(DEMO)
    assert list(scenario["pools"]) == [POOL]
    assert list(scenario["jobs"]) == [JOB]
    assert scenario["jobs"][JOB]["processing_reads"] == 2
    assert load_scenario(scenario) == scenario


def test_load_scenario_copies_its_input():
    raw = minimal_scenario(pools=[{"id": "p1", "name": "before"}])
    scenario = load_scenario(raw)
    raw["pools"][0]["name"] = "after"
    assert scenario["pools"]["p1"]["name"] == "before"


def test_load_scenario_fills_fault_defaults():
    scenario = load_scenario(
        minimal_scenario(faults=[{"path": "master-slave-pools/", "status": 500, "times": 2}])
    )
    assert scenario["faults"] == [
        {
            "method": "GET",
            "path": "master-slave-pools/",
            "status": 500,
            "times": 2,
            "delay": 0.0,
            "body": None,
            "headers": {},
            "malformed": False,
            "reset": False,
        }
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, r"project_id must be a non-empty string"),
        (minimal_scenario(pool=[]), r"unknown key\(s\) \['pool'\]"),
        (minimal_scenario(region="CN North 4"), r"region must be a region id"),
        (minimal_scenario(credentials=[]), r"credentials must be a non-empty list"),
        (minimal_scenario(credentials=[{"ak": "a"}]), r"credentials\[0\]\.sk must be a non-empty string"),
        (minimal_scenario(pools={"id": "x"}), r"pools\['id'\] must be an object"),
        (minimal_scenario(pools=[{"name": "no id"}]), r"pools\[0\]\.id must be a non-empty string"),
        (minimal_scenario(pools=[{"id": "p"}, {"id": "p"}]), r"pools\[1\]: duplicate id 'p'"),
        (minimal_scenario(pools=[{"id": "p", "members": {}}]), r"pools\[0\]\.members must be a list"),
        (minimal_scenario(jobs=[{"processing_reads": 1}]), r"jobs\[0\]\.member_check must be an object"),
        (
            minimal_scenario(jobs=[{"member_check": {"job_id": "j", "status": "processing"}}]),
            r"jobs\[0\]\.member_check\.status must be one of \['processed', 'failed'\]",
        ),
        (
            minimal_scenario(
                jobs=[{"processing_reads": -2, "member_check": {"job_id": "j", "status": "failed"}}]
            ),
            r"processing_reads must be an integer >= -1",
        ),
        (minimal_scenario(faults=[{"status": 700}]), r"faults\[0\]: fault status must be an HTTP status"),
        (minimal_scenario(faults=[{"colour": "red"}]), r"faults\[0\]: unknown fault key\(s\) \['colour'\]"),
        (minimal_scenario(faults=[{"delay": -1}]), r"faults\[0\]: fault delay must be a non-negative number"),
    ],
)
def test_load_scenario_rejects_bad_shapes(raw, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(raw)


def test_load_scenario_names_the_file_with_invalid_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        load_scenario(path)


def test_demo_scenario_matches_the_documented_example():
    scenario = load_scenario(DEMO)
    assert scenario["project_id"] == PROJECT
    assert scenario["region"] == "cn-north-4"
    pool = scenario["pools"][POOL]
    master, slave = pool["members"]
    assert (master["name"], master["role"], master["operating_status"]) == (
        "web-master-1",
        "master",
        "ONLINE",
    )
    assert master["status"] == [{"listener_id": LISTENER, "operating_status": "OFFLINE"}]
    assert master["reason"] == {
        "reason_code": "RESPONSE_MISMATCH",
        "expected_response": "200",
        "healthcheck_response": "503",
    }
    assert (slave["name"], slave["role"], slave["operating_status"]) == ("web-standby-1", "slave", "ONLINE")
    member_fields = {"id", "name", "admin_state_up", "subnet_cidr_id", "protocol_port", "address"}
    member_fields |= {"ip_version", "device_owner", "device_id", "operating_status", "reason", "member_type"}
    member_fields |= {"instance_id", "role", "status"}
    assert set(master) == member_fields
    assert set(slave) == member_fields
    check = scenario["jobs"][JOB]["member_check"]
    assert (check["status"], check["member_id"], check["listener_id"]) == (
        "processed",
        master["id"],
        LISTENER,
    )
    items = [item for group in check["result"].values() for item in group["check_items"]]
    assert len(items) == check["check_item_total_num"] == 17
    failing = {item["name"]: item for item in items if item["reason_params"]}
    assert failing["acl_check_hc_dest_port_ingress"]["reason_params"] == ["80", "acl-7f3e2a1b"]
    assert failing["security_group_check_hc_source_ip_ingress"]["reason"] == (
        "healthCheck source IP 100.125.0.0/16 is not allowed by securityGroup sg-web-backend ingress rules"
    )
    assert len(failing) == 2
    assert all(item["reason"] is None for item in items if item["name"] not in failing)
    assert [check["result"][name]["check_result"] for name in ("config", "acl", "security_group")] == [
        True,
        False,
        False,
    ]


# --- the SDK against the simulator -----------------------------------------------------------------


def test_sdk_reads_the_pool(sim, client):
    response = show_pool(client)
    assert response.status_code == 200
    master = next(member for member in response.pool.members if member.role == "master")
    assert master.name == "web-master-1"
    assert master.status[0].listener_id == LISTENER
    assert master.status[0].operating_status == "OFFLINE"
    assert master.reason.reason_code == "RESPONSE_MISMATCH"
    assert master.reason.healthcheck_response == "503"
    assert response.pool.healthmonitor.expected_codes == "200"
    assert sim.count("master-slave-pools/", method="GET") == 1
    assert sim.requests[-1].authorized is True


def test_sdk_check_job_progresses_over_reads(sim, client):
    snapshots = [show_job(client).member_check for _ in range(4)]
    assert [check.status for check in snapshots] == ["processing", "processing", "processed", "processed"]
    assert [check.check_item_finished_num for check in snapshots] == [5, 11, 17, 17]
    kept = [
        [len(getattr(check.result, name).check_items) for name in ("config", "acl", "security_group")]
        for check in snapshots
    ]
    assert kept == [[1, 0, 0], [1, 10, 0], [1, 10, 6], [1, 10, 6]]
    assert all(check.result.acl.check_result is True for check in snapshots[:2])
    assert {check.result.acl.check_status for check in snapshots[:2]} == {"processing"}
    final = snapshots[2]
    assert final.result.acl.check_result is False
    assert final.result.acl.check_status == "processed"
    blocked = [item for item in final.result.acl.check_items if item.reason_params]
    assert [(item.name, item.reason_params) for item in blocked] == [
        ("acl_check_hc_dest_port_ingress", ["80", "acl-7f3e2a1b"])
    ]
    assert sim.job_reads(JOB) == 4


def test_job_processing_forever(sim, client):
    sim.set_job(job_entry("stuck", processing_reads=-1))
    checks = [show_job(client, "stuck").member_check for _ in range(5)]
    assert {check.status for check in checks} == {"processing"}
    assert {check.check_item_finished_num for check in checks} == {0}


def test_set_job_replaces_the_job_and_restarts_its_reads(sim, client):
    show_job(client)
    show_job(client)
    replacement = job_entry(JOB, processing_reads=1, status="failed")
    sim.set_job(replacement)
    assert sim.job_reads(JOB) == 0
    assert show_job(client).member_check.status == "processing"
    assert show_job(client).member_check.status == "failed"


def test_concurrent_reads_are_counted_once_each(sim, make_client):
    sim.set_job(job_entry("busy", processing_reads=10))
    client = make_client(sim)
    with ThreadPoolExecutor(max_workers=4) as pool:
        checks = list(pool.map(lambda _: show_job(client, "busy").member_check, range(20)))
    statuses = [check.status for check in checks]
    assert statuses.count("processing") == 10
    assert statuses.count("processed") == 10
    processing_counts = sorted(
        check.check_item_finished_num for check in checks if check.status == "processing"
    )
    assert processing_counts == sorted(4 * (read + 1) // 11 for read in range(10))
    assert sim.job_reads("busy") == 20


def test_processing_snapshot_keeps_finished_groups_and_leaves_the_final_alone():
    final = job_entry(processing_reads=3)["member_check"]
    before = copy.deepcopy(final)
    snapshots = [processing_snapshot(final, read, 3) for read in range(3)]
    assert [snapshot["check_item_finished_num"] for snapshot in snapshots] == [1, 2, 3]
    kept = [
        [len(snapshot["result"][name]["check_items"]) for name in ("config", "acl", "security_group")]
        for snapshot in snapshots
    ]
    assert kept == [[1, 0, 0], [1, 0, 0], [1, 2, 0]]
    assert all(snapshot["result"]["acl"]["check_result"] is True for snapshot in snapshots)
    assert final == before


def test_unknown_pool_and_job_are_elb_8907(sim, client):
    with pytest.raises(ClientRequestException) as pool_error:
        show_pool(client, "no-such-pool")
    assert pool_error.value.status_code == 404
    assert pool_error.value.error_code == "ELB.8907"
    assert pool_error.value.error_msg == "MasterSlavePool no-such-pool could not be found."
    assert pool_error.value.request_id
    with pytest.raises(ClientRequestException) as job_error:
        show_job(client, "no-such-job")
    assert (job_error.value.status_code, job_error.value.error_code) == (404, "ELB.8907")
    assert "no-such-job" in job_error.value.error_msg


def test_set_pool_and_percent_encoded_ids(sim, client):
    odd_id = "pool id/ü~x"
    sim.set_pool({"id": odd_id, "name": "odd", "members": []})
    response = show_pool(client, odd_id)
    assert response.pool.id == odd_id
    assert response.pool.name == "odd"


def test_wrong_secret_key_is_401_apigw_0301(sim, make_client):
    client = make_client(sim, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as error:
        show_pool(client)
    assert error.value.status_code == 401
    assert error.value.error_code == "APIGW.0301"
    assert "signature does not match" in error.value.error_msg
    last = sim.requests[-1]
    assert last == RecordedRequest(
        method="GET",
        path=POOL_PATH,
        status=401,
        authorized=False,
        duration=last.duration,
        started=last.started,
    )


def test_unknown_access_key_is_401(sim, make_client):
    with pytest.raises(ClientRequestException) as error:
        show_pool(make_client(sim, ak="UNKNOWNAK"))
    assert (error.value.status_code, error.value.error_code) == (401, "APIGW.0301")
    assert "access key is unknown" in error.value.error_msg


def test_other_project_is_403_apigw_0302(sim, make_client):
    with pytest.raises(ClientRequestException) as error:
        show_pool(make_client(sim, project_id="0" * 32))
    assert error.value.status_code == 403
    assert error.value.error_code == "APIGW.0302"
    assert sim.requests[-1].authorized is True


def test_security_token_is_required_when_the_scenario_sets_one(make_client):
    scenario = load_scenario(DEMO)
    scenario["credentials"] = [
        {"ak": "TEMPORARYAK", "sk": "temporary-sk", "security_token": "token-123"},
        {"ak": DEFAULT_AK, "sk": DEFAULT_SK},
    ]
    with ElbSimulator(scenario) as simulator:
        assert show_pool(make_client(simulator, security_token="token-123")).pool.id == POOL
        for token in (None, "token-999"):
            with pytest.raises(ClientRequestException) as error:
                show_pool(make_client(simulator, security_token=token))
            assert error.value.status_code == 401
            assert "security token" in error.value.error_msg
        default_with_token = make_client(simulator, ak=DEFAULT_AK, sk=DEFAULT_SK, security_token="anything")
        assert show_pool(default_with_token).status_code == 200


def test_records_hold_no_secrets(sim, client):
    show_pool(client)
    show_job(client)
    recorded = repr(sim.requests)
    assert sim.credentials.sk not in recorded
    assert sim.credentials.ak not in recorded
    assert "Signature" not in recorded
    assert sim.credentials.sk not in repr(sim.credentials)


# --- raw HTTP: unsigned, malformed, other methods --------------------------------------------------


def test_unsigned_request_is_401_with_request_id_header(sim):
    status, headers, body = fetch(sim.endpoint + POOL_PATH)
    payload = json.loads(body)
    assert status == 401
    assert headers["Content-Type"] == "application/json"
    assert payload["error_code"] == "APIGW.0301"
    assert payload["error_msg"] == (
        "Incorrect IAM authentication information: the Authorization header is missing or not SDK-HMAC-SHA256"
    )
    assert headers["X-Request-Id"] == payload["request_id"]
    assert sim.requests[-1].authorized is False


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer abc", "missing or not SDK-HMAC-SHA256"),
        ("SDK-HMAC-SHA256 Access=SIMULATORAK0000000001", "Authorization header is malformed"),
    ],
)
def test_malformed_authorization_is_401(sim, authorization, message):
    request = urllib.request.Request(sim.endpoint + POOL_PATH, headers={"Authorization": authorization})
    status, _, body = fetch(request)
    assert status == 401
    assert message in json.loads(body)["error_msg"]


def test_signed_urllib_request_with_query_string_passes(sim):
    request = signed(sim, "GET", POOL_PATH, query=[("b", "2"), ("a", "x y~/"), ("a", "1")])
    assert "?a=1&a=x%20y~%2F&b=2" in request.full_url
    status, _, body = fetch(request)
    assert status == 200
    assert json.loads(body)["pool"]["id"] == POOL


def test_tampered_query_string_fails_the_signature(sim):
    request = signed(sim, "GET", POOL_PATH, query=[("limit", "10")])
    request.full_url = request.full_url.replace("limit=10", "limit=11")
    status, _, body = fetch(request)
    assert status == 401
    assert json.loads(body)["error_msg"].endswith("signature does not match")


def test_request_signed_more_than_15_minutes_ago_is_rejected(sim):
    stale_status, _, stale_body = fetch(
        signed(sim, "GET", POOL_PATH, sdk_date=sdk_date(-timedelta(minutes=16)))
    )
    assert stale_status == 401
    assert "15 minutes" in json.loads(stale_body)["error_msg"]
    recent_status, _, _ = fetch(signed(sim, "GET", POOL_PATH, sdk_date=sdk_date(-timedelta(minutes=14))))
    assert recent_status == 200


def test_signed_body_is_hashed(sim):
    request = signed(sim, "POST", f"/v3/{PROJECT}/elb/members/check/jobs", body=b'{"member_id": "m"}')
    request.data = b'{"member_id": "other"}'
    status, _, body = fetch(request)
    assert status == 401
    assert "signature does not match" in json.loads(body)["error_msg"]


def test_unknown_routes_and_methods_are_apigw_0101(sim):
    for method, path in [
        ("GET", f"/v3/{PROJECT}/elb/pools"),
        ("POST", JOB_PATH),
        ("DELETE", POOL_PATH),
        ("GET", f"/v3/{PROJECT}/elb/master-slave-pools/"),
    ]:
        status, headers, body = fetch(signed(sim, method, path))
        payload = json.loads(body)
        assert (status, payload["error_code"]) == (404, "APIGW.0101"), (method, path)
        assert payload["error_msg"] == "The API does not exist or has not been published in the environment."
        assert headers["X-Request-Id"] == payload["request_id"]


def test_unsigned_post_is_rejected_before_routing(sim):
    status, _, body = fetch(urllib.request.Request(sim.endpoint + "/nowhere", data=b"{}", method="POST"))
    assert status == 401
    assert json.loads(body)["error_code"] == "APIGW.0301"


def test_head_gets_headers_without_a_body(sim):
    status, headers, body = fetch(signed(sim, "HEAD", POOL_PATH))
    assert status == 404
    assert body == b""
    assert int(headers["Content-Length"]) > 0
    assert headers["X-Request-Id"]


# --- faults ----------------------------------------------------------------------------------------


def test_scenario_faults_fire_the_given_number_of_times(make_client):
    scenario = load_scenario(DEMO)
    scenario["faults"] = [{"method": "GET", "path": "master-slave-pools/", "status": 500, "times": 2}]
    with ElbSimulator(scenario) as simulator:
        client = make_client(simulator)
        for _ in range(2):
            with pytest.raises(ServerResponseException) as error:
                show_pool(client)
            assert (error.value.status_code, error.value.error_code) == (500, "ELB.500")
        assert show_pool(client).pool.id == POOL
        assert [request.faulted for request in simulator.requests] == [True, True, False]


def test_fault_path_can_be_a_regular_expression(sim, client):
    sim.add_fault(Fault(path=r"/jobs/[0-9a-f-]{36}$", status=503))
    assert show_pool(client).status_code == 200
    with pytest.raises(ServerResponseException) as error:
        show_job(client)
    assert error.value.status_code == 503


def test_fault_method_must_match(sim, client):
    sim.add_fault(Fault(method="POST", status=500))
    assert show_pool(client).status_code == 200
    sim.add_fault(Fault(method="*", status=502, times=1))
    with pytest.raises(ServerResponseException):
        show_pool(client)
    assert show_pool(client).status_code == 200


def test_unauthenticated_requests_do_not_consume_faults(sim, client):
    sim.add_fault(Fault(status=500, times=1))
    assert fetch(sim.endpoint + POOL_PATH)[0] == 401
    with pytest.raises(ServerResponseException):
        show_pool(client)
    assert show_pool(client).status_code == 200


def test_clear_faults(sim, client):
    sim.add_fault(Fault(status=500))
    sim.clear_faults()
    assert show_pool(client).status_code == 200


def test_429_reaches_the_sdk_as_a_retry_error_without_the_body(sim, client):
    sim.add_fault(Fault(status=429, times=2, headers={"Retry-After": "1"}))
    status, headers, body = fetch(signed(sim, "GET", POOL_PATH))
    assert (status, json.loads(body)["error_code"], headers["Retry-After"]) == (429, "APIGW.0308", "1")
    # The SDK's urllib3 Retry(total=0, status_forcelist=[429]) turns a 429 into a RetryError:
    # the SDK raises ClientRequestException(429) with error_code "429" and no request id.
    with pytest.raises(ClientRequestException) as error:
        show_pool(client)
    assert error.value.status_code == 429
    assert error.value.error_code == "429"
    assert "too many 429 error responses" in error.value.error_msg


def test_delay_shorter_than_the_timeout_still_answers(sim, client):
    sim.add_fault(Fault(delay=0.2, times=1))
    assert show_pool(client).status_code == 200
    assert sim.requests[-1].duration >= 0.2


def test_read_timeout_surfaces_as_connection_exception(sim, make_client):
    sim.add_fault(Fault(delay=5, times=1))
    client = make_client(sim, timeout=(2, 0.3))
    started = time.monotonic()
    with pytest.raises(ConnectionException) as error:
        show_pool(client)
    assert time.monotonic() - started < 2
    assert "Read timed out" in error.value.error_msg


def test_reset_surfaces_as_connection_exception(sim, client):
    sim.add_fault(Fault(reset=True, times=1))
    with pytest.raises(ConnectionException) as error:
        show_pool(client)
    assert "Connection reset by peer" in error.value.error_msg or "aborted" in error.value.error_msg
    assert sim.requests[-1].status is None
    assert show_pool(client).status_code == 200


def test_malformed_body_is_not_an_sdk_error(sim, client):
    sim.add_fault(Fault(malformed=True, times=2))
    status, _, body = fetch(signed(sim, "GET", POOL_PATH))
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    response = show_pool(client)  # no exception: the SDK hands back an empty response
    assert response.status_code == 200
    assert response.pool is None


def test_body_shorter_than_content_length_escapes_the_sdk_unwrapped(sim, client):
    sim.add_fault(Fault(body='{"pool": {', headers={"Content-Length": "500"}, times=1))
    # requests reads the body inside Session.send; the SDK only wraps ConnectionError and RetryError.
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        show_pool(client)
    assert show_pool(client).status_code == 200


def test_malformed_job_read_does_not_advance_the_job(sim, client):
    sim.add_fault(Fault(path="/jobs/", malformed=True, times=1))
    assert show_job(client).member_check is None
    assert sim.job_reads(JOB) == 0
    assert show_job(client).member_check.check_item_finished_num == 5


def test_fault_body_and_headers_replace_the_answer(sim):
    sim.add_fault(
        Fault(status=502, body="<html>bad gateway</html>", headers={"Content-Type": "text/html"}, times=1)
    )
    sim.add_fault(Fault(body="plain", times=1))
    status, headers, body = fetch(signed(sim, "GET", POOL_PATH))
    assert (status, headers["Content-Type"], body) == (502, "text/html", b"<html>bad gateway</html>")
    status, headers, body = fetch(signed(sim, "GET", f"/v3/{PROJECT}/elb/master-slave-pools/missing"))
    assert (status, headers["Content-Type"], body) == (404, "application/json", b"plain")


def test_fault_rejects_bad_values():
    with pytest.raises(ValueError, match="status"):
        Fault(status=99)
    with pytest.raises(ValueError, match="both malformed and reset"):
        Fault(malformed=True, reset=True)
    with pytest.raises(TypeError, match="path"):
        Fault(path=None)


def test_stop_returns_promptly_during_a_fault_delay(sim):
    sim.add_fault(Fault(delay=30))
    errors = []

    def slow_request():
        try:
            fetch(signed(sim, "GET", POOL_PATH), timeout=10)
        except OSError as error:  # urllib.error.URLError and connection errors
            errors.append(error)

    worker = threading.Thread(target=slow_request)
    worker.start()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not sim._server.connections:  # the request is being handled
        time.sleep(0.01)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert len(errors) == 1
    assert not sim.running


# --- lifecycle -------------------------------------------------------------------------------------


def test_endpoint_env_and_loopback_binding(sim):
    assert sim.endpoint.startswith("http://127.0.0.1:")
    assert sim.endpoint == f"http://127.0.0.1:{sim.port}"
    assert sim.env() == {"HUAWEICLOUD_SDK_REGION_ELB_CN_NORTH_4": sim.endpoint}
    assert (sim.region, sim.project_id, sim.credentials.ak) == ("cn-north-4", PROJECT, DEFAULT_AK)


def test_env_name_follows_the_region():
    scenario = minimal_scenario(region="ap-southeast-1")
    with ElbSimulator(scenario) as simulator:
        assert list(simulator.env()) == ["HUAWEICLOUD_SDK_REGION_ELB_AP_SOUTHEAST_1"]


def test_lifecycle_errors_and_restart():
    simulator = ElbSimulator(minimal_scenario())
    with pytest.raises(RuntimeError, match="not running"):
        _ = simulator.endpoint
    simulator.start()
    with pytest.raises(RuntimeError, match="already running"):
        simulator.start()
    simulator.stop()
    simulator.stop()
    with simulator:
        assert fetch(simulator.endpoint + "/")[0] == 401
    with pytest.raises(ValueError, match="port"):
        ElbSimulator(minimal_scenario(), port=70000)


def test_command_line_serves_until_interrupted():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "elb_simulator", str(DEMO)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline().strip()
        export = process.stdout.readline().strip()
        assert banner.startswith("ELB simulator on http://127.0.0.1:")
        assert banner.endswith(f"(region cn-north-4, project {PROJECT})")
        endpoint = banner.split()[3]
        assert export == f"export HUAWEICLOUD_SDK_REGION_ELB_CN_NORTH_4={endpoint}"
        assert fetch(endpoint + POOL_PATH)[0] == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_command_line_reports_a_bad_scenario(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"region": "cn-north-4"}', encoding="utf-8")
    assert simulator_main([str(path)]) == 2
    assert "project_id must be a non-empty string" in capsys.readouterr().err


# --- ListLoadBalancers (issue 21: tags for routing) ------------------------------------------------

TAGGED = [
    {"id": "lb-search", "name": "search-lb", "tags": {"team": "search", "env": "prod"}},
    {"id": "lb-pay", "name": "pay-lb", "tags": {"team": "payments"}},
    {"id": "lb-bare", "name": "bare-lb"},
]


def tagged_scenario():
    scenario = json.loads(DEMO.read_text(encoding="utf-8"))
    scenario["loadbalancers"] = copy.deepcopy(TAGGED)
    return scenario


def list_lbs(client, **kwargs):
    return client.list_load_balancers(ListLoadBalancersRequest(**kwargs)).to_json_object()


def test_list_loadbalancers_filters_by_repeated_ids_with_tags_on_the_wire(make_client):
    with ElbSimulator(tagged_scenario()) as simulator:
        body = list_lbs(make_client(simulator), id=["lb-search", "lb-bare"])
        [request] = [r for r in simulator.requests if "/elb/loadbalancers" in r.path]
    assert request.path.count("id=") == 2  # the SDK sends a list as id=…&id=…
    by_id = {lb["id"]: lb for lb in body["loadbalancers"]}
    assert set(by_id) == {"lb-search", "lb-bare"}
    assert by_id["lb-search"]["tags"] == [{"key": "team", "value": "search"}, {"key": "env", "value": "prod"}]
    assert by_id["lb-bare"]["tags"] == []
    assert body["page_info"]["current_count"] == 2
    assert "next_marker" not in body["page_info"]
    assert body["request_id"]


def test_list_loadbalancers_pages_by_marker_and_serves_the_pools_own_load_balancers(make_client):
    with ElbSimulator(tagged_scenario()) as simulator:
        client = make_client(simulator)
        first = list_lbs(client, limit=2)
        second = list_lbs(client, limit=2, marker=first["page_info"]["next_marker"])
    listed = [lb["id"] for lb in first["loadbalancers"] + second["loadbalancers"]]
    # The demo pool's load balancer is not in the scenario's list: served untagged after them.
    assert listed == ["lb-search", "lb-pay", "lb-bare", "098b2f68-af1c-41a9-8efd-69958722af62"]
    assert first["page_info"]["next_marker"] == "lb-pay"
    assert "next_marker" not in second["page_info"]


def test_list_loadbalancers_refuses_an_unknown_marker_and_a_bad_limit(make_client):
    with ElbSimulator(tagged_scenario()) as simulator:
        client = make_client(simulator)
        with pytest.raises(ClientRequestException) as unknown:
            list_lbs(client, marker="lb-nope", limit=5)
        with pytest.raises(ClientRequestException) as too_many:
            list_lbs(client, limit=2001)
    assert (unknown.value.status_code, unknown.value.error_code) == (400, "ELB.8902")
    assert too_many.value.status_code == 400


def test_faults_apply_to_list_loadbalancers(make_client):
    with ElbSimulator(tagged_scenario()) as simulator:
        simulator.add_fault(Fault(path="/elb/loadbalancers", status=403, times=1))
        client = make_client(simulator)
        with pytest.raises(ClientRequestException) as refused:
            list_lbs(client, id=["lb-pay"])
        assert refused.value.status_code == 403
        assert list_lbs(client, id=["lb-pay"])["loadbalancers"][0]["tags"] == [
            {"key": "team", "value": "payments"}
        ]


def test_set_loadbalancer_replaces_its_tags(make_client):
    with ElbSimulator(tagged_scenario()) as simulator:
        simulator.set_loadbalancer({"id": "lb-pay", "tags": {"team": "billing"}})
        body = list_lbs(make_client(simulator), id=["lb-pay"])
    assert body["loadbalancers"][0]["tags"] == [{"key": "team", "value": "billing"}]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"name": "x"}, "loadbalancers[0].id"),
        ({"id": "lb", "tags": [{"key": "team", "value": "x"}]}, "loadbalancers[0].tags"),
        ({"id": "lb", "tags": {"team": 1}}, "loadbalancers[0].tags"),
        ({"id": "lb", "tgas": {}}, "unknown key(s) ['tgas']"),
    ],
)
def test_scenario_loadbalancers_are_validated(entry, problem):
    scenario = {**tagged_scenario(), "loadbalancers": [entry]}
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario(scenario)


def test_scenario_loadbalancers_load_twice_the_same():
    once = load_scenario(tagged_scenario())
    assert load_scenario(once) == once
    assert once["loadbalancers"]["lb-search"]["tags"] == {"team": "search", "env": "prod"}
