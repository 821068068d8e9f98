"""Signed action tokens: HMAC-SHA256 over the action, fingerprint, alert sequence and expiry. Pure.

A token is `base64url(payload) "." base64url(tag)`, the payload `v1|action|fingerprint|sequence|expires`
(expiry in epoch seconds), the tag the first 16 bytes of HMAC-SHA256(key, payload): 128 bits, compared
with `hmac.compare_digest`. A token says nothing secret (anyone holding it sees which alert it is
about); what makes it a credential is that nobody without the key can make or change one. It is good
until `expires` (24 h after the message) and only while the alert's sequence is the one it names:
every new notification of the alert (changed, repeated, resolved) moves the sequence on, and the
links of the older message stop working (the newer message carries fresh ones).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

ACTIONS = ("ack", "silence_1h", "silence_4h", "silence_resolved")
"""Every action a link can name (handler.actions.links.LINKED says which are on)."""
LIFETIME_SECONDS = 24 * 3600.0
MIN_KEY_BYTES = 32
VERSION = "v1"
TAG_BYTES = 16
MAX_TOKEN_CHARS = 200
_FINGERPRINT = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,160}\.[A-Za-z0-9_-]{1,40}")


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says: which action, on which alert (fingerprint and sequence), good until when."""

    action: str
    fingerprint: str
    sequence: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a token was not accepted: `forged` (bad tag or shape: 403) or `expired` (410)."""

    why: str
    claims: Claims | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, payload: bytes, purpose: bytes = b"link") -> bytes:
    return hmac.new(key, purpose + b"\x00" + payload, hashlib.sha256).digest()[:TAG_BYTES]


def sign(claims: Claims, key: bytes) -> str:
    """The token for these claims; ValueError for an action or fingerprint a token cannot carry."""
    if claims.action not in ACTIONS or not _FINGERPRINT.fullmatch(claims.fingerprint):
        raise ValueError("not an action token")
    payload = f"{VERSION}|{claims.action}|{claims.fingerprint}|{claims.sequence}|{claims.expires_at}"
    raw = payload.encode("ascii")
    return f"{_b64(raw)}.{_b64(_tag(key, raw))}"


def _claims(payload: bytes) -> Claims | None:
    parts = payload.decode("ascii", "replace").split("|")
    if len(parts) != 5 or parts[0] != VERSION or parts[1] not in ACTIONS:
        return None
    if not _FINGERPRINT.fullmatch(parts[2]) or not parts[3].isdigit() or not parts[4].isdigit():
        return None
    return Claims(parts[1], parts[2], int(parts[3]), int(parts[4]))


def verify(token: str, key: bytes, now: float) -> Claims | Refused:
    """The claims of a token this key signed that has not expired, or why it is refused."""
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
        return Refused("forged")
    encoded, _, tag = token.partition(".")
    try:
        payload, given = _unb64(encoded), _unb64(tag)
    except (binascii.Error, ValueError):
        return Refused("forged")
    if _b64(payload) != encoded or _b64(given) != tag:  # one spelling per token: a replay is the same token
        return Refused("forged")
    if not hmac.compare_digest(_tag(key, payload), given):
        return Refused("forged")
    claims = _claims(payload)
    if claims is None:
        return Refused("forged")
    if now >= claims.expires_at:
        return Refused("expired", claims)
    return claims


def form_value(token: str, key: bytes) -> str:
    """The anti-forgery value of a token's form: bound to the token, made only with the key."""
    return _b64(_tag(key, token.encode("utf-8", "replace"), b"form"))


def form_value_ok(token: str, key: bytes, given: str) -> bool:
    """Whether a submitted anti-forgery value is the one of this token's form (constant time)."""
    return hmac.compare_digest(form_value(token, key).encode(), given.encode("utf-8", "replace"))


def token_id(token: str) -> str:
    """A short name of a token for the store (its done-once record): never the token itself."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


def expiry(now: float) -> int:
    """When a link made now stops working: after LIFETIME_SECONDS."""
    return int(now + LIFETIME_SECONDS)
