"""Per-channel renderers: golden payloads, hostile cloud text, and size limits under oversized records.

Goldens live in tests/golden/<channel>_<case>.json. After an intended change of a renderer, rewrite
them with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_channels_render.py` and review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from handler import lifecycle, watcher_error
from handler.channels import render
from handler.channels import smn as smn_format
from handler.channels import webhook as webhook_format
from handler.channels.config import Mention
from handler.channels.message import summarize
from handler.channels.protocol import json_bytes
from tests.builders import (
    ACL_PORT,
    critical_record,
    demo_record,
    hostile_record,
    oversized_record,
    pool_records,
    resolved_record,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
OBSERVED = "2026-03-02T08:15:00Z"
T_FIRST = 1_772_438_100.0  # 2026-03-02T07:55:00Z
CHANNELS = ("feishu", "dingtalk", "wecom", "slack", "webhook", "smn", "welink", "teams", "coc")


def watcher_error_record(locale: str = "en") -> dict[str, Any]:
    """The watcher_error a run with rejected credentials notifies (handler.watcher_error, fixed time)."""
    problem = watcher_error.WatcherProblem(
        "APIGW.0301",
        watcher_error.elb_scope(watcher_error.ELB_ACCESS, "cn-north-4", "04dd36f964000fe22f9ac00bc85b1a1d"),
        "ShowMasterSlavePool: Authentication failed: the request signature does not match",
        401,
        "8f1c2a7e-4b6d-4e0a-9c3f-2d5b7a1e6f90",
        "cn-north-4",
        "04dd36f964000fe22f9ac00bc85b1a1d",
    )
    record = watcher_error.watcher_record(
        problem,
        region="cn-north-4",
        project_id="04dd36f964000fe22f9ac00bc85b1a1d",
        observed_at=OBSERVED,
        locale=locale,
    )
    record["notification_reason"] = "first"
    return record


def watcher_resolved_record() -> dict[str, Any]:
    """The resolved notice of that watcher_error, ten minutes later."""
    return lifecycle.resolved_record(
        watcher_error_record(),
        first_seen=T_FIRST,
        back_at=T_FIRST + 600,
        last_seen=T_FIRST + 540,
        now=T_FIRST + 660,
        checks=2,
    )


CASES = {
    "watcher_error": (watcher_error_record, "en"),
    "watcher_error_zh": (lambda: watcher_error_record("zh"), "zh"),
    "watcher_resolved": (watcher_resolved_record, "en"),
    "major": (demo_record, "en"),
    "major_zh": (demo_record, "zh"),
    "critical": (critical_record, "en"),
    "resolved": (resolved_record, "en"),
    "hostile": (hostile_record, "en"),
}


def readable(channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored in a golden: SMN's nested JSON strings decoded so diffs are readable."""
    if channel != "smn":
        return payload
    structure = json.loads(payload["message_structure"])
    for key in smn_format.MACHINE_PROTOCOLS:
        if key in structure:
            structure[key] = json.loads(structure[key])
    return {"subject": payload["subject"], "message_structure": structure}


def assert_golden(name: str, payload: dict[str, Any]) -> None:
    """Compare with tests/golden/<name>.json, or rewrite it when UPDATE_GOLDEN=1."""
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden {path.name}: run UPDATE_GOLDEN=1 pytest {Path(__file__).name}"
    assert payload == json.loads(path.read_text(encoding="utf-8")), f"{path.name} differs"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_payload_matches_golden(channel, case):
    build, locale = CASES[case]
    assert_golden(f"{channel}_{case}", readable(channel, render(channel, build(), locale)))


ROUTED_MENTION = Mention(
    mobiles=("13800000000",), user_ids=("ou_7d8a6e6df7621556ce0d21922b676706",), all=True
)


@pytest.mark.parametrize("channel", CHANNELS)
def test_routed_payload_with_mentions_and_runbook_matches_golden(channel):
    record = demo_record()
    runbook = {
        "name": "runbook",
        "url": "https://wiki.example.com/runbooks/elb?pool=36ce7086&region=cn-north-4",
    }
    record["links"] = [runbook, *record["links"]]
    payload = render(channel, record, "en", ROUTED_MENTION)
    assert_golden(f"{channel}_routed", readable(channel, payload))


@pytest.mark.parametrize("channel", CHANNELS)
def test_rendering_is_pure_and_leaves_the_record_alone(channel):
    record = critical_record()
    before = copy.deepcopy(record)
    assert render(channel, record) == render(channel, record)
    assert record == before


# --- escaping --------------------------------------------------------------------------------------

ENTITY = re.compile(r"&(#\d+|lt|gt|amp);")


OUR_LINKS = re.compile(r"\[[^\]\[()]+\]\(https?://[^()\s<>]+\)( · \[[^\]\[()]+\]\(https?://[^()\s<>]+\))*")


def _without_our_markup(line: str) -> str:
    """A markdown line minus the markup our renderers add, keeping the text inside it.

    Our lines start with at most one prefix (heading, quote, bullet), then at most one bold label
    or tag, or one font colour; whatever markup is left can only have come from the cloud.
    """
    if OUR_LINKS.fullmatch(line):  # the links line: "[Runbook](https://…) · [Open in console](https://…)"
        return ""
    line = re.sub(r"^(#{1,6} |> |- )", "", line)
    if re.match(r'<font color="\w+">', line):
        line = re.sub(r'^<font color="\w+">', "", line).replace("</font>", "", 1)
    return re.sub(r"^\*\*([^*]*)\*\*", r"\1", line, count=1)


def test_feishu_markdown_holds_cloud_text_only_as_character_references():
    card = render("feishu", hostile_record())["card"]
    contents = [element["content"] for element in card["elements"] if element["tag"] == "markdown"]
    assert contents
    for content in contents:
        for line in content.split("\n"):
            rest = ENTITY.sub("", _without_our_markup(line))
            assert not set(rest) & set("*_~`[]<>#\\|!$@&"), line
    text = json.dumps(card, ensure_ascii=False)
    assert '&lt;at user&#95;id="all"&gt;' in text or "&lt;at user&#95;id=" in text
    assert "&#91;x&#93;&#40;http://evil.example&#41;" in text
    # The header is plain_text: shown literally, never parsed, so it needs no escaping.
    assert card["header"]["title"]["tag"] == "plain_text"


@pytest.mark.parametrize("channel", ["dingtalk", "wecom"])
def test_dingtalk_and_wecom_markdown_cannot_format_link_or_mention(channel):
    payload = render(channel, hostile_record())
    content = payload["markdown"]["text" if channel == "dingtalk" else "content"]
    for line in content.split("\n"):
        rest = _without_our_markup(line)
        assert not set(rest) & set("*`<>&~\\@|"), line
        assert "](" not in rest
        assert "][" not in rest
        assert not re.search(r"(?<![^\W_])_|_(?![^\W_])", rest), line
    assert "\n# heading" not in content
    assert "\uff1c!channel\uff1e" in content  # fullwidth < and >
    assert "\uff20all" in content  # fullwidth @
    if channel == "dingtalk":
        assert payload["at"] == {"atMobiles": [], "atUserIds": [], "isAtAll": False}


def test_ids_with_underscores_stay_copyable_in_dingtalk_and_wecom():
    dingtalk = render("dingtalk", demo_record())["markdown"]["text"]
    wecom = render("wecom", demo_record())["markdown"]["content"]
    for content in (dingtalk, wecom):
        assert "RESPONSE_MISMATCH" in content
        assert "master_failed" in content


def test_slack_puts_cloud_text_only_in_escaped_plain_text():
    payload = render("slack", hostile_record())
    mrkdwn, plain = [], []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                mrkdwn.append(node["text"])
            elif node.get("type") == "plain_text":
                plain.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    # mrkdwn objects hold only our own labels.
    assert mrkdwn
    assert all(re.fullmatch(r"\*[A-Za-z ]+\*( \(\d+\))?", text) for text in mrkdwn), mrkdwn
    for text in [*plain, payload["text"]]:
        assert "<" not in text
        assert ">" not in text
        assert not re.search(r"&(?!(amp|lt|gt);)", text), text
    assert "&lt;!channel&gt;" in payload["text"]
    assert payload["mrkdwn"] is False


def test_smn_sms_has_no_brackets_and_is_short():
    structure = json.loads(render("smn", hostile_record())["message_structure"])
    assert not set(structure["sms"]) & set("[]【】")
    assert len(structure["sms"]) <= smn_format.SMS_TARGET_CHARS
    structure = json.loads(render("smn", demo_record())["message_structure"])
    assert structure["sms"].startswith("(MAJOR) web-pool: master web-master-1 down")


def test_generic_webhook_carries_the_record_verbatim_and_a_v4_envelope():
    record = hostile_record()
    envelope = render("webhook", record)
    assert envelope["version"] == "4"
    assert envelope["status"] == "firing"
    [alert] = envelope["alerts"]
    assert alert["record"] == record
    assert alert["fingerprint"] == record["fingerprint"]
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert envelope["commonLabels"]["alertname"] == "ElbMasterFailed"
    assert set(alert) >= {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }


def _resolved(record: dict[str, Any]) -> dict[str, Any]:
    """The resolved notice the lifecycle sends for a firing record, ten minutes later."""
    return lifecycle.resolved_record(
        record,
        first_seen=T_FIRST,
        back_at=T_FIRST + 600,
        last_seen=T_FIRST + 540,
        now=T_FIRST + 660,
        checks=2,
    )


def _firing_records() -> list[dict[str, Any]]:
    """Real firing records: a failed master (major), one with no failover (critical), a watcher_error."""
    major = pool_records(failures=ACL_PORT)
    critical = pool_records(standby="OFFLINE", pool_id="pool-2")
    return [*major, *critical, watcher_error_record()]


@pytest.mark.parametrize("index", range(3))
def test_generic_webhook_labels_are_the_same_when_firing_and_resolved(index):
    # A consumer matching alerts by labels (Alertmanager's identity) finds the resolve; the state is
    # in `status`. The record itself still says severity info, as every other channel shows it.
    firing = _firing_records()[index]
    resolved = _resolved(firing)
    assert resolved["severity"] == "info"
    assert resolved["firing_severity"] == firing["severity"]
    fired, back = render("webhook", firing), render("webhook", resolved)
    assert (fired["status"], back["status"]) == ("firing", "resolved")
    assert back["alerts"][0]["labels"] == fired["alerts"][0]["labels"]
    assert back["alerts"][0]["labels"]["severity"] == firing["severity"] != "info"
    assert (back["commonLabels"], back["groupKey"]) == (fired["commonLabels"], fired["groupKey"])
    # Resolving twice (a catch-up of the notice) keeps what it fired with.
    assert _resolved(resolved)["firing_severity"] == firing["severity"]


def test_generic_webhook_digest_alerts_keep_their_labels_when_resolved():
    from handler.channels.digest import build  # noqa: PLC0415

    firing = _firing_records()
    fired = [a for d in build(firing) for a in webhook_format.render_digest(d)["alerts"]]
    back = [
        a for d in build([_resolved(r) for r in firing]) for a in webhook_format.render_digest(d)["alerts"]
    ]
    assert {a["status"] for a in back} == {"resolved"}
    assert len(back) == len(fired) == len(firing)
    assert {a["fingerprint"]: a["labels"] for a in back} == {a["fingerprint"]: a["labels"] for a in fired}


def test_other_channels_still_show_a_resolved_record_as_info():
    resolved = _resolved(_firing_records()[0])
    assert summarize(resolved).severity == "info"
    title = render("teams", resolved)["attachments"][0]["content"]["body"][0]
    assert title["color"] == "Good"


def test_resolved_records_are_green_and_say_resolved():
    record = resolved_record()
    assert render("feishu", record)["card"]["header"]["template"] == "green"
    assert "RESOLVED" in render("feishu", record)["card"]["elements"][0]["content"]
    assert render("slack", record)["blocks"][0]["text"]["text"].startswith("\u2705")
    assert '<font color="info">RESOLVED' in render("wecom", record)["markdown"]["content"]
    envelope = render("webhook", record)
    assert envelope["status"] == "resolved"
    assert envelope["alerts"][0]["endsAt"] == record["observed_at"]


def test_a_resolved_title_that_does_not_say_so_is_led_by_the_status():
    record = resolved_record()
    record["title"] = "[INFO] web-pool: master web-master-1 back"
    assert render("smn", record)["subject"] == "RESOLVED: [INFO] web-pool: master web-master-1 back"
    assert render("dingtalk", record)["markdown"]["title"].startswith("RESOLVED: ")


@pytest.mark.parametrize(
    ("severity", "template"),
    [("critical", "red"), ("major", "orange"), ("warning", "yellow"), ("info", "blue")],
)
def test_feishu_header_colour_follows_severity(severity, template):
    record = demo_record()
    record["severity"] = severity
    assert render("feishu", record)["card"]["header"]["template"] == template


def test_zh_labels_come_from_the_locale():
    message = summarize(demo_record(), "zh")
    assert message.status_label == "告警"
    assert [fact.label for fact in message.facts][:2] == ["主节点", "异常监听器"]
    assert "网络ACL" in message.items[0].text


def test_an_odd_record_still_renders():
    odd = {"title": None, "severity": 7, "check": {"failed_items": [None, "x", {"reason": 5}]}, "pool": "?"}
    for channel in CHANNELS:
        assert render(channel, odd)


# --- size limits -----------------------------------------------------------------------------------


def _more_count(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, "no '… and N more' line"
    return int(match.group(1))


def _shown_reasons(text: str, record: dict[str, Any]) -> int:
    """How many failed-item reasons appear whole in `text` (none may be cut)."""
    reasons = [item["reason"] for item in record["check"]["failed_items"]]
    return sum(1 for reason in reasons if reason in text)


def test_feishu_trims_items_to_the_20kb_body_limit():
    record = oversized_record()
    payload = render("feishu", record)
    assert len(json_bytes(payload)) + 120 <= 20_000
    items = payload["card"]["elements"][-2]["content"]
    shown = _shown_reasons(items, record)
    assert 0 < shown < 300
    assert _more_count(items, r"… and (\d+) more") == 300 - shown
    assert items.count("**") % 2 == 0


def test_dingtalk_trims_items_to_20000_bytes():
    record = oversized_record()
    payload = render("dingtalk", record)
    assert len(json_bytes(payload)) <= 20_000
    text = payload["markdown"]["text"]
    shown = _shown_reasons(text, record)
    assert 0 < shown < 300
    assert _more_count(text, r"… and (\d+) more") == 300 - shown


def test_wecom_trims_items_to_4096_bytes_of_content():
    record = oversized_record()
    content = render("wecom", record)["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    shown = _shown_reasons(content, record)
    assert 0 < shown < 300
    assert _more_count(content, r"… and (\d+) more") == 300 - shown
    assert content.endswith("</font>")


def test_wecom_drops_facts_when_even_they_do_not_fit():
    record = hostile_record()
    record["pool"]["name"] = record["master"]["name"] = record["master"]["reason"] = "*" * 5000
    record["standby"]["name"] = record["region"] = record["project_id"] = "<" * 5000
    content = render("wecom", record)["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.startswith("### ")


def test_slack_respects_block_kit_limits():
    record = oversized_record()
    record["title"] = "标题" * 200
    payload = render("slack", record)
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))
    items = blocks[-2]["text"]["text"]
    shown = _shown_reasons(items, record)
    assert 0 < shown < 300
    assert _more_count(items, r"… and (\d+) more") == 300 - shown


def test_slack_header_clips_escaped_text_without_cutting_an_entity():
    record = demo_record()
    record["title"] = "&" * 400
    header = render("slack", record)["blocks"][0]["text"]["text"]
    assert len(header) <= 150
    assert re.fullmatch(r"\S+ (&amp;)+…", header)


def test_smn_fits_256kb_and_a_512_byte_subject_without_splitting_characters():
    record = oversized_record(2000)
    record["title"] = "主备节点均故障" * 100
    payload = render("smn", record)
    assert len(payload["message_structure"].encode("utf-8")) <= 256 * 1024
    subject = payload["subject"]
    assert len(subject.encode("utf-8")) <= 512
    assert subject.endswith("…")
    assert record["title"].startswith(subject[:-1])
    structure = json.loads(payload["message_structure"])
    shown = _shown_reasons(structure["email"], record)
    assert 0 < shown < 2000
    assert _more_count(structure["email"], r"… and (\d+) more") == 2000 - shown
    machine = json.loads(structure["https"])
    assert machine["check"]["failed_items_omitted"] == 2000 - len(machine["check"]["failed_items"])


def test_zh_more_line():
    content = render("wecom", oversized_record(), "zh")["markdown"]["content"]
    assert re.search(r"… 另有 \d+ 项", content)


def test_generic_webhook_keeps_every_item():
    record = oversized_record()
    assert len(render("webhook", record)["alerts"][0]["record"]["check"]["failed_items"]) == 300
