"""WeLink and Microsoft Teams: escaping, size limits, rate-limit declarations, and their receivers."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from structlog.testing import CapturingLogger

from handler import watcher_error
from handler.channels import Channel, deliver, render
from handler.channels import teams as teams_format
from handler.channels import welink as welink_format
from handler.channels.delivery import Unit, plan, send_units
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


# --- Teams: every card under 28 KB (the 202 comes before the flow could reject it) ---------------------

LIMIT = teams_format.MAX_BODY_BYTES
WIDE = "\U0001d54f"  # MATHEMATICAL DOUBLE-STRUCK X: four UTF-8 bytes, the most a character costs in the body
KEEP = {"schema", "status", "severity", "kind", "notification_reason", "operating_status", "group"}


def inflated(value: Any, key: str = "") -> Any:
    """Every free-text string of a record made 2,000 four-byte characters longer (the worst case)."""
    if isinstance(value, dict):
        return {k: inflated(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [inflated(v, key) for v in value]
    if isinstance(value, str) and key not in KEEP:
        return value + WIDE * 2000
    return value


def padded(size: int) -> dict[str, Any]:
    """A real card whose body is exactly `size` bytes (its footer TextBlock padded with ASCII)."""
    payload = render("teams", demo_record())
    footer = payload["attachments"][0]["content"]["body"][-1]
    footer["text"] += "x" * (size - len(json_bytes(payload)))
    assert len(json_bytes(payload)) == size
    return payload


def post_to_teams(payloads: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Send ready payloads through the real lane and transport to the loopback Teams receiver."""
    with TeamsReceiver() as teams:
        channel = Channel("teams", teams.url)
        units = [Unit(channel, ({"fingerprint": f"fp-{i}"},), payload) for i, payload in enumerate(payloads)]
        results = send_units(units, context(), CapturingLogger())
        return [entries[0] for entries in results], list(teams.accepted)


def test_teams_card_just_under_the_limit_is_posted_unchanged():
    payload = padded(LIMIT)
    assert teams_format.request(Channel("teams", "https://x"), payload, 0).body == json_bytes(payload)
    [delivery], [accepted] = post_to_teams([payload])
    assert delivery["status"] == "sent"
    assert accepted == payload
    assert teams_format.cut_note() not in json.dumps(accepted, ensure_ascii=False)


def test_teams_payload_one_byte_over_is_cut_to_fit_with_a_visible_note():
    payload = padded(LIMIT + 1)
    body = teams_format.request(Channel("teams", "https://x"), payload, 0).body
    assert len(body) <= LIMIT
    cut = json.loads(body)
    texts = teams_texts(cut)
    assert texts[-1] == teams_format.cut_note()
    assert "Failed check items" in "\n".join(texts)  # everything before the padded footer is kept
    assert texts[-2].endswith("…")  # the footer itself is cut, not dropped
    [delivery], [accepted] = post_to_teams([payload])
    assert delivery["status"] == "sent"
    assert accepted == cut


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": teams_format.CARD_CONTENT_TYPE,
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [{"type": "TextBlock", "text": WIDE * 300_000}],
                    },
                }
            ],
        },
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": teams_format.CARD_CONTENT_TYPE,
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "FactSet",
                                "facts": [{"title": f"t{i}", "value": "v" * 100} for i in range(2000)],
                            }
                        ],
                    },
                }
            ],
        },
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": teams_format.CARD_CONTENT_TYPE,
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [{"type": "Image", "url": "u" * 40_000}],
                    },
                }
            ],
        },
        {"text": "not a card " * 5000},
    ],
    ids=["one-huge-text", "many-facts", "huge-other-element", "no-card"],
)
def test_teams_any_oversized_payload_becomes_a_valid_card_under_28kb(payload):
    body = teams_format.request(Channel("teams", "https://x"), payload, 0).body
    assert len(body) <= LIMIT
    assert teams_texts(json.loads(body))[-1] == teams_format.cut_note()
    [delivery], [_accepted] = post_to_teams([payload])  # the receiver rejects > 28 KB with 413
    assert delivery["status"] == "sent"


def test_teams_cut_note_follows_the_locale():
    assert "28 KB" in teams_format.cut_note("en")
    assert "28 KB" in teams_format.cut_note("zh")
    assert teams_format.cut_note("zh") != teams_format.cut_note("en")


def test_teams_cut_never_leaves_bold_markup_open():
    # The cut lands inside our own bold label: the opener goes, the text stays.
    element = {"type": "TextBlock", "text": "plain **" + "a" * LIMIT + "** tail"}
    cut = teams_format.bounded(teams_format._envelope({**teams_format._empty_card(), "body": [element]}))
    [text, note] = teams_texts(dict(cut))
    assert text.startswith("plain aaa")
    assert text.endswith("a…")
    assert "**" not in text
    assert note == teams_format.cut_note()
    assert len(json_bytes(cut)) <= LIMIT


def _channels_test_record() -> dict[str, Any]:
    from handler.commands import sample_record  # noqa: PLC0415 - the record `channels test` sends

    return sample_record(time.time(), "cn-north-4")


def _watcher_error_record() -> dict[str, Any]:
    problem = watcher_error.WatcherProblem(
        "APIGW.0301",
        watcher_error.elb_scope(watcher_error.ELB_ACCESS, "cn-north-4", "p1"),
        "ShowMasterSlavePool: Authentication failed",
        401,
        "req-1",
    )
    return watcher_error.watcher_record(problem, region="cn-north-4", project_id="p" * 32, observed_at="now")


@pytest.mark.parametrize(
    "build",
    [
        lambda: oversized_record(3000),
        critical_record,
        resolved_record,
        _watcher_error_record,
        _channels_test_record,
    ],
    ids=["firing-3000-items", "critical", "resolved", "watcher-error", "channels-test"],
)
@pytest.mark.parametrize("locale", ["en", "zh"])
def test_teams_every_card_kind_fits_even_with_every_text_at_its_worst(build, locale):
    record = inflated(build())
    payload = render("teams", record, locale)
    assert len(json_bytes(payload)) <= LIMIT
    with TeamsReceiver() as teams:
        [delivery] = deliver(
            [(record, Channel("teams", teams.url))], context(locale=locale), CapturingLogger()
        )
        assert len(teams.accepted) == 1
    assert delivery["status"] == "sent"


def test_teams_storm_digests_all_fit_and_are_accepted():
    records = [inflated({**demo_record(), "fingerprint": f"fp{i:04d}"}) for i in range(60)]
    with TeamsReceiver() as teams:
        channel = Channel("teams", teams.url)
        units = plan(channel, records)
        assert len(units) > 1  # digests, split to the limit
        assert all(len(json_bytes(unit.payload)) <= LIMIT for unit in units if unit.payload is not None)
        results = send_units(units, context(seconds=30), CapturingLogger())
        assert len(teams.accepted) == len(units)
    assert {entry["status"] for entries in results for entry in entries} == {"sent"}


# --- Teams: a 202 is "accepted by the flow", and the delivery says so ---------------------------------


def test_teams_sent_delivery_says_202_means_accepted_by_the_flow():
    with TeamsReceiver() as teams:
        [delivery] = deliver([(demo_record(), Channel("teams", teams.url))], context(), CapturingLogger())
    assert delivery["status"] == "sent"
    assert delivery["note"] == teams_format.SENT_NOTE
    assert "accepted by the Teams workflow (HTTP 202)" in delivery["note"]
    assert "not proof it was posted" in delivery["note"]


def test_teams_failed_delivery_and_other_channels_carry_no_note():
    with TeamsReceiver() as teams, WeLinkReceiver() as welink:
        wrong = Channel("teams", teams.url.replace(TeamsReceiver.SIG, "forged"))
        failed, other = deliver(
            [(demo_record(), wrong), (demo_record(), Channel("welink", welink.url))],
            context(),
            CapturingLogger(),
        )
    assert failed["status"] == "failed"
    assert "note" not in failed
    assert other["status"] == "sent"
    assert "note" not in other
