"""Action links end to end without a browser: real handler, ELB simulator, a loopback webhook, a real store.

A link is taken from the message the webhook receiver got, then its APIG requests go through
`handler.handler` exactly as API Gateway would send them.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from structlog.testing import capture_logs

from elb_tools import serve
from handler import handler as entry
from handler import logs
from handler.actions import token as tokens
from handler.actions.links import LINKED, off_because, with_links
from handler.app import invoke
from handler.channels import render
from handler.commands import alerts, silence_list
from handler.config import read_settings
from handler.domain import Notification
from handler.routes_cli import config_check
from handler.state import open_store
from handler.wiring import WARM
from tests import receivers as loopback
from tests.receivers import WebhookReceiver, running_receivers
from tests.support import DEMO_POOL, PlatformContext, demo_scenario

KEY = "k" * 40
HEALTHY_POOL = copy.deepcopy(demo_scenario()["pools"][0])
HEALTHY_POOL["members"][0]["status"] = []
HEALTHY_POOL["members"][0]["reason"] = None
BASE = "https://actions.example.com"
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@pytest.fixture
def hook(simulator, monkeypatch, tmp_path):
    """The simulator's failed master, a webhook receiver, a SQLite store file, links on."""
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ELB_WATCH_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite://{tmp_path}/state.db")
        monkeypatch.setenv("ELB_WATCH_ACTIONS_URL", BASE)
        monkeypatch.setenv("ELB_WATCH_ACTIONS_KEY", KEY)
        yield receiver


def fire() -> dict[str, Any]:
    return entry({"pool_id": DEMO_POOL}, PlatformContext())


def links_of(envelope: dict[str, Any]) -> dict[str, str]:
    """The action links of a message (the record's other links, such as `console`, left out)."""
    every = envelope["alerts"][0]["record"].get("links", [])
    return {link["name"]: link["url"] for link in every if link["name"] in tokens.ACTIONS}


def path_of(url: str) -> str:
    assert url.startswith(BASE + "/a/")
    return url[len(BASE) :]


def apig(
    method: str, path: str, form: dict[str, str] | None = None, ip: str = "198.51.100.7"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "httpMethod": method,
        "path": path,
        "headers": {"host": "actions.example.com", "x-forwarded-proto": "https"},
        "requestContext": {"apiId": "a1", "requestId": "r1", "stage": "RELEASE", "sourceIp": ip},
        "queryStringParameters": {},
        "pathParameters": {"token": path.rsplit("/", 1)[-1]},
        "isBase64Encoded": True,
        "body": base64.b64encode(urlencode(form or {}).encode()).decode() if form is not None else "",
    }
    return entry(event, PlatformContext())


def csrf_of(page: dict[str, Any]) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page["body"])
    assert found, page["body"][:500]
    return found.group(1)


def silences(tmp_path) -> list[Any]:
    store = open_store(f"sqlite://{tmp_path}/state.db")
    assert store is not None
    try:
        return store.silences()
    finally:
        store.close()


def test_a_firing_message_carries_the_linked_actions_and_the_result_no_token(hook):
    result = fire()
    [envelope] = hook.accepted
    links = links_of(envelope)
    assert list(links) == list(LINKED) == ["ack", "silence_1h", "silence_4h", "silence_resolved"]
    names = [link["name"] for link in envelope["alerts"][0]["record"]["links"]]
    assert names == ["console", *LINKED]  # after the links the record had
    assert all(url.startswith(f"{BASE}/a/") for url in links.values())
    assert "/a/" not in json.dumps(result)  # only the copies sent carry tokens
    assert KEY not in json.dumps(result)


def test_a_preview_get_shows_the_alert_and_changes_nothing(hook, tmp_path):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_1h"])
    for _ in range(3):  # unfurlers fetch every link, sometimes more than once
        page = apig("GET", path)
        assert page["statusCode"] == 200
        assert page["headers"] == PAGE_HEADERS
        assert page["isBase64Encoded"] is False
    assert "web-pool" in page["body"]
    assert "web-master-1" in page["body"]
    assert 'name="name"' in page["body"]
    assert 'name="comment"' in page["body"]
    assert '<form method="post">' in page["body"]
    assert "<script" not in page["body"]
    assert 'name="viewport"' in page["body"]
    assert silences(tmp_path) == []


def test_post_silences_once_and_a_replay_says_who_did_it(hook, tmp_path):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_1h"])
    value = csrf_of(apig("GET", path))
    done = apig("POST", path, {"csrf": value, "name": "Li Lei", "comment": "on it"})
    assert done["statusCode"] == 200, done["body"]
    assert "silenced for 1h by Li Lei" in done["body"]
    [silence] = silences(tmp_path)
    assert silence.created_by == "Li Lei"
    assert silence.comment == "on it"
    assert 3599 <= silence.ends_at - silence.starts_at <= 3601
    announced = hook.accepted[1]["alerts"][0]["annotations"]["summary"]
    assert announced.endswith("silenced for 1h by Li Lei via link")
    again = apig("POST", path, {"csrf": value, "name": "Han Meimei"})
    assert again["statusCode"] == 409
    assert "Already done by Li Lei at" in again["body"]
    replay = apig("GET", path)
    assert replay["statusCode"] == 200
    assert "Already done by Li Lei" in replay["body"]
    assert len(silences(tmp_path)) == 1
    assert len(hook.accepted) == 2  # announced once


def test_a_post_without_the_forms_value_is_refused_and_changes_nothing(hook, tmp_path):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_4h"])
    page = apig("POST", path, {"csrf": "forged", "name": "Mallory"})
    assert page["statusCode"] == 403
    assert silences(tmp_path) == []


def test_a_tampered_token_gets_403_and_an_expired_one_410_and_nothing_changes(hook, tmp_path):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_1h"])
    raw = bytearray(base64.urlsafe_b64decode(path[len("/a/") :] + "=="))
    assert raw[1] == tokens.ACTIONS.index("silence_1h")
    raw[1] = tokens.ACTIONS.index("silence_4h")  # the same link, made to ask for more
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert apig("GET", f"/a/{forged}")["statusCode"] == 403
    assert apig("POST", f"/a/{forged}", {"csrf": "x"})["statusCode"] == 403
    fingerprint = hook.accepted[0]["alerts"][0]["record"]["fingerprint"]
    old = tokens.sign(tokens.Claims("silence_1h", fingerprint, 1, 1_000_000_000), KEY.encode())
    expired = apig("GET", f"/a/{old}")
    assert expired["statusCode"] == 410
    assert "expired" in expired["body"]
    assert silences(tmp_path) == []


def test_a_link_of_an_unknown_alert_gets_404_and_one_of_an_older_message_410(hook):
    fire()
    far = tokens.expiry(2_000_000_000)
    unknown = tokens.sign(tokens.Claims("silence_1h", "0123456789abcdef", 1, far), KEY.encode())
    assert apig("GET", f"/a/{unknown}")["statusCode"] == 404
    path = path_of(links_of(hook.accepted[0])["silence_1h"])
    fingerprint = hook.accepted[0]["alerts"][0]["record"]["fingerprint"]
    claims = tokens.verify(path[len("/a/") :], KEY.encode(), time.time())
    assert isinstance(claims, tokens.Claims)
    assert (claims.action, claims.fingerprint, claims.sequence) == ("silence_1h", fingerprint, 1)
    older = tokens.sign(tokens.Claims("silence_1h", fingerprint, 0, far), KEY.encode())
    changed = apig("GET", f"/a/{older}")
    assert changed["statusCode"] == 410
    assert "changed" in changed["body"]


def test_a_hostile_pool_name_is_rendered_escaped(hook, simulator):
    pool = copy.deepcopy(demo_scenario()["pools"][0])
    pool["name"] = '<script>alert(1)</script>"><img src=x>'
    simulator.set_pool(pool)
    fire()
    page = apig("GET", path_of(links_of(hook.accepted[0])["silence_1h"]))
    assert page["statusCode"] == 200
    assert "<script>" not in page["body"]
    assert "<img" not in page["body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x&gt;" in page["body"]


def test_too_many_bad_tokens_from_one_address_are_refused_for_a_while(hook):
    fire()
    good = path_of(links_of(hook.accepted[0])["silence_1h"])
    for index in range(20):
        assert apig("GET", f"/a/bad{index}.x", ip="203.0.113.9")["statusCode"] == 403
    assert apig("GET", good, ip="203.0.113.9")["statusCode"] == 429
    assert apig("GET", good, ip="198.51.100.7")["statusCode"] == 200  # another address is not held


def test_the_instance_store_turns_links_off_with_a_clear_message(hook, monkeypatch):
    monkeypatch.delenv("ELB_WATCH_STATE")
    fire()
    assert links_of(hook.accepted[0]) == {}
    settings, _ = read_settings({"ELB_WATCH_ACTIONS_URL": BASE, "ELB_WATCH_ACTIONS_KEY": KEY})
    why = off_because(settings, {}, "instance")
    assert why is not None
    assert "instance store" in why
    assert "redis://" in why
    page = apig("GET", "/a/anything.x")
    assert page["statusCode"] == 404
    assert "instance store" in page["body"]


def test_a_short_key_is_a_config_problem_and_links_are_off(hook, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_ACTIONS_KEY", "short-key")
    result = fire()
    problems = [e["message"] for e in result["errors"] if e["code"] == "CONFIG.INVALID"]
    assert any("ELB_WATCH_ACTIONS_KEY is 9 bytes, at least 32 bytes are needed" in p for p in problems)
    assert "short-key" not in json.dumps(result)
    assert links_of(hook.accepted[0]) == {}


def test_the_watch_path_of_apig_is_unchanged(hook):
    event = {
        "httpMethod": "POST",
        "path": "/elb-master-watch",
        "isBase64Encoded": False,
        "body": json.dumps({"pool_id": DEMO_POOL}),
    }
    response = entry(event, PlatformContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["schema"] == "elb-master-watch/v1"


def test_silence_until_resolved_holds_the_repeats_then_ends_with_the_resolution(
    hook, simulator, monkeypatch, tmp_path
):
    monkeypatch.setenv("ELB_WATCH_REPEAT_INTERVAL", "60s")
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_resolved"])
    done = apig("POST", path, {"csrf": csrf_of(apig("GET", path)), "name": "Li Lei"})
    assert done["statusCode"] == 200
    [silence] = silences(tmp_path)
    assert silence.until_resolved
    assert silence.matcher == {"fingerprint": silence.matcher["fingerprint"]}
    told = len(hook.accepted)
    later = time.time() + 120  # the repeat is due: the silence holds it
    held = invoke({"pool_id": DEMO_POOL}, PlatformContext(), wall_clock=lambda: later)
    assert [entry["silence_id"] for entry in held["held"] if "silence_id" in entry] == [silence.id]
    assert len(hook.accepted) == told
    simulator.set_pool(HEALTHY_POOL)
    for step in (180, 240):  # ELB_WATCH_RESOLVE_AFTER=2 healthy runs
        result = invoke(
            {"pool_id": DEMO_POOL}, PlatformContext(), wall_clock=lambda step=step: time.time() + step
        )
    assert [n["notification_reason"] for n in result["notifications"]] == ["resolved"]
    assert hook.accepted[-1]["status"] == "resolved"  # the resolution is told, not held
    [ended] = silences(tmp_path)
    assert ended.ends_at <= time.time() + 240


def test_config_check_and_a_startup_warning_say_why_the_instance_store_turns_links_off(
    hook, monkeypatch, capsys
):
    monkeypatch.delenv("ELB_WATCH_STATE")
    assert config_check(output="json") == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any("instance store" in problem and "action links are off" in problem for problem in problems)
    monkeypatch.setattr(WARM, "_said", set())
    with logs.held(), capture_logs() as captured:
        fire()
        fire()
    warned = [entry for entry in captured if entry["event"] == "actions.off"]
    assert len(warned) == 1
    assert "instance store" in warned[0]["why"]


def test_silence_list_shows_who_silenced_through_a_link(hook, tmp_path, capsys):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_4h"])
    apig("POST", path, {"csrf": csrf_of(apig("GET", path)), "name": "Han Meimei"})
    assert silence_list(output="text", include_ended=False) == 0
    text = capsys.readouterr().out
    [header] = [line for line in text.splitlines() if line.startswith("ID ")]
    assert header.split()[-2:] == ["BY", "COMMENT"]
    assert "Han Meimei" in text
    assert silence_list(output="json", include_ended=False) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["created_by"] == "Han Meimei"
    assert alerts(output="json", include_resolved=False) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["silenced_by"] == listed["id"]


def test_the_page_speaks_the_configured_locale(hook, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_LOCALE", "zh")
    fire()
    page = apig("GET", path_of(links_of(hook.accepted[0])["silence_4h"]))
    assert page["statusCode"] == 200
    assert '<html lang="zh-CN">' in page["body"]
    assert "静默 4 小时" in page["body"]


def test_a_head_request_answers_the_headers_and_no_body(hook):
    fire()
    page = apig("HEAD", path_of(links_of(hook.accepted[0])["silence_1h"]))
    assert page["statusCode"] == 200
    assert page["headers"] == PAGE_HEADERS
    assert page["body"] == ""


def test_the_development_server_turns_http_into_apig_events(hook, tmp_path):
    fire()
    path = path_of(links_of(hook.accepted[0])["silence_1h"])
    httpd = serve.server(0, lambda event: entry(event, PlatformContext()))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        page = requests.get(base + path, timeout=30)
        assert page.status_code == 200
        assert {name: page.headers[name] for name in PAGE_HEADERS} == PAGE_HEADERS
        value = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        done = requests.post(base + path, data={"csrf": value, "name": "Li Lei"}, timeout=30)
        assert done.status_code == 200
        assert "silenced for 1h by Li Lei" in done.text
        watch = requests.post(base + "/elb-master-watch", json={"pool_id": DEMO_POOL}, timeout=30)
        assert watch.json()["schema"] == "elb-master-watch/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert httpd.server_address[0] == "127.0.0.1"
    assert [s.created_by for s in silences(tmp_path)] == ["Li Lei"]


def test_every_receiver_that_got_the_alert_is_told_once(simulator, monkeypatch, tmp_path):
    with running_receivers(smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ELB_WATCH_DIAGNOSE", "off")
        monkeypatch.setenv("ELB_WATCH_STATE", f"sqlite://{tmp_path}/state.db")
        monkeypatch.setenv("ELB_WATCH_ACTIONS_URL", BASE)
        monkeypatch.setenv("ELB_WATCH_ACTIONS_KEY", KEY)
        fire()
        path = path_of(links_of(running.webhook.accepted[0])["silence_1h"])
        done = apig("POST", path, {"csrf": csrf_of(apig("GET", path)), "name": "Li Lei"})
        assert done["statusCode"] == 200
        for receiver in running.all():
            assert len(receiver.accepted) == 2, type(receiver).__name__
        assert "smn, feishu, dingtalk, wecom, slack, webhook, welink, teams" in done["body"]


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("https://abc.apig.cn-north-4.huaweicloudapis.com", True),
        ("https://actions.example.com/", True),
        ("http://127.0.0.1:8080", True),
        ("http://actions.example.com", False),
        ("https://", False),
        ("https://x.example.com/?next=evil", False),
        ('https://x.example.com/"><script>', False),
    ],
)
def test_the_actions_url_must_be_an_https_base(url, usable):
    settings, problems = read_settings({"ELB_WATCH_ACTIONS_URL": url, "ELB_WATCH_ACTIONS_KEY": KEY})
    assert bool(settings.actions_url) == usable
    assert (problems == []) == usable
    assert KEY not in repr(settings)


def test_acknowledge_from_a_link_holds_the_repeats_and_says_who(hook, tmp_path, monkeypatch):
    monkeypatch.setenv("ELB_WATCH_REPEAT_INTERVAL", "60s")
    fire()
    path = path_of(links_of(hook.accepted[0])["ack"])
    page = apig("GET", path)
    assert "Acknowledge this alert" in page["body"]
    done = apig("POST", path, {"csrf": csrf_of(page), "name": "Li Lei", "comment": "mine"})
    assert done["statusCode"] == 200
    assert "acknowledged by Li Lei" in done["body"]
    store = open_store(f"sqlite://{tmp_path}/state.db")
    assert store is not None
    try:
        [ack] = store.acks()
    finally:
        store.close()
    assert (ack.by, ack.comment) == ("Li Lei", "mine")
    assert hook.accepted[1]["alerts"][0]["annotations"]["summary"].endswith("acknowledged by Li Lei via link")
    again = apig("POST", path, {"csrf": csrf_of(page), "name": "Han Meimei"})
    assert again["statusCode"] == 409
    assert "Already done by Li Lei" in again["body"]
    later = time.time() + 120  # the repeat is due: the acknowledgement holds it
    held = invoke({"pool_id": DEMO_POOL}, PlatformContext(), wall_clock=lambda: later)
    assert [d["status"] for d in held["deliveries"]] == ["acknowledged"]
    assert len(hook.accepted) == 2


@pytest.mark.parametrize("channel", ["feishu", "dingtalk", "wecom", "slack", "teams", "welink"])
def test_each_chat_channel_shows_the_action_links_where_its_service_reads_links(hook, channel):
    fire()
    record = hook.accepted[0]["alerts"][0]["record"]
    bare = {**record, "links": [link for link in record["links"] if link["name"] not in tokens.ACTIONS]}
    linked = with_links(Notification.of(bare), 1, base=BASE, key=KEY.encode(), now=time.time()).to_record()
    wanted = [link["url"] for link in linked["links"] if link["name"] in tokens.ACTIONS]
    parse = {
        "feishu": loopback.FeishuReceiver,
        "dingtalk": loopback.DingTalkReceiver,
        "wecom": loopback.WeComReceiver,
        "slack": loopback.SlackReceiver,
        "teams": loopback.TeamsReceiver,
        "welink": loopback.WeLinkReceiver,
    }[channel]
    shown = parse().linked_in(render(channel, linked, "en"))
    if channel == "welink":  # 500 characters: the links that still fit after the reasons
        assert set(shown) <= {link["url"] for link in linked["links"]}
        return
    assert [url for url in shown if url in wanted] == wanted
