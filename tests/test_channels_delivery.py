"""Delivery against loopback receivers: signatures, the services' error codes, retries, the deadline.

Everything runs for real: `requests` over HTTP to 127.0.0.1, and the official SMN SDK signing its
PublishMessage for a loopback SMN endpoint (HUAWEICLOUD_SDK_REGION_SMN_<REGION>). Nothing is patched.
"""

from __future__ import annotations

import json
import socket
import time
from email.utils import formatdate
from typing import Any

import pytest
from structlog.testing import CapturingLogger

from handler.channels import Channel, DeliveryContext, channel_secrets, configured_channels, deliver, teams
from handler.config import Credentials
from tests.builders import PROJECT, SMN_AK, SMN_SK, context, demo_record, logged, resolved_record
from tests.receivers import (
    DingTalkReceiver,
    FeishuReceiver,
    Receivers,
    Reply,
    SlackReceiver,
    WebhookReceiver,
    WeComReceiver,
    running_receivers,
)

SECRET = "SEC-loopback-signing-secret-42"


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch):
    with running_receivers(secret=SECRET, smn_ak=SMN_AK, smn_sk=SMN_SK) as started:
        for name, value in started.smn.env().items():
            monkeypatch.setenv(name, value)
        yield started


def channels_of(receivers: Receivers, *names: str) -> list[Channel]:
    channels = configured_channels(receivers.env())
    return [channel for channel in channels if not names or channel.name in names]


def send(
    channels: list[Channel], ctx: DeliveryContext, record: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    record = record or demo_record()
    return deliver([(record, channel) for channel in channels], ctx, CapturingLogger())


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- every channel, signed, accepted ---------------------------------------------------------------


def test_every_channel_delivers_a_signed_message_its_receiver_accepts(receivers):
    channels = channels_of(receivers)
    deliveries = send(channels, context())
    assert [d["channel"] for d in deliveries] == [
        "smn",
        "feishu",
        "dingtalk",
        "wecom",
        "slack",
        "webhook",
        "welink",
        "teams",
    ]
    for delivery in deliveries:
        # Teams' 202 only says its workflow accepted the card: that delivery says so.
        note = {"note": teams.SENT_NOTE} if delivery["channel"] == "teams" else {}
        assert delivery == {
            "fingerprint": "5408d300053a714a",
            "channel": delivery["channel"],
            "receiver": delivery["channel"],
            "status": "sent",
            "attempts": 1,
            "error": None,
            **note,
        }
    for receiver in receivers.all():
        assert len(receiver.accepted) == 1, type(receiver).__name__
    feishu = receivers.feishu.accepted[0]
    assert {"timestamp", "sign"} <= feishu.keys()
    assert feishu["card"]["header"]["template"] == "orange"
    dingtalk_query = receivers.dingtalk.received[0].query
    assert {"timestamp", "sign", "access_token"} <= dingtalk_query.keys()
    assert receivers.webhook.received[0].headers["x-signature"].startswith("sha256=")
    assert receivers.webhook.accepted[0]["alerts"][0]["record"]["fingerprint"] == "5408d300053a714a"
    smn = receivers.smn.accepted[0]
    assert smn["subject"].startswith("[MAJOR] web-pool")
    assert json.loads(smn["message_structure"])["default"].startswith("[MAJOR] web-pool")


def test_a_resolved_record_is_delivered_too(receivers):
    deliveries = send(channels_of(receivers, "feishu", "slack"), context(), resolved_record())
    assert [d["status"] for d in deliveries] == ["sent", "sent"]
    assert receivers.feishu.accepted[0]["card"]["header"]["template"] == "green"


def test_an_unsigned_robot_is_accepted_when_it_has_no_secret():
    with FeishuReceiver() as feishu, DingTalkReceiver() as dingtalk, WebhookReceiver() as webhook:
        channels = [
            Channel("feishu", feishu.url),
            Channel("dingtalk", dingtalk.url),
            Channel("webhook", webhook.url),
        ]
        deliveries = send(channels, context())
        assert [d["status"] for d in deliveries] == ["sent"] * 3
        assert "sign" not in feishu.accepted[0]
        assert "sign" not in dingtalk.received[0].query
        assert "x-signature" not in webhook.received[0].headers


@pytest.mark.parametrize(
    ("name", "rejection"),
    [("feishu", "Feishu code 19021"), ("dingtalk", "DingTalk errcode 310000"), ("webhook", "HTTP 401")],
)
def test_a_wrong_secret_is_rejected_the_way_the_service_does_and_not_retried(receivers, name, rejection):
    [channel] = channels_of(receivers, name)
    wrong = Channel(channel.name, channel.url, "SEC-not-the-right-secret")
    [delivery] = send([wrong], context())
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["error"].startswith(rejection)


@pytest.mark.parametrize(
    ("name", "rejection"), [("feishu", "Feishu code 19021"), ("dingtalk", "DingTalk errcode 310000")]
)
def test_a_signature_older_than_an_hour_is_rejected(receivers, name, rejection):
    two_hours_ago = lambda: time.time() - 7200  # noqa: E731 - a clock is a function
    [delivery] = send(channels_of(receivers, name), context(wall_clock=two_hours_ago))
    assert delivery["status"] == "failed"
    assert delivery["error"].startswith(rejection)


# --- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["feishu", "dingtalk", "wecom", "slack", "webhook", "smn"])
def test_500_twice_then_200_is_sent_on_the_third_attempt(receivers, name):
    receiver = getattr(receivers, name)
    receiver.fail_with(Reply(500, "boom"), Reply(500, "boom"))
    [delivery] = send(channels_of(receivers, name), context())
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 3
    assert len(receiver.received) == 3


def test_429_with_retry_after_waits_that_long_then_sends(receivers):
    receivers.slack.fail_with(Reply(429, "rate_limited", {"Retry-After": "1"}))
    started = time.monotonic()
    [delivery] = send(channels_of(receivers, "slack"), context())
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 2
    first, second = receivers.slack.received
    assert 0.9 <= second.at - first.at < 2.5
    assert time.monotonic() - started < 3


def test_retry_after_as_an_http_date_is_honoured():
    waits: list[float] = []
    now = 1_800_000_000.0
    with WeComReceiver() as wecom:
        wecom.fail_with(Reply(503, "busy", {"Retry-After": formatdate(now + 30, usegmt=True)}))
        ctx = context(60, wall_clock=lambda: now, sleep=waits.append)
        [delivery] = send([Channel("wecom", wecom.url)], ctx)
    assert delivery["status"] == "sent"
    assert waits == [pytest.approx(30, abs=1)]


def test_a_retry_after_past_the_deadline_gives_up_at_once(receivers):
    receivers.feishu.fail_with(Reply(429, "slow down", {"Retry-After": "30"}))
    started = time.monotonic()
    [delivery] = send(channels_of(receivers, "feishu"), context(2))
    assert time.monotonic() - started < 1
    assert delivery["status"] == "throttled"  # owed to the next run, not a permanent failure
    assert delivery["attempts"] == 1
    assert "HTTP 429" in delivery["error"]
    assert "past the deadline" in delivery["error"]


@pytest.mark.parametrize("name", ["wecom", "smn"])
def test_a_receiver_that_hangs_fails_within_the_deadline(receivers, name):
    getattr(receivers, name).fail_with(Reply(delay=10))
    started = time.monotonic()
    [delivery] = send(channels_of(receivers, name), context(1.0))
    elapsed = time.monotonic() - started
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert elapsed < 1.5
    assert any(word in delivery["error"] for word in ("no answer", "deadline")), delivery["error"]


@pytest.mark.parametrize(
    ("name", "reply", "error"),
    [
        (
            "feishu",
            Reply(200, {"code": 9499, "msg": "Bad Request", "data": {}}),
            "Feishu code 9499: Bad Request",
        ),
        ("slack", Reply(200, "not ok"), "Slack answered 'not ok' instead of 'ok'"),
        ("slack", Reply(410, "channel_is_archived"), "HTTP 410: channel_is_archived"),
        ("feishu", Reply(200, "<html>gateway</html>"), "Feishu answered something that is not JSON"),
    ],
)
def test_an_error_in_the_answer_fails_the_delivery_without_retrying(receivers, name, reply, error):
    getattr(receivers, name).fail_with(reply)
    [delivery] = send(channels_of(receivers, name), context())
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["error"].startswith(error)


@pytest.mark.parametrize(
    ("name", "reply", "error"),
    [
        (
            "feishu",
            Reply(200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}),
            "Feishu code 11232",
        ),
        ("dingtalk", Reply(200, {"errcode": 130101, "errmsg": "send too fast"}), "DingTalk errcode 130101"),
        ("wecom", Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"}), "WeCom errcode 45009"),
    ],
)
def test_a_throttle_answer_is_owed_not_failed_and_not_retried_at_once(receivers, name, reply, error):
    # Retrying a throttled robot at once only extends the throttle (DingTalk holds it 10 minutes).
    getattr(receivers, name).fail_with(reply)
    [delivery] = send(channels_of(receivers, name), context())
    assert delivery["status"] == "throttled"
    assert delivery["attempts"] == 1
    assert delivery["error"].startswith(error)
    assert "owed to the next run" in delivery["error"]
    assert len(getattr(receivers, name).received) == 1


def test_a_failing_channel_does_not_cost_another_its_message(receivers):
    receivers.slack.fail_with(*[Reply(500, "rollup_error")] * 10)
    deliveries = send(channels_of(receivers, "feishu", "slack"), context(max_attempts=4))
    assert deliveries[0]["status"] == "sent"
    assert deliveries[1]["status"] == "failed"
    assert deliveries[1]["attempts"] == 4
    assert deliveries[1]["error"] == "HTTP 500: rollup_error (after 4 attempts)"


def test_all_channels_down_at_once_every_delivery_fails_inside_the_deadline(monkeypatch):
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_SMN_CN_NORTH_4", base)
    env = {
        "ELB_WATCH_SMN_TOPIC_URN": f"urn:smn:cn-north-4:{PROJECT}:elb-alerts",
        "ELB_WATCH_FEISHU_WEBHOOK": base + "/open-apis/bot/v2/hook/" + FeishuReceiver.TOKEN,
        "ELB_WATCH_FEISHU_SECRET": SECRET,
        "ELB_WATCH_DINGTALK_WEBHOOK": base + "/robot/send?access_token=" + DingTalkReceiver.TOKEN,
        "ELB_WATCH_WECOM_WEBHOOK": base + "/cgi-bin/webhook/send?key=" + WeComReceiver.KEY,
        "ELB_WATCH_SLACK_WEBHOOK": base + SlackReceiver.PATH,
        "ELB_WATCH_WEBHOOK_URL": base + WebhookReceiver.PATH,
    }
    channels = configured_channels(env)
    started = time.monotonic()
    log = CapturingLogger()
    deliveries = deliver([(demo_record(), channel) for channel in channels], context(3), log)
    logs = logged(log)
    assert time.monotonic() - started < 3.2
    assert [d["status"] for d in deliveries] == ["failed"] * 6
    for delivery in deliveries:
        assert delivery["attempts"] >= 1
        assert "connection refused" in delivery["error"] or "cannot reach" in delivery["error"]
    assert len([entry for entry in logs if entry["log_level"] == "warning"]) == 6
    dumped = json.dumps([logs, deliveries], default=str)
    for secret in channel_secrets(channels):
        assert secret not in dumped


def test_channels_are_sent_concurrently(receivers):
    receivers.feishu.fail_with(Reply(200, {"code": 0, "msg": "success"}, delay=1.0))
    receivers.dingtalk.fail_with(Reply(200, {"errcode": 0, "errmsg": "ok"}, delay=1.0))
    started = time.monotonic()
    deliveries = send(channels_of(receivers, "feishu", "dingtalk"), context())
    assert [d["status"] for d in deliveries] == ["sent", "sent"]
    assert time.monotonic() - started < 1.8


def test_no_time_left_skips_every_delivery_without_sending(receivers):
    log = CapturingLogger()
    deliveries = deliver(
        [(demo_record(), channel) for channel in channels_of(receivers)],
        context(-1),
        log,
    )
    logs = logged(log)
    assert {d["status"] for d in deliveries} == {"deferred"}
    assert {d["attempts"] for d in deliveries} == {0}
    assert all(not receiver.received for receiver in receivers.all())
    assert [entry["event"] for entry in logs] == ["delivery.deferred"] * 8  # not tried: not a failure
    assert {entry["status"] for entry in logs} == {"deferred"}


def test_one_warning_per_failed_delivery_and_a_debug_line_per_sent_one(receivers):
    receivers.wecom.fail_with(Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    log = CapturingLogger()
    deliver(
        [(demo_record(), channel) for channel in channels_of(receivers, "feishu", "wecom", "smn")],
        context(),
        log,
    )
    logs = logged(log)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    debugs = [entry for entry in logs if entry["log_level"] == "debug"]
    assert [(w["event"], w["channel"]) for w in warnings] == [("delivery.failed", "wecom")]
    assert warnings[0]["url"] == f"{receivers.wecom.base}/cgi-bin/webhook/send?key=***"
    assert warnings[0]["error"].startswith("WeCom errcode 93000")
    assert sorted(d["channel"] for d in debugs) == ["feishu", "smn"]
    assert next(d for d in debugs if d["channel"] == "smn")["topic_urn"] == receivers.smn.topic_urn


def test_webhook_tokens_and_secrets_never_reach_a_log_line_or_a_delivery(receivers):
    channels = channels_of(receivers)
    secrets = channel_secrets(channels)
    assert FeishuReceiver.TOKEN in secrets
    assert SECRET in secrets
    # A service that quotes the token back in its error, and one that fails at the transport.
    receivers.feishu.fail_with(Reply(200, {"code": 19001, "msg": f"token {FeishuReceiver.TOKEN} invalid"}))
    receivers.dingtalk.fail_with(*[Reply(500, f"access_token={DingTalkReceiver.TOKEN} {SECRET}")] * 4)
    refused = Channel("slack", f"http://127.0.0.1:{closed_port()}{SlackReceiver.PATH}")
    log = CapturingLogger()
    deliveries = deliver([(demo_record(), channel) for channel in [*channels, refused]], context(), log)
    logs = logged(log)
    assert {d["status"] for d in deliveries} == {"sent", "failed"}
    assert "***" in deliveries[1]["error"]
    dumped = json.dumps([logs, deliveries], default=str)
    for secret in (*secrets, *channel_secrets([refused])):
        assert secret not in dumped
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in dumped


def test_nothing_to_send_returns_nothing():
    assert deliver([], context(), CapturingLogger()) == []


def test_a_broken_logger_or_unknown_channel_does_not_raise(receivers):
    class BrokenLog:
        def warning(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("log sink down")

        debug = warning

    jobs = [
        (demo_record(), Channel("pager", "https://example.com/x")),
        (demo_record(), channels_of(receivers, "wecom")[0]),
    ]
    deliveries = deliver(jobs, context(), BrokenLog())
    assert deliveries[0]["status"] == "failed"
    assert deliveries[0]["error"] == "unknown channel 'pager'"
    assert deliveries[1]["status"] == "sent"


# --- SMN through the official SDK ------------------------------------------------------------------


def test_smn_uses_the_security_token_when_the_credentials_have_one(receivers):
    credentials = Credentials(SMN_AK, SMN_SK, "temporary-security-token-value")
    [delivery] = send(channels_of(receivers, "smn"), context(credentials=credentials))
    assert delivery["status"] == "sent"
    assert receivers.smn.received[0].headers["x-security-token"] == "temporary-security-token-value"


def test_smn_publishes_with_the_topic_urns_project_whatever_the_invocation_watches(receivers):
    [delivery] = send(channels_of(receivers, "smn"), context(project_id="0123456789abcdef0123456789abcdef"))
    assert delivery["status"] == "sent"
    assert receivers.smn.received[0].headers["x-project-id"] == PROJECT


def test_smn_rejects_a_wrong_secret_key_like_the_api_gateway(receivers):
    [delivery] = send(
        channels_of(receivers, "smn"), context(credentials=Credentials(SMN_AK, "wrong-secret-key-000000"))
    )
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["error"].startswith("SMN APIGW.0301 (HTTP 401")
    assert "signature does not match" in delivery["error"]


def test_smn_answer_without_a_message_id_fails_and_is_not_published_twice(receivers):
    receivers.smn.fail_with(Reply(200, b"{not json"))
    [delivery] = send(channels_of(receivers, "smn"), context())
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert len(receivers.smn.received) == 1


def test_smn_429_is_retried(receivers):
    receivers.smn.fail_with(Reply(429, {"error_code": "APIGW.0308", "error_msg": "throttled"}))
    [delivery] = send(channels_of(receivers, "smn"), context())
    assert delivery == {**delivery, "status": "sent", "attempts": 2}


def test_smn_without_credentials_fails_without_trying(receivers):
    [delivery] = send(channels_of(receivers, "smn"), context(credentials=None))
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 0
    assert "no credentials" in delivery["error"]
    assert not receivers.smn.received


def test_smn_in_a_region_the_sdk_does_not_know_names_the_override_variable():
    channel = Channel("smn", topic_urn=f"urn:smn:xx-nowhere-9:{PROJECT}:elb-alerts")
    [delivery] = send([channel], context())
    assert delivery["status"] == "failed"
    assert "HUAWEICLOUD_SDK_REGION_SMN_XX_NOWHERE_9" in delivery["error"]


def test_through_the_production_log_chain_a_line_carries_no_token(receivers, capsys):
    from handler import logs  # noqa: PLC0415 - loads structlog, as an invocation does

    channels = channels_of(receivers)
    receivers.feishu.fail_with(Reply(200, {"code": 19001, "msg": "incoming webhook access token invalid"}))
    logs.configure(stream="stdout", level="debug", console=False)
    logs.set_secrets(channel_secrets(channels))
    try:
        deliveries = deliver([(demo_record(), channel) for channel in channels], context(), logs.logger())
    finally:
        logs.set_secrets(())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines].count("delivery.failed") == 1
    assert [line["event"] for line in lines].count("delivery.sent") == 7
    assert [d["status"] for d in deliveries].count("sent") == 7
    output = json.dumps(lines)
    for secret in channel_secrets(channels):
        assert secret not in output
