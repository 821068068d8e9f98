"""`elb-master-watch serve`: local HTTP as API Gateway events for `handler.handler`. Development only.

Bound to 127.0.0.1 (never another interface), so the action pages (`/a/{token}`) and the watch path can
be opened in a browser next to the simulator and the loopback receivers. Each request becomes the
APIG trigger's event (`httpMethod`, `path`, `headers`, `queryStringParameters`, a base64 `body`,
`requestContext.sourceIp`), and the handler's answer (`statusCode`, `headers`, `body`) is written back.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"
MAX_BODY = 256 * 1024


def apig_event(method: str, target: str, headers: dict[str, str], body: bytes, source: str) -> dict[str, Any]:
    """The APIG trigger event FunctionGraph would pass for this HTTP request."""
    parts = urlsplit(target)
    return {
        "httpMethod": method,
        "path": parts.path,
        "headers": {name.lower(): value for name, value in headers.items()},
        "queryStringParameters": dict(parse_qsl(parts.query, keep_blank_values=True)),
        "pathParameters": {},
        "requestContext": {
            "apiId": "local",
            "requestId": uuid.uuid4().hex,
            "stage": "local",
            "sourceIp": source,
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


def _handler_class(call: Callable[[dict[str, Any]], Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length) if length else b""
            if urlsplit(self.path).path == "/favicon.ico":  # a browser's own request: no watch run
                self._write(404, {"Content-Type": "text/plain"}, b"")
                return
            event = apig_event(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            response = call(event)
            if not isinstance(response, dict) or "statusCode" not in response:
                payload = json.dumps(response, ensure_ascii=False).encode("utf-8")
                self._write(200, {"Content-Type": "application/json; charset=utf-8"}, payload)
                return
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
            self._write(int(response["statusCode"]), dict(response.get("headers") or {}), data)

        def _write(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            sys.stderr.write(f"elb-master-watch serve: {self.address_string()} {format % args}\n")

    return Handler


def server(port: int, call: Callable[[dict[str, Any]], Any]) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:`port` (0: any free port) that answers through `call`."""
    httpd = ThreadingHTTPServer((LOOPBACK, port), _handler_class(call))
    httpd.daemon_threads = True
    return httpd


def run(port: int, call: Callable[[dict[str, Any]], Any]) -> int:
    """Serve until interrupted; the exit status (0 after Ctrl-C, 1 when the port cannot be bound)."""
    try:
        httpd = server(port, call)
    except OSError as exc:
        sys.stderr.write(f"elb-master-watch: cannot listen on {LOOPBACK}:{port}: {exc.strerror}\n")
        return 1
    bound = httpd.server_address[1]
    sys.stderr.write(
        f"elb-master-watch: serving http://{LOOPBACK}:{bound}/ (development only): "
        f"action links at http://{LOOPBACK}:{bound}/a/<token>; Ctrl-C stops\n"
    )
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0
