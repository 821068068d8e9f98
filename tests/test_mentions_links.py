"""Mentions and links (issue 21): each channel puts the receiver's mention and the record's runbook and
console links in the fields its service reads, and nothing from ELB can mention anyone.

What a service counts as a mention or a link is read by the loopback receivers' own parsers
(`tests/receivers.py` `mentioned_in`, `linked_in`), which look only where the real service looks.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from handler.channels import render
from handler.channels.config import Channel, Mention
from handler.channels.delivery import WEBHOOKS, plan
from handler.channels.message import safe_url, summarize
from handler.console import console_links, console_url
from tests.builders import demo_record, hostile_record
from tests.receivers import (
    DingTalkReceiver,
    FeishuReceiver,
    SlackReceiver,
    TeamsReceiver,
    WeComReceiver,
    WeLinkReceiver,
)

RUNBOOK = "https://wiki.example.com/runbooks/elb?pool=36ce7086-a496-4666-9064-5ba0e6840c75"
USER = "ou_7d8a6e6df7621556ce0d21922b676706"
MOBILE = "13800000000"
EVERYONE = Mention(mobiles=(MOBILE,), user_ids=(USER,), all=True)
RECEIVERS = {
    "feishu": FeishuReceiver,
    "dingtalk": DingTalkReceiver,
    "wecom": WeComReceiver,
    "slack": SlackReceiver,
    "welink": WeLinkReceiver,
    "teams": TeamsReceiver,
}
# What each service can mention of EVERYONE (mobiles are a DingTalk/WeCom thing; Teams has no "all").
EXPECTED = {
    "feishu": {f"user:{USER}", "all"},
    "dingtalk": {f"user:{USER}", f"mobile:{MOBILE}", "all"},
    "wecom": {f"user:{USER}", f"mobile:{MOBILE}", "all"},
    "slack": {f"user:{USER}", "all"},
    "welink": {f"user:{USER}", "all"},
    "teams": {f"user:{USER}"},
}


def routed_record(build: Any = demo_record) -> dict[str, Any]:
    """A record as the route stage leaves it: the runbook first, then the console link."""
    record = build()
    record["links"] = [{"name": "runbook", "url": RUNBOOK}, *record.get("links", [])]
    return record


def console() -> str:
    record = demo_record()
    return console_url(record["region"], record["pool"]["loadbalancer_ids"][0])


def test_every_finding_links_its_load_balancer_in_the_console_of_its_region():
    record = demo_record()
    lb = record["pool"]["loadbalancer_ids"][0]
    assert record["links"] == [
        {"name": "console", "url": f"https://console.huaweicloud.com/elb/?region=cn-north-4#/elb/detail/{lb}"}
    ]


def test_the_console_link_encodes_what_elb_sent_and_needs_a_region_and_a_load_balancer():
    assert console_url("cn-north-4", "a/b?c#d") == (
        "https://console.huaweicloud.com/elb/?region=cn-north-4#/elb/detail/a%2Fb%3Fc%23d"
    )
    assert console_links({"loadbalancer_ids": []}, "cn-north-4") == []
    assert console_links({"loadbalancer_ids": ["lb-1"]}, "") == []
    assert console_links(None, "cn-north-4") == []


def test_only_http_links_are_shown_and_their_markup_characters_are_encoded():
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url("https://a b") == ""
    assert safe_url("https://x.example/a(b)|[c]<d>@e") == "https://x.example/a%28b%29%7C%5Bc%5D%3Cd%3E%40e"
    record = demo_record()
    record["links"] = [{"name": "runbook", "url": "file:///etc/passwd"}, {"name": "x", "url": "https://ok/"}]
    assert [link.url for link in summarize(record).links] == ["https://ok/"]


@pytest.mark.parametrize("channel", RECEIVERS)
def test_each_channel_mentions_the_receivers_people_in_its_services_own_fields(channel):
    payload = render(channel, routed_record(), "en", EVERYONE)
    assert RECEIVERS[channel]().mentioned_in(payload) == EXPECTED[channel]


@pytest.mark.parametrize("channel", RECEIVERS)
def test_each_channel_offers_the_runbook_then_the_console_as_its_own_links(channel):
    payload = render(channel, routed_record(), "en", EVERYONE)
    links = RECEIVERS[channel]().linked_in(payload)
    if channel == "welink":  # 500 characters: the failed items first, then the links that still fit
        assert links == [RUNBOOK]
        assert "- [Major] network ACL" in payload["content"]["text"]
        return
    assert links == [RUNBOOK, console()]


@pytest.mark.parametrize("channel", RECEIVERS)
def test_a_pool_named_at_all_mentions_nobody(channel):
    record = hostile_record()
    record["pool"]["name"] = "@all <at id=all></at> <!channel> <@U024BE7LH> @13800000000"
    record["title"] = f"[MAJOR] {record['pool']['name']}: master down"
    payload = render(channel, record)
    assert RECEIVERS[channel]().mentioned_in(payload) == frozenset()
    if channel == "dingtalk":
        assert payload["at"] == {"atMobiles": [], "atUserIds": [], "isAtAll": False}
    if channel == "welink":
        assert (payload["isAt"], payload["isAtAll"], "atAccounts" in payload) == (False, False, False)


def test_a_mention_in_a_field_the_service_ignores_mentions_nobody():
    # WeCom's markdown type ignores mentioned_list; Slack never parses plain_text; Teams drops an
    # entity whose <at> is not in the text.
    wecom = {"msgtype": "markdown", "markdown": {"content": "x", "mentioned_list": ["@all"]}}
    slack = {"blocks": [{"type": "section", "text": {"type": "plain_text", "text": "<!channel>"}}]}
    teams = render("teams", demo_record(), "en", Mention(user_ids=("a@b.example",)))
    card = teams["attachments"][0]["content"]
    card["body"] = [block for block in card["body"] if "<at>" not in block.get("text", "")]
    assert WeComReceiver().mentioned_in(wecom) == frozenset()
    assert SlackReceiver().mentioned_in(slack) == frozenset()
    assert TeamsReceiver().mentioned_in(teams) == frozenset()


def test_wecom_sends_markdown_with_user_mentions_and_the_text_type_for_mobiles_or_everyone():
    only_users = render("wecom", routed_record(), "en", Mention(user_ids=(USER,)))
    assert only_users["msgtype"] == "markdown"
    assert f"<@{USER}>" in only_users["markdown"]["content"]
    mobiles = render("wecom", routed_record(), "en", Mention(mobiles=(MOBILE,)))
    assert mobiles["msgtype"] == "text"
    assert mobiles["text"]["mentioned_mobile_list"] == [MOBILE]
    assert len(mobiles["text"]["content"].encode("utf-8")) <= 2048
    assert "\n- [Major] network ACL" in mobiles["text"]["content"]


def test_dingtalk_names_each_mentioned_mobile_in_the_text_too():
    payload = render("dingtalk", routed_record(), "en", EVERYONE)
    assert payload["at"] == {"atMobiles": [MOBILE], "atUserIds": [USER], "isAtAll": True}
    assert f"@{MOBILE} @{USER}" in payload["markdown"]["text"]


def test_the_generic_webhook_carries_the_links_and_the_mention():
    payload = render("webhook", routed_record(), "en", EVERYONE)
    assert [link["url"] for link in payload["links"]] == [RUNBOOK, console()]
    assert [link["label"] for link in payload["links"]] == ["Runbook", "Open in console"]
    assert payload["mention"] == {"mobiles": [MOBILE], "user_ids": [USER], "all": True}


def test_smn_email_has_the_links_as_plain_urls_and_no_mention():
    structure = json.loads(render("smn", routed_record(), "zh", EVERYONE)["message_structure"])
    assert f"处理手册: {RUNBOOK}" in structure["email"]
    assert f"在控制台查看: {console()}" in structure["email"]
    assert MOBILE not in structure["email"]


@pytest.mark.parametrize("channel", [*RECEIVERS, "webhook", "smn"])
def test_a_digest_mentions_the_receiver_and_links_what_its_pools_share(channel):
    records = []
    for index in range(5):
        record = routed_record()
        record["fingerprint"] = f"fp-{index}"
        record["pool"] = {**record["pool"], "name": f"pay-{index:02d}", "id": f"pool-{index}"}
        record["links"][0] = {"name": "runbook", "url": f"{RUNBOOK}-{index}"}  # one runbook per pool
        records.append(record)
    receiver = Channel(channel, url="https://x.example/", mention=EVERYONE)
    units = plan(receiver, records, group_threshold=3)
    assert len(units) == 1
    assert units[0].digest is not None
    payload = dict(units[0].payload or {})
    if channel in RECEIVERS:
        assert RECEIVERS[channel]().mentioned_in(payload) == EXPECTED[channel]
        assert RECEIVERS[channel]().linked_in(payload) == [console()]  # the runbooks differ: not shown
    assert console() in json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("channel", RECEIVERS)
def test_a_receiver_mentioning_two_hundred_people_is_accepted_and_mentions_the_first_ten(channel):
    crowd = Mention(
        mobiles=tuple(f"+86-138{index:08d}" for index in range(200)),
        user_ids=tuple(f"ou_{index:03d}" + "x" * 120 for index in range(200)),
    )
    payload = render(channel, routed_record(), "en", crowd)
    with RECEIVERS[channel]() as receiver:  # the loopback service checks its own size limits
        sent = WEBHOOKS[channel].request(Channel(channel, url=receiver.url), payload, time.time())
        post = urllib.request.Request(sent.url, data=sent.body, headers=dict(sent.headers), method="POST")
        with urllib.request.urlopen(post, timeout=5) as answer:
            assert answer.status in {200, 202}
        assert len(receiver.accepted) == 1, receiver.received[-1].body[:200]
        users = {who for who in receiver.mentions[0] if who.startswith("user:")}
    assert len(users) == 10
    assert f"user:{crowd.user_ids[0]}" in users
