"""Signed action tokens: HMAC-SHA256 over the action, fingerprint, alert sequence and expiry. Pure.

A token is 46 base64url characters: 18 bytes of claims (version 1, the action's index in ACTIONS, the
fingerprint's 8 bytes, the sequence and the expiry in epoch seconds, both unsigned 32-bit) and a tag,
the first 16 bytes of HMAC-SHA256(key, "link" 0x00 claims): 128 bits, compared with
`hmac.compare_digest`. Short, so three links fit beside an alert in a 500-character message. A token
says nothing secret (anyone holding it sees which alert it is about); what makes it a credential is
that nobody without the key can make or change one. It is good until its expiry (24 h after the
message) and only while the alert's sequence is the one it names: every new notification of the alert
(changed, repeated, resolved) moves the sequence on, and the links of the older message stop working
(the newer message carries fresh ones).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

ACTIONS = ("ack", "silence_1h", "silence_4h", "silence_resolved")
"""Every action a link can name (handler.actions.links.LINKED says which are on)."""
LIFETIME_SECONDS = 24 * 3600.0
MIN_KEY_BYTES = 32
VERSION = 1
TAG_BYTES = 16
_CLAIMS = struct.Struct(">BB8sII")
TOKEN_CHARS = 46  # base64url of the 18 bytes of claims and the 16 of the tag, unpadded
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")  # handler.notify.fingerprint: 16 hex digits
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_CHARS}}}")


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
    if not (0 <= claims.sequence < 2**32 and 0 <= claims.expires_at < 2**32):
        raise ValueError("not an action token")
    raw = _CLAIMS.pack(
        VERSION,
        ACTIONS.index(claims.action),
        bytes.fromhex(claims.fingerprint),
        claims.sequence,
        claims.expires_at,
    )
    return _b64(raw + _tag(key, raw))


def verify(token: str, key: bytes, now: float) -> Claims | Refused:
    """The claims of a token this key signed that has not expired, or why it is refused."""
    if not _TOKEN.fullmatch(token):
        return Refused("forged")
    try:
        whole = _unb64(token)
    except (binascii.Error, ValueError):
        return Refused("forged")
    # One spelling per token: a variant of a used link's unused base64 bits is not a second token.
    if _b64(whole) != token or len(whole) != _CLAIMS.size + TAG_BYTES:
        return Refused("forged")
    raw, given = whole[: _CLAIMS.size], whole[_CLAIMS.size :]
    if not hmac.compare_digest(_tag(key, raw), given):
        return Refused("forged")
    version, action, fingerprint, sequence, expires_at = _CLAIMS.unpack(raw)
    if version != VERSION or action >= len(ACTIONS):
        return Refused("forged")
    claims = Claims(ACTIONS[action], fingerprint.hex(), sequence, expires_at)
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
