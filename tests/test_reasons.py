"""The reason-template rendering rule, case by case, and the reason-code descriptions."""

from __future__ import annotations

import pytest

from handler.reasons import describe_reason_code, placeholder_names, render_reason
from handler.wording import en, zh


def test_params_fill_placeholders_by_position():
    template = (
        "healthCheck source IP {$source_ip} is not allowed by securityGroup {$security_group_id} egress rules"
    )
    assert (
        render_reason(template, ["100.125.0.0/16", "sg-1"])
        == "healthCheck source IP 100.125.0.0/16 is not allowed by securityGroup sg-1 egress rules"
    )


def test_repeated_name_gets_the_same_value_and_consumes_one_param():
    template = "{$acl_id} blocks port {$port}; check {$acl_id} again"
    assert render_reason(template, ["acl-9", "443"]) == "acl-9 blocks port 443; check acl-9 again"


def test_names_take_params_in_order_of_first_appearance_not_alphabetical():
    template = "healthCheck {$hm_id}'s protocol is {$hc_protocol}, via {$trans_protocol} blocked by {$acl_id}"
    assert placeholder_names(template) == ["hm_id", "hc_protocol", "trans_protocol", "acl_id"]
    assert render_reason(template, ["hm", "HTTP", "TCP", "acl"]) == (
        "healthCheck hm's protocol is HTTP, via TCP blocked by acl"
    )


def test_value_that_looks_like_a_placeholder_is_inserted_literally():
    template = "port {$dest_port} is not allowed by ACL {$acl_id}"
    assert render_reason(template, ["{$acl_id}", "acl-1"]) == "port {$acl_id} is not allowed by ACL acl-1"


def test_value_is_never_rescanned_even_for_a_later_name():
    assert render_reason("{$a} {$b}", ["{$b}", "B"]) == "{$b} B"


def test_missing_params_leave_placeholders_visible():
    template = "healthCheck destination IP {$dest_ip} is not allowed by ACL {$acl_id} ingress policies"
    assert render_reason(template, ["10.0.0.8"]) == (
        "healthCheck destination IP 10.0.0.8 is not allowed by ACL {$acl_id} ingress policies"
    )


def test_no_params_leaves_every_placeholder():
    assert render_reason("ACL {$acl_id} egress", []) == "ACL {$acl_id} egress"
    assert render_reason("ACL {$acl_id} egress", None) == "ACL {$acl_id} egress"


def test_extra_params_are_ignored():
    assert render_reason("port {$p}", ["80", "81", "82"]) == "port 80"


def test_empty_template_falls_back_to_reason():
    assert (
        render_reason("", ["x"], "security group blocks 100.125.0.0/16")
        == "security group blocks 100.125.0.0/16"
    )
    assert render_reason(None, [], "plain reason") == "plain reason"


def test_empty_template_and_no_reason_is_empty_text():
    assert render_reason(None, [], None) == ""


def test_template_without_placeholders_is_unchanged():
    text = (
        "healthCheck destination port may not allowed by ACL, it is recommended to open all destination ports"
    )
    assert render_reason(text, ["ignored"]) == text


def test_text_around_placeholders_with_special_characters_is_kept():
    assert render_reason("50% of {$x} $ {y} {$}", ["a\\1"]) == "50% of a\\1 $ {y} {$}"


def test_params_with_regex_replacement_syntax_are_literal():
    assert render_reason("{$a}", [r"\g<0>\1"]) == r"\g<0>\1"


def test_every_reason_code_is_worded_in_every_locale():
    assert set(en.REASON_CODES) == set(zh.REASON_CODES)
    assert set(en.RECORD) == set(zh.RECORD)
    assert set(en.CHANNEL) == set(zh.CHANNEL)
    assert set(en.REASON) == set(zh.REASON)
    assert set(en.WATCHER) == set(zh.WATCHER)
    assert set(en.WATCHER_ADVICE) == set(zh.WATCHER_ADVICE)


@pytest.mark.parametrize("code", sorted(en.REASON_CODES))
def test_every_documented_reason_code_has_english_and_chinese(code):
    english = describe_reason_code(code)
    chinese = describe_reason_code(code, locale="zh")
    assert english
    assert english != code
    assert chinese
    assert chinese != english


def test_connect_refused_reads_plainly():
    assert describe_reason_code("CONNECT_REFUSED") == "the backend refused the health-check connection"
    assert describe_reason_code("CONNECT_REFUSED", locale="zh") == "后端服务器拒绝了健康检查连接"


def test_response_mismatch_shows_expected_and_actual_codes():
    text = describe_reason_code("RESPONSE_MISMATCH", "200", "503")
    assert text.endswith("(expected 200, got 503)")


def test_unknown_code_is_shown_as_is():
    assert describe_reason_code("NEW_CODE_2027") == "health check failed (NEW_CODE_2027)"


def test_missing_code_says_elb_gave_no_reason():
    assert "no reason" in describe_reason_code(None)
