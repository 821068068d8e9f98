"""A real redis-server on 127.0.0.1 for the state-store tests (Debian's binary; `make redis` installs it).

Use it from a test module with `pytest_plugins = ("tests.redis_server",)` (never import it: pytest must
load it as a plugin to rewrite its asserts). `redis_server` is one server for the session; `redis_url`
is its URL with the database flushed for the test; `private_redis` is `start_redis_server`, for a test
that needs a server of its own to kill or to protect with a password.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SKIP_REASON = "redis-server not installed: Redis store contract tests skipped; run `make redis`"


def redis_binary() -> str | None:
    """The redis-server executable, if this machine has one."""
    found = shutil.which("redis-server")
    if found:
        return found
    return "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int, password: str | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            if password:
                conn.sendall(f"AUTH {password}\r\n".encode())
                conn.recv(64)
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process: no persistence, loopback only, an ephemeral port."""

    def __init__(self, binary: str, *, password: str | None = None) -> None:
        self.binary = binary
        self.password = password
        self.port = 0
        self._workdir = tempfile.TemporaryDirectory(prefix="elb-watch-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The `ELB_WATCH_STATE` URL of this server (database 0)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> RedisServer:
        """Start on `port` (a restart) or a free one, and wait until it answers PING.

        On a free port, a port taken meanwhile is retried; a restart on a given port is tried once.
        """
        for _ in range(1 if port else 5):
            self.port = port or _free_port()
            args = [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            args += ["--dir", self._workdir.name, "--loglevel", "warning"]
            if self.password:
                args += ["--requirepass", self.password]
            self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._process.poll() is None:
                if _answers_ping(self.port, self.password):
                    return self
                time.sleep(0.02)
            self.stop()
        raise RuntimeError(f"{self.binary} did not start and answer PING on 127.0.0.1")

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait for it."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)

    def close(self) -> None:
        """Stop and remove the working directory."""
        self.stop()
        self._workdir.cleanup()


@contextlib.contextmanager
def start_redis_server(*, password: str | None = None) -> Iterator[RedisServer]:
    """A private redis-server for one test; skips the test loudly when there is no binary."""
    binary = redis_binary()
    if binary is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer(binary, password=password).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session."""
    with start_redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, its database emptied for this test."""
    import redis  # noqa: PLC0415 - the dev extra; only tests that use Redis need it

    client = redis.Redis(port=redis_server.port)
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture
def private_redis() -> Any:
    """`start_redis_server`, for a test that needs a server of its own (to kill, or with a password)."""
    return start_redis_server
