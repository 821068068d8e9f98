"""WeLink and Microsoft Teams: escaping, size limits, rate-limit declarations, and their receivers."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from structlog.testing import CapturingLogger

from handler.channels import Channel, deliver, render
from handler.channels import teams as teams_format
from handler.channels import welink as welink_format
from handler.channels.message import summarize
from handler.channels.protocol import json_bytes
from tests.builders import (
    HOSTILE,
    context,
    critical_record,
    demo_record,
    hostile_record,
    logged,
    oversized_record,
    resolved_record,
)
from tests.receivers import Reply, TeamsReceiver, WeLinkReceiver


def welink_text(record: dict[str, Any], locale: str = "en") -> str:
    return str(render("welink", record, locale)["content"]["text"])


def teams_texts(payload: dict[str, Any]) -> list[str]:
    """Every text Teams renders from a card: TextBlock text, fact titles and values."""
    [attachment] = payload["attachments"]
    texts: list[str] = []
    for element in attachment["content"]["body"]:
        if element["type"] == "TextBlock":
            texts.append(element["text"])
        elif element["type"] == "FactSet":
            texts += [part for fact in element["facts"] for part in (fact["title"], fact["value"])]
    return texts


# --- rate limits (read by the pacing stage) ----------------------------------------------------------


def test_both_channels_declare_their_rate_limits():
    assert teams_format.RATE_LIMITS == ((4, 1.0), (60, 30.0))
    assert welink_format.RATE_LIMITS == ((1, 1.0), (20, 60.0))
    for limits in (teams_format.RATE_LIMITS, welink_format.RATE_LIMITS):
        assert all(isinstance(count, int) and count > 0 and seconds > 0 for count, seconds in limits)


# --- WeLink ----------------------------------------------------------------------------------------


def test_welink_text_leads_with_the_title_and_keeps_the_first_reasons():
    text = welink_text(demo_record())
    lines = text.split("\n")
    assert lines[0] == demo_record()["title"]
    assert "Master reason: RESPONSE_MISMATCH" in text
    assert "- [Major] network ACL: healthCheck destination port 80" in text
    assert welink_format.text_length(text) <= 500


@pytest.mark.parametrize(
    "build", [demo_record, critical_record, resolved_record, hostile_record, oversized_record]
)
@pytest.mark.parametrize("locale", ["en", "zh"])
def test_welink_text_is_1_to_500_characters_of_whole_lines(build, locale):
    record = build()
    text = welink_text(record, locale)
    assert 1 <= welink_format.text_length(text) <= 500
    head, items, rest = welink_format._lines(summarize(record, locale))
    whole = {*head, *items, *rest}
    for line in text.split("\n"):
        assert line in whole or re.fullmatch(r"(… and \d+ more|… 另有 \d+ 项)", line), f"a cut line: {line!r}"


def test_welink_oversized_record_says_how_many_items_were_left_out():
    record = oversized_record()
    text = welink_text(record)
    shown = sum(1 for item in record["check"]["failed_items"] if item["reason"] in text)
    match = re.search(r"… and (\d+) more", text)
    assert match
    assert int(match.group(1)) == 300 - shown
    assert text.split("\n")[0] == record["title"]


def test_welink_text_cannot_mention_anyone():
    payload = render("welink", hostile_record())
    text = payload["content"]["text"]
    assert "@" not in text
    assert "\uff20all" in text
    assert (payload["isAt"], payload["isAtAll"]) == (False, False)
    assert "atAccounts" not in payload


def test_welink_emoji_count_twice_towards_the_limit():
    record = demo_record()
    record["title"] = "\U0001f534" * 300  # 300 code points, 600 UTF-16 units
    text = welink_text(record)
    assert welink_format.text_length(text) <= 500


def test_welink_request_has_a_fresh_uuid_and_a_millisecond_timestamp_each_call():
    channel = Channel("welink", "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=t")
    payload = render("welink", demo_record())
    first = json.loads(welink_format.request(channel, payload, 1_800_000_000.5).body)
    second = json.loads(welink_format.request(channel, payload, 1_800_000_000.5).body)
    assert first["timeStamp"] == 1_800_000_000_500
    assert first["uuid"] != second["uuid"]
    assert first["messageType"] == "text"


@pytest.mark.parametrize(
    ("code", "error", "retried"),
    [
        ("58404", "WeLink code 58404: the robot does not exist", False),
        ("58601", "WeLink code 58601: WeLink rejected a parameter", False),
        ("58602", "WeLink code 58602: the robot is not enabled", False),
        ("58500", "WeLink code 58500: WeLink service error", True),
    ],
)
def test_welink_error_codes_become_clear_delivery_errors(code, error, retried):
    with WeLinkReceiver() as welink:
        welink.fail_with(*[Reply(200, {"code": code, "data": None, "message": "x"})] * 4)
        [delivery] = deliver(
            [(demo_record(), Channel("welink", welink.url))], context(max_attempts=2), CapturingLogger()
        )
    assert delivery["status"] == "failed"
    assert delivery["error"].startswith(error)
    assert delivery["attempts"] == (2 if retried else 1)


def test_welink_receiver_rejects_a_wrong_token_and_a_replayed_uuid():
    with WeLinkReceiver() as welink:
        wrong = Channel("welink", welink.url.replace(WeLinkReceiver.TOKEN, "0" * 32))
        [delivery] = deliver([(demo_record(), wrong)], context(), CapturingLogger())
        assert delivery["error"].startswith("WeLink code 58404")
        channel = Channel("welink", welink.url)
        request = welink_format.request(channel, render("welink", demo_record()), time.time())
        import requests  # noqa: PLC0415 - replaying one exact request by hand

        answers = [requests.post(request.url, data=request.body, timeout=5).json()["code"] for _ in range(2)]
    assert answers == ["0", "58601"]


def test_welink_token_never_reaches_a_log_line_or_a_delivery():
    log = CapturingLogger()
    with WeLinkReceiver() as welink:
        welink.fail_with(Reply(200, {"code": "58601", "message": f"bad token {WeLinkReceiver.TOKEN}"}))
        [delivery] = deliver([(demo_record(), Channel("welink", welink.url))], context(), log)
    dumped = json.dumps([logged(log), delivery])
    assert WeLinkReceiver.TOKEN not in dumped
    assert "token=***" in dumped


# --- Teams -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "colour"),
    [("critical", "Attention"), ("major", "Warning"), ("warning", "Warning"), ("info", "Accent")],
)
def test_teams_title_colour_follows_severity(severity, colour):
    record = demo_record()
    record["severity"] = severity
    title = render("teams", record)["attachments"][0]["content"]["body"][0]
    assert (title["color"], title["weight"]) == (colour, "Bolder")


def test_teams_resolved_is_green_and_facts_name_pool_master_and_standby():
    card = render("teams", resolved_record())["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Good"
    facts = next(element["facts"] for element in card["body"] if element["type"] == "FactSet")
    assert {"Master", "Standby", "Pool"} <= {fact["title"] for fact in facts}


def test_teams_card_lists_the_failed_check_items():
    texts = teams_texts(render("teams", demo_record()))
    assert "**Failed check items** (2)" in texts
    assert any("network ACL: healthCheck destination port 80" in text for text in texts)


def test_teams_cloud_text_cannot_format_link_list_or_mention():
    payload = render("teams", hostile_record())
    for text in teams_texts(payload):
        without_ours = re.sub(r"\*\*[^*]*\*\*", "", text)  # our own bold labels and tags
        assert not set(without_ours) & set("*`<>&~\\@|"), text
        assert "](" not in text
        assert not re.match(r"\s*([-+*]|\d+[.)])\s", text), text
    dumped = json.dumps(payload, ensure_ascii=False)
    assert "msteams" in dumped  # the width setting only
    assert "entities" not in dumped
    assert "\uff1cat id=all\uff1e" in dumped


def test_teams_a_reason_that_starts_like_a_list_stays_text():
    record = demo_record()
    record["master"]["name"] = "- not a list"
    record["check"]["failed_items"][0]["group"] = "1. first"
    texts = teams_texts(render("teams", record))
    assert any(text.startswith("\u2010 not a list") for text in texts)
    assert not any(re.match(r"\s*([-+*]|\d+[.)])\s", text) for text in texts)


def test_teams_trims_items_to_28kb():
    record = oversized_record()
    payload = render("teams", record)
    assert len(json_bytes(payload)) <= 28_000
    texts = "\n".join(teams_texts(payload))
    shown = sum(1 for item in record["check"]["failed_items"] if item["reason"] in texts)
    assert 0 < shown < 300
    match = re.search(r"… and (\d+) more", texts)
    assert match
    assert int(match.group(1)) == 300 - shown


def test_teams_hostile_record_still_renders_in_the_title():
    title = teams_texts(render("teams", hostile_record()))[0]
    assert "evil.example" in title
    assert HOSTILE[:2] not in title  # "**" became look-alikes


def test_teams_wrong_sig_is_rejected_and_not_retried():
    with TeamsReceiver() as teams:
        wrong = Channel("teams", teams.url.replace(TeamsReceiver.SIG, "forged"))
        [delivery] = deliver([(demo_record(), wrong)], context(), CapturingLogger())
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["error"].startswith("HTTP 401")


def test_teams_429_is_retried_after_retry_after():
    with TeamsReceiver() as teams:
        teams.fail_with(Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "0"}))
        [delivery] = deliver([(demo_record(), Channel("teams", teams.url))], context(), CapturingLogger())
        assert len(teams.accepted) == 1
    assert (delivery["status"], delivery["attempts"]) == ("sent", 2)


@pytest.mark.parametrize(
    ("body", "error", "retryable"),
    [
        ("", None, False),
        ("1", None, False),
        (
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429",
            "Teams answered",
            True,
        ),
        (
            '{"error": {"code": "TriggerInputSchemaMismatch", "message": "bad"}}',
            "Teams error TriggerInputSchemaMismatch",
            False,
        ),
    ],
)
def test_teams_judges_a_2xx_answer(body, error, retryable):
    verdict = teams_format.judge(body)
    assert verdict.error is None if error is None else verdict.error.startswith(error)
    assert verdict.retryable is retryable
