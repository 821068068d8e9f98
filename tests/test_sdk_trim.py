"""The trimmed SDK clients (handler.sdk): same requests and answers as the SDK's, less work per call.

Every test runs the real SDK over real HTTP to the simulator (or a loopback proxy); nothing is patched.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from elb_simulator import ElbSimulator, Fault
from handler import elb, sdk
from handler.budget import Budget
from handler.config import Credentials, Settings
from handler.instance import SdkClients
from handler.threads import DeadlineExceeded, call_within, start
from tests.support import DEMO_JOB, DEMO_POOL, PlatformContext, api_member, api_pool, demo_scenario


def _gateway(sim: ElbSimulator, clients: SdkClients | None = None) -> elb.ElbGateway:
    return elb.ElbGateway(
        region=sim.region,
        project_id=sim.project_id,
        credentials=Credentials(sim.credentials.ak, sim.credentials.sk),
        settings=Settings(max_attempts=1),
        budget=Budget(10.0),
        clients=SdkClients() if clients is None else clients,
    )


def _client(sim: ElbSimulator) -> object:
    client, _config = elb._build_client(
        sim.region, sim.project_id, Credentials(sim.credentials.ak, sim.credentials.sk), SdkClients()
    )
    return client


def _pool_threads() -> set[str]:
    return {thread.name for thread in threading.enumerate() if thread.name.startswith("ThreadPoolExecutor")}


def test_the_gateway_signs_in_its_own_thread_reads_the_environment_once_and_builds_no_models(simulator):
    client = _client(simulator)
    assert sdk.trimmed(client) == ("signing", "environment", "models")
    before = _pool_threads()
    gateway = _gateway(simulator)
    pool = gateway.show_pool(DEMO_POOL)
    job = gateway.show_check_job(DEMO_JOB)
    assert pool.id == DEMO_POOL
    assert [member.role for member in pool.members] == ["master", "slave"]
    assert job.status == "processed"
    assert len(job.groups) == 3
    # The SDK's signing pool never started a thread for these calls.
    assert _pool_threads() == before
    # Each request carried the SDK's signature (the simulator checks it against the scenario's keys).
    assert [request.status for request in simulator.requests] == [200, 200]


def test_a_field_of_the_wrong_type_costs_that_field_not_the_pool(simulator):
    """The SDK's models raised on a string port (int('eighty')); the wire mapping keeps the rest."""
    master = api_member("m-1", "master", "OFFLINE", port="eighty")  # type: ignore[arg-type]
    body = json.dumps({"pool": api_pool([master, api_member("m-2", "slave")], pool_id=DEMO_POOL)})
    simulator.add_fault(Fault(path="master-slave-pools", status=200, body=body))
    pool = _gateway(simulator).show_pool(DEMO_POOL)
    assert [(member.id, member.protocol_port) for member in pool.members] == [("m-1", None), ("m-2", 80)]


@pytest.mark.parametrize("body", ['{"pool": "not an object"}', '{"pools": []}', "[1, 2]", "\ufeff{"])
def test_an_answer_without_the_object_asked_for_is_malformed(simulator, body):
    simulator.add_fault(Fault(path="master-slave-pools", status=200, body=body))
    with pytest.raises(elb.ElbApiError) as raised:
        _gateway(simulator).show_pool(DEMO_POOL)
    assert raised.value.code == "ELB.MALFORMED_RESPONSE"


class _RecordingProxy(http.server.ThreadingHTTPServer):
    """A loopback forward proxy that records each request line and refuses it with 502."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.lines.append(self.requestline)
                self.send_error(502, "recording proxy")

            def log_message(self, *_args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[_RecordingProxy]:
    server = _RecordingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_environments_proxy_and_no_proxy_still_apply_and_a_change_builds_a_new_client(
    simulator, proxy, monkeypatch
):
    """requests read HTTP_PROXY/NO_PROXY per request; the trimmed client reads them when it is built."""
    import handler  # noqa: PLC0415

    monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
    assert handler.handler({"pool_id": DEMO_POOL}, PlatformContext())["ok"] is True
    assert proxy.lines == []

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    result = handler.handler({"pool_id": DEMO_POOL}, PlatformContext())
    assert [error["status"] for error in result["errors"]] == [502]
    endpoint = simulator.env()[next(iter(simulator.env()))]
    assert proxy.lines[-1].startswith(f"GET {endpoint}/v3/{simulator.project_id}/elb/master-slave-pools/")

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    seen = len(proxy.lines)
    assert handler.handler({"pool_id": DEMO_POOL}, PlatformContext())["ok"] is True
    assert len(proxy.lines) == seen


def test_a_netrc_entry_for_the_endpoint_no_longer_replaces_the_signature(simulator, monkeypatch, tmp_path):
    """requests' trust_env put a .netrc login into Authorization, over the SDK's signature."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: PLC0415
    from huaweicloudsdkelb.v3.elb_client import ElbClient  # noqa: PLC0415
    from huaweicloudsdkelb.v3.model.show_master_slave_pool_request import (  # noqa: PLC0415
        ShowMasterSlavePoolRequest,
    )
    from huaweicloudsdkelb.v3.region.elb_region import ElbRegion  # noqa: PLC0415

    keys = simulator.credentials
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    plain = (
        ElbClient.new_builder()
        .with_credentials(BasicCredentials(keys.ak, keys.sk, simulator.project_id))
        .with_region(ElbRegion.value_of(simulator.region))
        .build()
    )
    with pytest.raises(ClientRequestException) as raised:
        plain.show_master_slave_pool(ShowMasterSlavePoolRequest(DEMO_POOL))
    assert raised.value.status_code == 401
    assert _gateway(simulator).show_pool(DEMO_POOL).id == DEMO_POOL


def test_the_environments_ca_bundle_is_given_to_the_sdk(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    assert sdk.http_config((1.0, 2.0)).ssl_ca_cert == str(bundle)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "first.pem"))
    assert sdk.http_config((1.0, 2.0)).ssl_ca_cert == str(tmp_path / "first.pem")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE")
    config = sdk.http_config((1.0, 2.0))
    assert config.ssl_ca_cert is None
    assert (config.timeout, config.retry_times) == ((1.0, 2.0), 0)


def test_an_error_raised_while_signing_reaches_the_caller():
    def refuse() -> None:
        raise ValueError("unsupported signing algorithm")

    future = sdk.CallerThread().submit(refuse)
    assert future.done()
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        future.result()


# --- the waiter's bound is the only bound ---------------------------------------------------------


def test_a_bounded_call_in_a_started_worker_runs_there_when_the_waiter_gives_up_first():
    def where() -> tuple[int, int]:
        return threading.get_ident(), call_within(5.0, threading.get_ident)

    outer, inner = start(where, within=5.0).wait()
    assert outer == inner


def test_a_shorter_bound_inside_a_started_worker_still_hands_off_and_is_cut():
    def slow_inside() -> str:
        try:
            call_within(0.05, lambda: time.sleep(0.5))
        except DeadlineExceeded:
            return "cut"
        return "not cut"

    started = time.monotonic()
    assert start(slow_inside, within=5.0).wait() == "cut"
    assert time.monotonic() - started < 0.5


def test_a_started_call_that_overruns_is_given_up_at_its_time():
    reading = start(lambda: time.sleep(1.0), within=0.1)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        reading.wait()
    assert time.monotonic() - started < 0.5


def test_a_named_pool_and_job_still_alert_with_the_pool_read_in_a_worker(simulator):
    import handler  # noqa: PLC0415

    result = handler.handler({"pool_id": DEMO_POOL, "job_id": DEMO_JOB}, PlatformContext())
    assert [n["kind"] for n in result["notifications"]] == ["master_failed"]
    assert sorted(request.path.split("/")[-2] for request in simulator.requests) == [
        "jobs",
        "master-slave-pools",
    ]


def test_a_fresh_scenario_gets_its_own_client(monkeypatch):
    """The client cache is keyed by endpoint and keys: a second simulator is not answered by the first."""
    clients = SdkClients()
    for _ in range(2):
        with ElbSimulator(demo_scenario()) as sim:
            for name, value in sim.env().items():
                monkeypatch.setenv(name, value)
            assert _gateway(sim, clients).show_pool(DEMO_POOL).id == DEMO_POOL
            assert [request.status for request in sim.requests] == [200]
    assert len(clients) == 2


@pytest.mark.parametrize("override", ["elb.example.invalid", "https://elb.example.invalid"])
def test_proxies_are_looked_up_for_the_url_the_sdk_calls_even_without_a_scheme(
    simulator, monkeypatch, override
):
    """The SDK prefixes https:// to a scheme-less override: HTTPS_PROXY and NO_PROXY apply to that URL."""
    monkeypatch.setenv(simulator.env_name, override)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    http = _client(simulator).get_http_client()
    assert http._session.proxies.get("https") == "http://127.0.0.1:9"
    monkeypatch.setenv("NO_PROXY", "elb.example.invalid")
    http = _client(simulator).get_http_client()
    assert "https" not in http._session.proxies
