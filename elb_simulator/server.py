"""The embedded ELB v3 API simulator: a loopback HTTP server that answers the SDK like ELB does."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from .faults import Fault
from .fleet import generate_fleet
from .jobs import job_snapshot
from .scenario import load_scenario, validate_job, validate_loadbalancer, validate_pool
from .signature import verify_request

LOOPBACK = "127.0.0.1"
ENDPOINT_ENV_PREFIX = "HUAWEICLOUD_SDK_REGION_ELB_"
MAX_BODY_BYTES = 1 << 20
SERVE_POLL_SECONDS = 0.05

API_NOT_FOUND = ("APIGW.0101", "The API does not exist or has not been published in the environment.")
PROJECT_FORBIDDEN = ("APIGW.0302", "The IAM user is not authorized to access the API for this project.")
BAD_REQUEST = ("APIGW.0201", "Request body is too large or its Content-Length is invalid.")
AUTHENTICATION_FAILED = "APIGW.0301"
THROTTLED = ("APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit.")
ELB_NOT_FOUND = "ELB.8907"
POOL_ROUTE = ("elb", "master-slave-pools")
LOADBALANCER_ROUTE = ("elb", "loadbalancers")
JOB_ROUTE = ("elb", "members", "check", "jobs")
CREATE_JOB_ROUTE = ("elb", "members", "health-check")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulator answered; never holds header values, bodies or secrets.

    `status` is None when no response was sent (connection reset or simulator stopping); `duration`
    runs from `started` (time.monotonic() when the request arrived) until the response starts. A
    request is recorded before its client can see the response.
    """

    method: str
    path: str
    status: int | None
    authorized: bool
    duration: float
    faulted: bool = False
    started: float = 0.0


@dataclass(frozen=True)
class SimulatorCredentials:
    """The access key pair (and optional security token) a client should sign with."""

    ak: str
    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Answer:
    """A status and a JSON payload, before any fault changes them."""

    status: int
    payload: dict[str, Any]


@dataclass
class _ArmedFault:
    """A fault rule and how many more times it fires (None: forever)."""

    fault: Fault
    remaining: int | None


@dataclass
class _Outcome:
    """What is known about one request while it is handled."""

    started: float
    authorized: bool = False
    faulted: bool = False
    recorded: bool = False


def endpoint_env_name(region: str) -> str:
    """The SDK's endpoint override variable for ELB in a region: HUAWEICLOUD_SDK_REGION_ELB_CN_NORTH_4."""
    return ENDPOINT_ENV_PREFIX + region.upper().replace("-", "_")


def _route_id(segments: list[str], route: tuple[str, ...]) -> str | None:
    """The decoded {id} of a /v3/{project_id}/<route>/{id} path split on "/", else None."""
    if len(segments) != len(route) + 4 or segments[1] != "v3" or tuple(segments[3:-1]) != route:
        return None
    return unquote(segments[-1]) or None


def _matches(pool: Mapping[str, Any], filters: Mapping[str, set[str]]) -> bool:
    """Whether a pool passes ListMasterSlavePools' multi-value filters (any value of each key)."""
    for key, wanted in filters.items():
        if key in {"loadbalancer_id", "listener_id"}:
            refs = pool.get("loadbalancers" if key == "loadbalancer_id" else "listeners") or []
            values = {ref.get("id") for ref in refs}
        else:
            values = {pool.get(key)}
        if not values & wanted:
            return False
    return True


# A check job that finds nothing wrong: what CreateMemberHealthCheckJob starts without a scenario template.
_PASSING_JOB: dict[str, Any] = {
    "processing_reads": 0,
    "member_check": {
        "status": "processed",
        "result": {
            group: {"check_result": True, "check_status": "processed", "check_items": []}
            for group in ("config", "acl", "security_group")
        },
        "check_item_total_num": 17,
        "check_item_finished_num": 17,
    },
}


def error_payload(code: str, message: str, request_id: str) -> dict[str, Any]:
    """An ELB/API Gateway error body."""
    return {"error_code": code, "error_msg": message, "request_id": request_id}


class _SimulatorState:
    """Everything the request handlers share: scenario state, read counters, faults, records."""

    def __init__(self, scenario: Mapping[str, Any]) -> None:
        """Take the state of a normalised scenario."""
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.project_id: str = scenario["project_id"]
        self.credentials: tuple[dict[str, str], ...] = tuple(dict(entry) for entry in scenario["credentials"])
        self.pools: dict[str, dict[str, Any]] = dict(scenario["pools"])
        if scenario.get("fleet"):
            self.pools.update(
                (pool["id"], pool) for pool in generate_fleet(scenario["fleet"], self.project_id)
            )
        self.jobs: dict[str, dict[str, Any]] = dict(scenario["jobs"])
        self.loadbalancers: dict[str, dict[str, Any]] = dict(scenario.get("loadbalancers", {}))
        self.diagnoses: dict[str, dict[str, Any]] = dict(scenario.get("diagnoses", {}))
        self.latency = float(scenario.get("latency_ms", 0)) / 1000.0
        self.paging: str = scenario.get("paging", "normal")
        self.huge_field_bytes: int = scenario.get("huge_field_bytes", 0)
        self.markers_issued: list[str] = []
        self.created_jobs: list[dict[str, str]] = []
        self.job_reads: dict[str, int] = {}
        self.faults: list[_ArmedFault] = [
            _ArmedFault(Fault.from_dict(entry), entry["times"]) for entry in scenario["faults"]
        ]
        self.records: list[RecordedRequest] = []

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Consume one firing of the first matching fault that has firings left."""
        with self.lock:
            for armed in self.faults:
                if armed.remaining == 0 or not armed.fault.matches(method, path):
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                return armed.fault
        return None

    def project_allowed(self, path: str) -> bool:
        """False when a /v3/{project_id}/... path names another project."""
        segments = path.split("/")
        return not (len(segments) > 2 and segments[1] == "v3" and unquote(segments[2]) != self.project_id)

    def answer(
        self, method: str, path: str, request_id: str, *, count_read: bool, query: str = "", body: bytes = b""
    ) -> _Answer:
        """Route an authorised request; `count_read` advances a job's read counter."""
        segments = path.split("/")
        if method == "GET" and len(segments) == 5 and tuple(segments[3:]) == POOL_ROUTE:
            return self._list_answer(parse_qs(query), request_id)
        if method == "GET" and len(segments) == 5 and tuple(segments[3:]) == LOADBALANCER_ROUTE:
            return self._loadbalancers_answer(parse_qs(query), request_id)
        if (
            method == "POST"
            and len(segments) == 7
            and (segments[3], segments[4], segments[6]) == CREATE_JOB_ROUTE
        ):
            return self._create_job_answer(unquote(segments[5]), body, request_id)
        pool_id = _route_id(segments, POOL_ROUTE) if method == "GET" else None
        if pool_id is not None:
            return self._pool_answer(pool_id, request_id)
        job_id = _route_id(segments, JOB_ROUTE) if method == "GET" else None
        if job_id is not None:
            return self._job_answer(job_id, request_id, count_read=count_read)
        return _Answer(404, error_payload(*API_NOT_FOUND, request_id))

    def _list_answer(self, query: dict[str, list[str]], request_id: str) -> _Answer:
        """ListMasterSlavePools: filters, then marker/limit pagination (next_marker only if more follow)."""
        try:
            limit = int(query.get("limit", ["2000"])[-1])
        except ValueError:
            limit = -1
        if not 0 <= limit <= 2000:
            return _Answer(400, error_payload("ELB.8902", "limit must be an integer 0..2000.", request_id))
        filter_keys: tuple[str, ...] = (
            "id",
            "name",
            "loadbalancer_id",
            "listener_id",
            "enterprise_project_id",
        )
        filters: dict[str, set[str]] = {key: set(query[key]) for key in filter_keys if key in query}
        marker = query.get("marker", [None])[-1]
        with self.lock:
            ids = list(self.pools)
            if marker is not None and marker not in self.pools:
                return _Answer(400, error_payload("ELB.8902", f"Invalid marker {marker}.", request_id))
            if self.paging == "repeat":
                marker = None  # the marker is ignored: always the first page
            start = ids.index(marker) + 1 if marker is not None else 0
            page: list[dict[str, Any]] = []
            more = False
            for pool_id in ids[start:]:
                pool = self.pools[pool_id]
                if not _matches(pool, filters):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(pool)
            body = json.loads(json.dumps(page))
        page_info: dict[str, Any] = {
            "previous_marker": page[0]["id"] if page else None,
            "current_count": len(page),
        }
        if more and page:
            page_info["next_marker"] = page[-1]["id"]
        with self.lock:
            issued = self.markers_issued
            if self.paging == "repeat" and page and len(page) == limit:
                page_info["next_marker"] = page[-1]["id"]  # even on the last page
            elif self.paging == "cycle" and len(issued) >= 2 and marker == issued[1]:
                page_info["next_marker"] = issued[0]  # B -> A
            if "next_marker" in page_info and page_info["next_marker"] not in issued:
                issued.append(page_info["next_marker"])
        return _Answer(200, {"pools": body, "page_info": page_info, "request_id": request_id})

    def _all_loadbalancers(self) -> dict[str, dict[str, Any]]:
        """Every load balancer, in list order: the scenario's, then those only its pools name (untagged)."""
        found = dict(self.loadbalancers)
        for pool in self.pools.values():
            for ref in pool.get("loadbalancers") or []:
                lb_id = ref.get("id") if isinstance(ref, dict) else None
                if isinstance(lb_id, str) and lb_id and lb_id not in found:
                    found[lb_id] = validate_loadbalancer({"id": lb_id})
        return found

    def _wire_loadbalancer(self, lb: Mapping[str, Any]) -> dict[str, Any]:
        """A LoadBalancer object as ListLoadBalancers sends it (the fields a watcher could read)."""
        return {
            "id": lb["id"],
            "name": lb["name"],
            "description": lb["description"],
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "admin_state_up": True,
            "guaranteed": True,
            "project_id": self.project_id,
            "enterprise_project_id": lb["enterprise_project_id"],
            "tags": [{"key": key, "value": value} for key, value in lb["tags"].items()],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }

    def _loadbalancers_answer(self, query: dict[str, list[str]], request_id: str) -> _Answer:
        """ListLoadBalancers: the `id` and `name` filters (repeated), then marker/limit pagination."""
        try:
            limit = int(query.get("limit", ["2000"])[-1])
        except ValueError:
            limit = -1
        if not 0 <= limit <= 2000:
            return _Answer(400, error_payload("ELB.8902", "limit must be an integer 0..2000.", request_id))
        wanted = {key: set(query[key]) for key in ("id", "name") if key in query}
        marker = query.get("marker", [None])[-1]
        with self.lock:
            every = self._all_loadbalancers()
            if marker is not None and marker not in every:
                return _Answer(400, error_payload("ELB.8902", f"Invalid marker {marker}.", request_id))
            ids = list(every)
            start = ids.index(marker) + 1 if marker is not None else 0
            matching = (
                every[lb_id]
                for lb_id in ids[start:]
                if all(every[lb_id][key] in values for key, values in wanted.items())
            )
            page = [self._wire_loadbalancer(lb) for lb, _ in zip(matching, range(limit + 1), strict=False)]
        more = len(page) > limit
        page = page[:limit]
        page_info: dict[str, Any] = {
            "previous_marker": page[0]["id"] if page else None,
            "current_count": len(page),
        }
        if more and page:
            page_info["next_marker"] = page[-1]["id"]
        return _Answer(200, {"loadbalancers": page, "page_info": page_info, "request_id": request_id})

    def _create_job_answer(self, member_id: str, body: bytes, request_id: str) -> _Answer:
        """CreateMemberHealthCheckJob: 201 with a new job whose results the scenario's diagnoses define."""
        try:
            option = json.loads(body or b"{}").get("member_check") or {}
        except (ValueError, AttributeError):
            option = None
        listener_id = option.get("listener_id") if isinstance(option, dict) else None
        if not isinstance(listener_id, str) or not listener_id:
            return _Answer(
                400, error_payload("ELB.8902", "member_check.listener_id is required.", request_id)
            )
        with self.lock:
            known = any(m.get("id") == member_id for p in self.pools.values() for m in p.get("members") or [])
            if not known:
                message = f"Member {member_id} could not be found."
                return _Answer(404, error_payload(ELB_NOT_FOUND, message, request_id))
            template = self.diagnoses.get(member_id) or self.diagnoses.get("*") or _PASSING_JOB
            job_id = str(uuid.uuid4())
            check = json.loads(json.dumps(template["member_check"]))
            check.update(job_id=job_id, member_id=member_id, listener_id=listener_id)
            self.jobs[job_id] = {
                "processing_reads": template.get("processing_reads", 0),
                "member_check": check,
            }
            self.created_jobs.append({"job_id": job_id, "member_id": member_id, "listener_id": listener_id})
        return _Answer(201, {"member_check": {"job_id": job_id}, "request_id": request_id})

    def _pool_answer(self, pool_id: str, request_id: str) -> _Answer:
        """ShowMasterSlavePool."""
        with self.lock:
            pool = self.pools.get(pool_id)
            body = json.loads(json.dumps(pool)) if pool is not None else None
        if body is None:
            message = f"MasterSlavePool {pool_id} could not be found."
            return _Answer(404, error_payload(ELB_NOT_FOUND, message, request_id))
        return _Answer(200, {"pool": body, "request_id": request_id})

    def _job_answer(self, job_id: str, request_id: str, *, count_read: bool) -> _Answer:
        """ShowMemberHealthCheckJob, progressing over successive reads."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                snapshot = None
            else:
                read_index = self.job_reads.get(job_id, 0)
                if count_read:
                    self.job_reads[job_id] = read_index + 1
                snapshot = job_snapshot(job, read_index)
        if snapshot is None:
            message = f"MemberCheckJob {job_id} could not be found."
            return _Answer(404, error_payload(ELB_NOT_FOUND, message, request_id))
        return _Answer(200, {"member_check": snapshot, "request_id": request_id})

    def record(self, request: RecordedRequest) -> None:
        """Append to the request log."""
        with self.lock:
            self.records.append(request)


class _LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to 127.0.0.1 that can drop its open connections on stop."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, port: int, state: _SimulatorState) -> None:
        """Bind 127.0.0.1:port (0: any free port) and listen."""
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((LOOPBACK, port), _ElbRequestHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the address."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Shut down every open client connection so blocked handler threads finish."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class _ElbRequestHandler(BaseHTTPRequestHandler):
    """Answers one request: authenticate, check the project, apply a fault or route it."""

    server_version = "ElbSimulator/1.0"
    sys_version = ""

    @property
    def _simulator_server(self) -> _LoopbackHTTPServer:
        """The owning server, typed."""
        server = self.server
        if not isinstance(server, _LoopbackHTTPServer):
            raise TypeError("the ELB request handler only runs inside the simulator's server")
        return server

    def setup(self) -> None:
        """Track the connection so stop() can shut it down."""
        super().setup()
        server = self._simulator_server
        with server.connections_lock:
            server.connections.add(self.connection)

    def finish(self) -> None:
        """Stop tracking the connection."""
        try:
            super().finish()
        finally:
            server = self._simulator_server
            with server.connections_lock:
                server.connections.discard(self.connection)

    def log_message(self, *args: Any) -> None:
        """Keep quiet: the simulator records requests instead of logging them to stderr."""

    def handle_any_method(self) -> None:
        """Handle a request of any method and record it."""
        outcome = _Outcome(started=time.monotonic())
        try:
            self._respond(self._simulator_server.state, outcome)
        except OSError:
            self.close_connection = True
        finally:
            self._record(outcome, None)

    def _record(self, outcome: _Outcome, status: int | None) -> None:
        """Record the request once, before the client can see the answer."""
        if outcome.recorded:
            return
        outcome.recorded = True
        self._simulator_server.state.record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                status=status,
                authorized=outcome.authorized,
                duration=time.monotonic() - outcome.started,
                faulted=outcome.faulted,
                started=outcome.started,
            )
        )

    # http.server dispatches to do_<METHOD>; every method goes through the same checks.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any_method  # noqa: N815

    def _respond(self, state: _SimulatorState, outcome: _Outcome) -> None:
        """Authenticate, check the project, then answer (or misbehave as a fault says)."""
        request_id = str(uuid.uuid4())
        path = self.path.partition("?")[0]
        body = self._read_body()
        if body is None:
            self._send_json(outcome, 400, error_payload(*BAD_REQUEST, request_id), request_id)
            return
        rejection = verify_request(
            method=self.command,
            target=self.path,
            headers=self._received_headers(),
            body=body,
            credentials=state.credentials,
            now=datetime.now(timezone.utc),
        )
        if rejection is not None:
            payload = error_payload(AUTHENTICATION_FAILED, rejection, request_id)
            self._send_json(outcome, 401, payload, request_id)
            return
        outcome.authorized = True
        if not state.project_allowed(path):
            self._send_json(outcome, 403, error_payload(*PROJECT_FORBIDDEN, request_id), request_id)
            return
        fault = state.take_fault(self.command, path)
        if fault is not None:
            outcome.faulted = True
            self._apply_fault(state, fault, path, request_id, outcome)
            return
        if state.latency and state.stopping.wait(state.latency):
            self._reset_connection(outcome)
            return
        query = self.path.partition("?")[2]
        answer = state.answer(self.command, path, request_id, count_read=True, query=query, body=body)
        if state.huge_field_bytes and answer.status == 200 and _huge_slot(answer.payload) is not None:
            self._send_huge(outcome, answer.payload, request_id, state.huge_field_bytes)
            return
        self._send_json(outcome, answer.status, answer.payload, request_id)

    def _apply_fault(
        self, state: _SimulatorState, fault: Fault, path: str, request_id: str, outcome: _Outcome
    ) -> None:
        """Delay, reset, break or replace the answer as the fault says."""
        if fault.delay and state.stopping.wait(fault.delay):
            self._reset_connection(outcome)
            return
        if fault.reset:
            self._reset_connection(outcome)
            return
        if fault.malformed:
            answer = state.answer(self.command, path, request_id, count_read=False)
            text = json.dumps(answer.payload).encode("utf-8")
            self._send(outcome, 200, text[: max(1, len(text) // 2)], request_id, fault.headers)
            return
        if fault.body is not None:
            status = fault.status
            if status is None:
                status = state.answer(self.command, path, request_id, count_read=False).status
            self._send(outcome, status, fault.body.encode("utf-8"), request_id, fault.headers)
            return
        if fault.status is None:
            # The query too: a list answered after a delay keeps its filters and its page.
            query = self.path.partition("?")[2]
            answer = state.answer(self.command, path, request_id, count_read=True, query=query)
            self._send_json(outcome, answer.status, answer.payload, request_id, fault.headers)
            return
        if fault.status == 429:
            payload = error_payload(*THROTTLED, request_id)
        else:
            message = f"Simulated fault: HTTP {fault.status} for {self.command} {path}."
            payload = error_payload(f"ELB.{fault.status}", message, request_id)
        self._send_json(outcome, fault.status, payload, request_id, fault.headers)

    def _read_body(self) -> bytes | None:
        """The request body per Content-Length; None if the length is invalid or too large."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        try:
            length = int(declared)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def _received_headers(self) -> dict[str, str]:
        """Lower-case header names to their first value, as the client's signer saw it (UTF-8)."""
        received: dict[str, str] = {}
        for name, value in self.headers.items():
            received.setdefault(name.lower(), _as_sent(value))
        return received

    def _send_json(
        self,
        outcome: _Outcome,
        status: int,
        payload: Mapping[str, Any],
        request_id: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a JSON body."""
        try:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in the scenario: sent escaped, as valid JSON
            body = json.dumps(payload).encode("ascii")
        self._send(outcome, status, body, request_id, extra_headers or {})

    def _send(
        self, outcome: _Outcome, status: int, body: bytes, request_id: str, extra_headers: Mapping[str, str]
    ) -> None:
        """Send status, the common headers (extra headers override them) and the body (not for HEAD)."""
        headers = {
            "Content-Type": "application/json",
            "X-Request-Id": request_id,
            "Content-Length": str(len(body)),
        }
        for name, value in extra_headers.items():
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        self._record(outcome, status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_huge(self, outcome: _Outcome, payload: dict[str, Any], request_id: str, size: int) -> None:
        """Send a 200 JSON answer whose huge field (`_huge_slot`) is `size` bytes of "x", streamed.

        Without a Content-Length, ended by closing the connection, as a server streaming an answer
        it has not measured does: the client cannot tell the size before it has read the body.
        """
        slot = _huge_slot(payload)
        if slot is None:
            return
        mark = f"huge-field-{uuid.uuid4().hex}"
        slot[0][slot[1]] = mark
        prefix, _, suffix = json.dumps(payload).encode("ascii").partition(mark.encode("ascii"))
        self._record(outcome, 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", request_id)
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(prefix)
        chunk = b"x" * HUGE_CHUNK_BYTES
        left = size
        while left > 0 and not self._simulator_server.state.stopping.is_set():
            self.wfile.write(chunk[: min(left, HUGE_CHUNK_BYTES)])
            left -= HUGE_CHUNK_BYTES
        self.wfile.write(suffix)

    def _reset_connection(self, outcome: _Outcome) -> None:
        """Close the connection with a TCP reset and no response."""
        self._record(outcome, None)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


HUGE_CHUNK_BYTES = 1 << 16


def _huge_slot(payload: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """Where `huge_field_bytes` goes in an answer: (object, key), or None when it has no such field.

    The first member's name in a pool answer (ShowMasterSlavePool, ListMasterSlavePools), else the
    first pool's name; the first check item's name in a check job answer (ShowMemberHealthCheckJob).
    """
    single = payload.get("pool")
    listed = payload.get("pools")
    pools = [single] if isinstance(single, dict) else listed if isinstance(listed, list) else []
    for pool in pools:
        members = pool.get("members") if isinstance(pool, dict) else None
        if isinstance(members, list) and members and isinstance(members[0], dict):
            return members[0], "name"
    if pools and isinstance(pools[0], dict):
        return pools[0], "name"
    check = payload.get("member_check")
    result = check.get("result") if isinstance(check, dict) else None
    for group in result.values() if isinstance(result, dict) else ():
        items = group.get("check_items") if isinstance(group, dict) else None
        if isinstance(items, list) and items and isinstance(items[0], dict):
            return items[0], "name"
    return None


def _as_sent(value: str) -> str:
    """Undo http.server's ISO-8859-1 decoding of a header value sent as UTF-8."""
    try:
        return value.encode("iso-8859-1").decode("utf-8")
    except UnicodeError:
        return value


class ElbSimulator:
    """An ELB v3 API simulator on 127.0.0.1 for the real SDK.

    Serves ShowMasterSlavePool, ListMasterSlavePools, ShowMemberHealthCheckJob,
    CreateMemberHealthCheckJob and ListLoadBalancers (with tags) with SDK-HMAC-SHA256 authentication,
    check jobs that progress over reads, and injected faults. Use it as a context manager (or
    start()/stop()) and point the SDK at it with env().
    """

    def __init__(self, scenario: str | os.PathLike[str] | Mapping[str, Any], port: int = 0) -> None:
        """Load the scenario (a JSON file or a dict); nothing is bound until start()."""
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535 (0: any free port), not {port!r}")
        self._scenario = load_scenario(scenario)
        self._requested_port = port
        self._state = _SimulatorState(self._scenario)
        self._server: _LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ElbSimulator:
        """Start serving."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def start(self) -> ElbSimulator:
        """Bind 127.0.0.1 and serve on a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("the ELB simulator is already running")
        self._state.stopping.clear()
        server = _LoopbackHTTPServer(self._requested_port, self._state)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SERVE_POLL_SECONDS},
            name=f"elb-simulator-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving promptly, cutting short fault delays and open connections; idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._state.stopping.set()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=2)

    @property
    def running(self) -> bool:
        """Whether the simulator is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (RuntimeError when not running)."""
        return int(self._running_server().server_address[1])

    @property
    def endpoint(self) -> str:
        """http://127.0.0.1:PORT, from the bound socket (RuntimeError when not running)."""
        host, port = self._running_server().server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def region(self) -> str:
        """The scenario's region id, e.g. cn-north-4."""
        return str(self._scenario["region"])

    @property
    def project_id(self) -> str:
        """The scenario's project id; requests for other projects get 403."""
        return str(self._scenario["project_id"])

    @property
    def credentials(self) -> SimulatorCredentials:
        """The scenario's first credentials entry."""
        first = self._state.credentials[0]
        return SimulatorCredentials(first["ak"], first["sk"], first.get("security_token"))

    @property
    def env_name(self) -> str:
        """The SDK endpoint override variable for the scenario's region."""
        return endpoint_env_name(self.region)

    def env(self) -> dict[str, str]:
        """{"HUAWEICLOUD_SDK_REGION_ELB_<REGION>": endpoint}, to point the SDK here."""
        return {self.env_name: self.endpoint}

    def add_fault(self, fault: Fault) -> None:
        """Append a fault rule (matched after the scenario's and earlier ones)."""
        if not isinstance(fault, Fault):
            raise TypeError(f"add_fault takes a Fault, not {type(fault).__name__}")
        with self._state.lock:
            self._state.faults.append(_ArmedFault(fault, fault.times))

    def clear_faults(self) -> None:
        """Remove every fault rule, including the scenario's."""
        with self._state.lock:
            self._state.faults.clear()

    def set_pool(self, pool: Mapping[str, Any]) -> None:
        """Add or replace a pool (keyed by its id)."""
        checked = validate_pool(dict(pool))
        with self._state.lock:
            self._state.pools[checked["id"]] = checked

    def set_loadbalancer(self, lb: Mapping[str, Any]) -> None:
        """Add or replace a load balancer {"id", "name"?, "tags"?: {key: value}} (keyed by its id)."""
        checked = validate_loadbalancer(dict(lb))
        with self._state.lock:
            self._state.loadbalancers[checked["id"]] = checked

    def set_job(self, job: Mapping[str, Any]) -> None:
        """Add or replace a job entry {"processing_reads", "member_check"}; its read count restarts."""
        checked = validate_job(dict(job))
        job_id = checked["member_check"]["job_id"]
        with self._state.lock:
            self._state.jobs[job_id] = checked
            self._state.job_reads.pop(job_id, None)

    @property
    def created_jobs(self) -> list[dict[str, str]]:
        """The check jobs CreateMemberHealthCheckJob started: [{"job_id", "member_id", "listener_id"}]."""
        with self._state.lock:
            return list(self._state.created_jobs)

    def pool_ids(self) -> list[str]:
        """Every pool id the simulator serves, in list order (scenario pools, then the fleet)."""
        with self._state.lock:
            return list(self._state.pools)

    def failed_pool_ids(self) -> list[str]:
        """Pools whose master is OFFLINE on some listener (outer status or per-listener status)."""
        with self._state.lock:
            pools = list(self._state.pools.values())
        return [
            pool["id"]
            for pool in pools
            for member in pool.get("members") or []
            if str(member.get("role", "")).lower() == "master"
            and (
                member.get("operating_status") == "OFFLINE"
                or any(s.get("operating_status") == "OFFLINE" for s in member.get("status") or [])
            )
        ]

    def job_reads(self, job_id: str) -> int:
        """How many successful reads of a job were served."""
        with self._state.lock:
            return self._state.job_reads.get(job_id, 0)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._state.lock:
            return list(self._state.records)

    def count(self, path_substring: str | None = None, method: str | None = None) -> int:
        """How many recorded requests have this substring in their path and this method."""
        return sum(
            1
            for request in self.requests
            if (path_substring is None or path_substring in request.path)
            and (method is None or request.method == method.upper())
        )

    def _running_server(self) -> _LoopbackHTTPServer:
        """The server, or RuntimeError when not running."""
        if self._server is None:
            raise RuntimeError("the ELB simulator is not running; call start() or use it in a with block")
        return self._server
