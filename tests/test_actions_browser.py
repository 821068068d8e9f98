"""A real browser acts from the alert: headless Chromium (Debian's package) through `elb-master-watch serve`.

The simulator's failed master is notified to a loopback webhook receiver; the Silence 1h link is taken
from the message it got; Chromium opens it through the development server (a screenshot of the page
is kept in tests/artifacts/), fills in a name and submits the form (chromedriver's W3C WebDriver HTTP
API, driven with requests: no selenium); `silence list` shows the typed name, the next run holds the
alert. The store is a real redis-server both processes share.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from handler.app import invoke
from tests.receivers import WebhookReceiver
from tests.support import DEMO_POOL, PlatformContext

pytest_plugins = ("tests.redis_server",)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
KEY = "browser-test-actions-key-0123456789abcdef"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=412,915",  # a phone's viewport
]

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (make chromium installs them)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
        else:
            return
    raise AssertionError(f"nothing answered at {url} in {seconds} s")


@pytest.fixture
def scene(simulator, monkeypatch, redis_url) -> Iterator[tuple[WebhookReceiver, int]]:
    """The failed master, a webhook receiver, a shared Redis store, links on at the served port."""
    port = free_port()
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", redis_url)
        monkeypatch.setenv("ELB_WATCH_ACTIONS_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("ELB_WATCH_ACTIONS_KEY", KEY)
        monkeypatch.setenv("ELB_WATCH_REPEAT_INTERVAL", "60s")
        yield receiver, port


@pytest.fixture
def served(scene, tmp_path) -> Iterator[str]:
    """`elb-master-watch serve --port N` in its own process, with the test's environment."""
    _, port = scene
    command = [sys.executable, "-m", "handler", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(command, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/favicon.ico")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def driver(tmp_path) -> Iterator[tuple[str, str]]:
    """A chromedriver on a free port and one headless Chromium session: (base URL, session id)."""
    port = free_port()
    process = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/status")
        options = {"binary": CHROMIUM, "args": [*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]}
        capabilities = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        session = requests.post(f"{base}/session", json=capabilities, timeout=120).json()["value"][
            "sessionId"
        ]
        yield base, session
        requests.delete(f"{base}/session/{session}", timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=10)


def webdriver(driver: tuple[str, str], path: str, body: dict[str, Any] | None = None) -> Any:
    base, session = driver
    url = f"{base}/session/{session}{path}"
    answer = requests.post(url, json=body, timeout=60) if body is not None else requests.get(url, timeout=60)
    value = answer.json()["value"]
    assert answer.status_code == 200, value
    return value


def screenshot(url: str, path: Path, profile: Path) -> None:
    """Chromium's own --screenshot of a page (a GET, like a link preview)."""
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", f"--screenshot={path}", url],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "handler", *args]
    return subprocess.run(
        command, env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False
    )


def test_a_browser_silences_the_pool_from_a_link_in_the_message(scene, served, driver, tmp_path):
    receiver, port = scene
    first = invoke({"pool_id": DEMO_POOL}, PlatformContext())
    assert first["ok"] is True
    [envelope] = receiver.accepted
    links = {link["name"]: link["url"] for link in envelope["alerts"][0]["record"]["links"]}
    url = links["silence_1h"]
    assert url.startswith(f"http://127.0.0.1:{port}/a/")

    shot = ARTIFACTS / "actions_confirm_page.png"
    screenshot(url, shot, tmp_path / "shot-profile")
    assert shot.stat().st_size > 5000
    print(f"\nscreenshot of the confirm page: {shot}")
    assert json.loads(cli("silence", "list", "-o", "json").stdout) == []  # Chromium's GET changed nothing

    webdriver(driver, "/url", {"url": url})
    assert "web-pool" in webdriver(driver, "/source")
    name = webdriver(driver, "/element", {"using": "css selector", "value": "#name"})[ELEMENT]
    webdriver(driver, f"/element/{name}/value", {"text": "Li Lei"})
    comment = webdriver(driver, "/element", {"using": "css selector", "value": "#comment"})[ELEMENT]
    webdriver(driver, f"/element/{comment}/value", {"text": "looking at web-master-1"})
    button = webdriver(driver, "/element", {"using": "css selector", "value": "button[type=submit]"})[ELEMENT]
    webdriver(driver, f"/element/{button}/click", {})
    done = webdriver(driver, "/source")
    assert "silenced for 1h by Li Lei" in done
    (ARTIFACTS / "actions_done_page.png").write_bytes(base64.b64decode(webdriver(driver, "/screenshot")))

    [silence] = json.loads(cli("silence", "list", "-o", "json").stdout)
    assert silence["created_by"] == "Li Lei"
    assert silence["comment"] == "looking at web-master-1"
    summaries = [e["alerts"][0]["annotations"]["summary"] for e in receiver.accepted[1:]]
    assert [s.endswith("silenced for 1h by Li Lei via link") for s in summaries] == [True]

    later = time.time() + 120  # the repeat is due: the silence holds it
    held = invoke({"pool_id": DEMO_POOL}, PlatformContext(), wall_clock=lambda: later)
    assert [entry.get("silence_id") for entry in held["held"]] == [silence["id"]]
    assert len(receiver.accepted) == 2
