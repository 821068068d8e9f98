"""Turning ELB's reason codes and check-item templates into sentences a person can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

_PLACEHOLDER = re.compile(r"\{\$([^{}$]+)\}")


def placeholder_names(template: str) -> list[str]:
    """The distinct `{$name}` placeholders of a template, in order of first appearance."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in names:
            names.append(name)
    return names


def render_reason(template: str | None, params: Sequence[str] | None, reason: str | None = None) -> str:
    """Render a check item's `reason_template` with its `reason_params`.

    Distinct placeholder names take the params by position, in order of first appearance; a name that
    appears twice gets the same value. Substitution is one pass, so a value is inserted literally and
    never scanned again. Missing params leave `{$name}` visible; extra params are ignored. An empty
    template falls back to `reason`.
    """
    if not template:
        return reason or ""
    values = dict(zip(placeholder_names(template), params or (), strict=False))

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


# ELB's health-check reason codes (MemberHealthCheckFailedReason.reason_code), in plain words.
REASON_CODES: dict[str, tuple[str, str]] = {
    "CONNECT_TIMEOUT": (
        "the health-check connection to the backend timed out",
        "健康检查向后端服务器建立连接超时",
    ),
    "CONNECT_REFUSED": (
        "the backend refused the health-check connection",
        "后端服务器拒绝了健康检查连接",
    ),
    "CONNECT_FAILED": (
        "the health-check connection to the backend failed",
        "健康检查向后端服务器建立连接失败",
    ),
    "CONNECT_INTERRUPT": (
        "the health-check connection to the backend was interrupted",
        "健康检查与后端服务器的连接中断",
    ),
    "SSL_HANDSHAKE_ERROR": (
        "the SSL handshake with the backend failed",
        "健康检查与后端服务器SSL握手失败",
    ),
    "RECV_RESPONSE_FAILED": (
        "receiving the health-check response from the backend failed",
        "健康检查从后端服务器接收响应失败",
    ),
    "RECV_RESPONSE_TIMEOUT": (
        "the backend's health-check response timed out",
        "健康检查从后端服务器接收响应超时",
    ),
    "SEND_REQUEST_FAILED": (
        "sending the health-check request to the backend failed",
        "健康检查向后端服务器发送请求失败",
    ),
    "SEND_REQUEST_TIMEOUT": (
        "sending the health-check request to the backend timed out",
        "健康检查向后端服务器发送请求超时",
    ),
    "RESPONSE_FORMAT_ERROR": (
        "the backend's health-check response was malformed",
        "健康检查从后端服务器接收的响应格式错误",
    ),
    "RESPONSE_MISMATCH": (
        "the backend answered the health check with an unexpected status code",
        "后端服务器返回的健康检查响应码与预期不一致",
    ),
}

_NO_REASON = (
    "ELB gave no reason (the instance may be stopped or deleted)",
    "ELB未返回原因(后端实例可能已关机或被删除)",
)


def describe_reason_code(
    code: str | None,
    expected: str | None = None,
    actual: str | None = None,
    locale: str = "en",
) -> str:
    """Describe a health-check reason code in English or Chinese, with expected vs actual codes."""
    index = 1 if locale == "zh" else 0
    if not code:
        return _NO_REASON[index]
    known = REASON_CODES.get(code.upper())
    if known is None:
        text = f"health check failed ({code})" if index == 0 else f"健康检查失败({code})"
    else:
        text = known[index]
    if expected or actual:
        if index == 0:
            text += f" (expected {expected or '?'}, got {actual or '?'})"
        else:
            text += f"(预期 {expected or '?'},实际 {actual or '?'})"
    return text
