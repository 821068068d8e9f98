"""Channel configuration from ELB_WATCH_* variables, URL redaction and the secrets handed to the scrubber."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handler.channels import (
    CHANNEL_NAMES,
    Channel,
    channel_secrets,
    configured_channels,
    narrow_channels,
    parse_topic_urn,
    shown_channel_url,
)
from handler.config import ConfigError

FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=b7a4c2e1f0d94c8e9a6b5d3c2e1f0a9b"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7a0c-4bc4-97a0-0ec2a1fa5aaa"
SLACK = "https://hooks.slack.com/services/T01234567/B01234567/AbCdEfGhIjKlMnOpQrStUvWx"
URN = "urn:smn:cn-north-4:04dd36f964000fe22f9ac00bc85b1a1d:elb-alerts"
WELINK = (
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send"
    "?token=a69f751172bb4a36abe5de9ddf9aa1cc&channel=standard"
)
TEAMS = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/4f1c7a2e9b3d4e5f8a6b0c1d2e3f4a5b/triggers/"
    "manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Xk3v9Q0aBcDeFgHiJk"
)
FULL_ENV = {
    "ELB_WATCH_SMN_TOPIC_URN": URN,
    "ELB_WATCH_FEISHU_WEBHOOK": FEISHU,
    "ELB_WATCH_FEISHU_SECRET": "feishu-signing-secret",
    "ELB_WATCH_DINGTALK_WEBHOOK": DINGTALK,
    "ELB_WATCH_DINGTALK_SECRET": "SECdingtalk-signing-secret",
    "ELB_WATCH_WECOM_WEBHOOK": WECOM,
    "ELB_WATCH_SLACK_WEBHOOK": SLACK,
    "ELB_WATCH_WEBHOOK_URL": "https://alerts.example.com/hooks/elb",
    "ELB_WATCH_WEBHOOK_SECRET": "webhook-hmac-secret",
    "ELB_WATCH_WELINK_WEBHOOK": WELINK,
    "ELB_WATCH_TEAMS_WEBHOOK": TEAMS,
    "ELB_WATCH_COC_INTEGRATION_KEY": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
}


def test_every_channel_is_read_from_its_variables_in_a_fixed_order():
    channels = configured_channels(FULL_ENV)
    assert [channel.name for channel in channels] == list(CHANNEL_NAMES)
    by_name = {channel.name: channel for channel in channels}
    assert by_name["smn"].topic_urn == URN
    assert by_name["feishu"].url == FEISHU
    assert by_name["feishu"].secret == "feishu-signing-secret"
    assert by_name["dingtalk"].secret == "SECdingtalk-signing-secret"
    assert by_name["webhook"].secret == "webhook-hmac-secret"
    assert by_name["slack"].secret == ""


def test_nothing_configured_means_no_channels():
    assert configured_channels({}) == []
    assert configured_channels({"ELB_WATCH_SLACK_WEBHOOK": "   "}) == []


def test_values_are_stripped():
    [channel] = configured_channels({"ELB_WATCH_SLACK_WEBHOOK": f"  {SLACK}\n"})
    assert channel.url == SLACK


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]:9000/hook",
        "https://example.com/x",
    ],
)
def test_https_or_loopback_http_is_accepted(url):
    assert configured_channels({"ELB_WATCH_WEBHOOK_URL": url})[0].url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/services/T01234567/B01234567/AbCdEfGhIjKlMnOpQrStUvWx",
        "ftp://example.com/x",
        "hooks.slack.com/services/x",
        "https:///no-host",
        "https://exa mple.com/x",
        "http://127.0.0.2/x",
        "https://example.com:99999/x",
    ],
)
def test_other_urls_are_rejected_naming_the_variable_without_echoing_the_value(url):
    with pytest.raises(ConfigError) as error:
        configured_channels({"ELB_WATCH_SLACK_WEBHOOK": url})
    message = str(error.value)
    assert "ELB_WATCH_SLACK_WEBHOOK" in message
    assert "AbCdEfGhIjKlMnOpQrStUvWx" not in message
    assert url not in message


def test_a_secret_without_its_webhook_is_a_mistake_and_is_not_echoed():
    with pytest.raises(ConfigError) as error:
        configured_channels({"ELB_WATCH_FEISHU_SECRET": "feishu-signing-secret"})
    assert "ELB_WATCH_FEISHU_SECRET" in str(error.value)
    assert "ELB_WATCH_FEISHU_WEBHOOK" in str(error.value)
    assert "feishu-signing-secret" not in str(error.value)


@pytest.mark.parametrize(
    "urn",
    [
        "urn:smn:cn-north-4:04dd36f964000fe22f9ac00bc85b1a1d",
        "urn:smn:cn-north-4::elb-alerts",
        "urn:sns:cn-north-4:04dd36f964000fe22f9ac00bc85b1a1d:elb-alerts",
        "arn:aws:sns:us-east-1:123456789012:topic",
        "urn:smn:cn-north-4:04dd36f964000fe22f9ac00bc85b1a1d:elb alerts",
    ],
)
def test_a_topic_urn_must_look_like_one(urn):
    with pytest.raises(ConfigError, match="ELB_WATCH_SMN_TOPIC_URN"):
        configured_channels({"ELB_WATCH_SMN_TOPIC_URN": urn})


def test_topic_urn_parts():
    assert parse_topic_urn(URN) == ("cn-north-4", "04dd36f964000fe22f9ac00bc85b1a1d", "elb-alerts")
    assert parse_topic_urn("urn:smn:ap-southeast-1:abc123:topic_1") == ("ap-southeast-1", "abc123", "topic_1")
    assert parse_topic_urn("urn:smn:cn-north-4:p") is None


def test_channel_repr_hides_url_and_secret():
    text = repr(configured_channels(FULL_ENV))
    for value in (FEISHU, "feishu-signing-secret", "5e3d587e", DINGTALK, "b7a4c2e1f0d9", SLACK, "AbCdEfGh"):
        assert value not in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (FEISHU, "https://open.feishu.cn/open-apis/bot/v2/hook/***"),
        (DINGTALK, "https://oapi.dingtalk.com/robot/send?access_token=***"),
        (WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"),
        (SLACK, "https://hooks.slack.com/services/***/***/***"),
        (
            "https://user:pa55word@relay.example.com:8443/in/elb?x=1&y=2#frag",
            "https://relay.example.com:8443/in/elb?x=***&y=***",
        ),
        ("http://[::1]:9000/hook", "http://[::1]:9000/hook"),
        ("not a url", "***"),
        ("https://example.com:bad/x", "***"),
    ],
)
def test_redacted_urls_keep_the_host_and_path_shape_but_no_token(url, shown):
    assert shown_channel_url(url) == shown


def test_channel_secrets_cover_secrets_whole_urls_and_url_tokens_longest_first():
    secrets = channel_secrets(configured_channels(FULL_ENV))
    for value in (
        "feishu-signing-secret",
        FEISHU,
        "5e3d587e-d78e-4a07-bd07-265f269f86fd",
        "b7a4c2e1f0d94c8e9a6b5d3c2e1f0a9b",
        "693a91f6-7a0c-4bc4-97a0-0ec2a1fa5aaa",
        "AbCdEfGhIjKlMnOpQrStUvWx",
        "webhook-hmac-secret",
    ):
        assert value in secrets
    assert [len(s) for s in secrets] == sorted((len(s) for s in secrets), reverse=True)
    # Ordinary words would blank every log line: short values and plain path names are left out.
    assert "hooks" not in secrets
    assert "open-apis" not in secrets
    assert all(len(secret) >= 8 for secret in secrets)


def test_channel_secrets_of_no_channels_is_empty():
    assert channel_secrets([]) == ()
    assert channel_secrets([Channel("smn", topic_urn=URN)]) == ()


def test_an_event_can_narrow_the_channels_but_not_add_one():
    channels = configured_channels(FULL_ENV)
    assert [c.name for c in narrow_channels(channels, ["feishu", "smn"])] == ["smn", "feishu"]
    only_slack = [c for c in channels if c.name == "slack"]
    assert narrow_channels(only_slack, ["feishu"]) == []
    with pytest.raises(ValueError, match="'pager'"):
        narrow_channels(channels, ["pager"])


def test_importing_the_channels_package_loads_neither_requests_nor_the_sdk():
    heavy = ("requests", "urllib3", "huaweicloudsdkcore", "huaweicloudsdksmn", "structlog")
    code = (
        "import sys, handler.channels; "
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_welink_token_and_teams_sig_are_secrets_but_their_public_parameters_are_not():
    secrets = channel_secrets(configured_channels(FULL_ENV))
    assert "a69f751172bb4a36abe5de9ddf9aa1cc" in secrets
    assert "Xk3v9Q0aBcDeFgHiJk" in secrets
    assert "4f1c7a2e9b3d4e5f8a6b0c1d2e3f4a5b" in secrets  # the workflow id in the path
    assert not {"standard", "2016-06-01", "/triggers/manual/run"} & set(secrets)
    assert shown_channel_url(WELINK) == (
        "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=***&channel=***"
    )
