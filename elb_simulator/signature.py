"""Verify SDK-HMAC-SHA256 request signatures exactly as huaweicloudsdkcore.signer.Signer builds them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = timedelta(minutes=15)
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

_INCORRECT = "Incorrect IAM authentication information: "
MISSING_AUTHORIZATION = _INCORRECT + "the Authorization header is missing or not SDK-HMAC-SHA256"
MALFORMED_AUTHORIZATION = _INCORRECT + "the Authorization header is malformed"
UNKNOWN_ACCESS_KEY = _INCORRECT + "the access key is unknown"
BAD_SDK_DATE = _INCORRECT + "the X-Sdk-Date header is missing or malformed"
STALE_SDK_DATE = _INCORRECT + "X-Sdk-Date is more than 15 minutes away from the server time"
MISSING_SIGNED_HEADER = _INCORRECT + "a signed header is missing from the request"
SIGNATURE_MISMATCH = _INCORRECT + "signature does not match"
BAD_SECURITY_TOKEN = _INCORRECT + "the security token is missing or invalid"


@dataclass(frozen=True)
class AuthorizationHeader:
    """The parts of an `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> AuthorizationHeader | None:
    """Split an SDK-HMAC-SHA256 Authorization header; None if it is not one or is incomplete."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    parts: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, separator, content = part.strip().partition("=")
        if separator:
            parts[name] = content.strip()
    access_key = parts.get("Access", "")
    signed_headers = tuple(name for name in parts.get("SignedHeaders", "").split(";") if name)
    signature = parts.get("Signature", "")
    if not access_key or not signed_headers or not signature:
        return None
    return AuthorizationHeader(access_key, signed_headers, signature)


def canonical_uri(path: str) -> str:
    """The signer's canonical URI: decode, re-encode each segment with quote(safe='~'), end with '/'."""
    encoded = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query_string(query: str) -> str:
    """The signer's canonical query string: decoded pairs sorted by (name, value), re-encoded."""
    pairs: list[tuple[str, str]] = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append((unquote(name), unquote(value)))
    pairs.sort()
    return "&".join(f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in pairs)


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    """Hex SHA-256 of the body; the empty hash for no body; X-Sdk-Content-Sha256 when present."""
    if not body:
        return EMPTY_BODY_SHA256
    declared = headers.get("x-sdk-content-sha256")
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    target: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """Rebuild the canonical request; `headers` maps lower-case names to received values."""
    path, _, query = target.partition("?")
    header_lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query_string(query),
            header_lines,
            ";".join(signed_headers),
            payload_hash(body, headers),
        )
    )


def string_to_sign(sdk_date: str, request: str) -> str:
    """The algorithm, X-Sdk-Date and hex SHA-256 of the canonical request, one per line."""
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, text_to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the secret key."""
    return hmac.new(secret_key.encode("utf-8"), text_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_sdk_date(value: str) -> datetime | None:
    """An X-Sdk-Date value (20240101T000000Z) as an aware UTC datetime; None if malformed."""
    try:
        return datetime.strptime(value, SDK_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def verify_request(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Sequence[Mapping[str, str]],
    now: datetime,
) -> str | None:
    """Check a request's SDK-HMAC-SHA256 signature; None if valid, else the reason it is rejected.

    `headers` maps lower-case header names to received values, `target` is the path with its query
    string, `credentials` are scenario entries {"ak", "sk"[, "security_token"]}.
    """
    received = headers.get("authorization", "")
    if not received.startswith(ALGORITHM + " "):
        return MISSING_AUTHORIZATION
    authorization = parse_authorization(received)
    if authorization is None:
        return MALFORMED_AUTHORIZATION
    entry = next((entry for entry in credentials if entry["ak"] == authorization.access_key), None)
    if entry is None:
        return UNKNOWN_ACCESS_KEY
    sdk_date = headers.get("x-sdk-date", "")
    signed_at = parse_sdk_date(sdk_date)
    if signed_at is None:
        return BAD_SDK_DATE
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        return STALE_SDK_DATE
    if any(name not in headers for name in authorization.signed_headers):
        return MISSING_SIGNED_HEADER
    request = canonical_request(method, target, headers, authorization.signed_headers, body)
    expected = signature(entry["sk"], string_to_sign(sdk_date, request))
    if not hmac.compare_digest(expected, authorization.signature.lower()):
        return SIGNATURE_MISMATCH
    required_token = entry.get("security_token")
    if required_token is not None and not hmac.compare_digest(
        required_token.encode("utf-8"), headers.get("x-security-token", "").encode("utf-8")
    ):
        return BAD_SECURITY_TOKEN
    return None
