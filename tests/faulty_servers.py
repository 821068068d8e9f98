"""Servers on 127.0.0.1 that misbehave at the socket level: they trickle an answer, or never answer.

Real sockets, so the real SDK, requests and redis-py meet them exactly as they would a sick endpoint.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class _Server:
    """Accepts connections on a loopback port and hands each to `serve` in a daemon thread."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._stopped = threading.Event()
        self._connections: list[socket.socket] = []
        self.accepted = 0

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._connections.append(conn)
            threading.Thread(target=self._serve_quietly, args=(conn,), daemon=True).start()

    def _serve_quietly(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.serve(conn)

    def __enter__(self) -> _Server:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._listener.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.close()


def _read_request(conn: socket.socket) -> None:
    """Read up to the end of the request headers (and whatever body came with them)."""
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


class TricklingHttpServer(_Server):
    """Answers every HTTP request one byte every `interval` seconds: the headers (`part="headers"`), or
    whole headers and then the body (`part="body"`). No single read ever waits long, so per-read
    timeouts never fire; only a bound on the whole call ends it."""

    def __init__(self, part: str = "body", interval: float = 0.3) -> None:
        super().__init__()
        self.part = part
        self.interval = interval

    def serve(self, conn: socket.socket) -> None:
        _read_request(conn)
        body = b'{"pool": {"id": "' + b"x" * 100_000 + b'"}}'
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        if self.part == "body":
            conn.sendall(head)
            trickle = body
        else:
            trickle = head + body
        for index in range(len(trickle)):
            if self._stopped.is_set():
                return
            conn.sendall(trickle[index : index + 1])
            time.sleep(self.interval)


class SilentServer(_Server):
    """Accepts connections and never answers a byte (a hung Redis, a black-holed proxy)."""

    def serve(self, conn: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn.settimeout(0.5)
                if conn.recv(65536) == b"":
                    return
            except TimeoutError:
                continue
