"""Silences: hold a pool's (or one finding's) notifications for a while, e.g. during maintenance. Pure.

A silence matches records by matchers (`pool_name=pay-*`, `severity!=info`, see `handler.matchers`,
all ANDed), or, as the first version did, by pool id (`{"pool": ID}`) or fingerprint
(`{"fingerprint": FP}`), and is active from `starts_at` until `ends_at` (epoch seconds). The stored
form has a `version`: rows without one are the first version (one `matcher` key) and still match.
It lives in the state store (`StateStore.add_silence`, `silences`, `expire_silence`; `silence update`
adds it again under its id); the notification pipeline's `silence` stage holds what an active silence
matches, and the held notification stays owed, so it goes out once the silence ends if the finding is
still firing; if it resolved meanwhile, a receiver the silence kept it from gets nothing (as windows).
`created_by` says who made it (an action link's typed name, or "link"). An `until_resolved` silence
(an action link's "Silence until resolved") holds one fingerprint's firing notifications, never its
resolved notice, and is ended by the run that records the resolution (`handler.pipeline`); its
`ends_at` (90 days) only bounds one whose alert never resolves.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from handler.matchers import Matcher, from_stored, match_all, matcher, mentions

SILENCE_FORMAT = 2
"""The stored form's `version`: 2 added `matchers` and `created_by`; a row without one is version 1."""
MATCHER_KEYS = ("pool", "fingerprint")
MAX_COMMENT = 500
MAX_SILENCE_SECONDS = 90 * 86400.0
"""The longest silence `silence add` accepts: anything longer is a forgotten silence."""


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time ("2026-11-29T19:30:00Z")."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence: what it matches, from when until when, and why."""

    id: str
    matcher: dict[str, str]
    starts_at: float
    ends_at: float
    comment: str = ""
    created_at: float = 0.0
    matchers: tuple[Matcher, ...] = ()
    created_by: str = ""
    until_resolved: bool = False

    def active(self, now: float) -> bool:
        """Whether the silence holds notifications at `now`."""
        return self.starts_at <= now < self.ends_at

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether a notification record falls under this silence (its matcher and every matcher)."""
        if self.until_resolved and str(record.get("status", "")) == "resolved":
            return False  # the resolution is told; the run that records it ends the silence
        if "fingerprint" in self.matcher:
            if str(record.get("fingerprint", "")) != self.matcher["fingerprint"]:
                return False
        elif "pool" in self.matcher:
            pool = record.get("pool")
            pool_id = pool.get("id") if isinstance(pool, Mapping) else None
            if not pool_id or str(pool_id) != self.matcher["pool"]:
                return False
        return match_all(self.matchers, record)

    def describe(self) -> str:
        """The matchers as people write them: "pool=<id>", "pool_name=pay-*, severity=critical"."""
        return ", ".join(
            [*(f"{key}={value}" for key, value in self.matcher.items()), *map(str, self.matchers)]
        )

    def mentions(self, wanted: tuple[Matcher, ...]) -> bool:
        """Whether this silence's matchers name each wanted key with a value it accepts (`list --match`)."""
        own = list(self.matchers)
        if "pool" in self.matcher:  # the first version's pool matcher is a pool_id one
            own.append(matcher("pool_id", "=", self.matcher["pool"]))
        return mentions(own, wanted)

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (epoch seconds)."""
        return {
            "id": self.id,
            "matcher": dict(self.matcher),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_at": self.created_at,
            "version": SILENCE_FORMAT,
            "matchers": [item.to_dict() for item in self.matchers],
            "created_by": self.created_by,
            "until_resolved": self.until_resolved,
        }

    def public(self, now: float) -> dict[str, Any]:
        """The form `silence list --output json` prints: ISO times and whether it is active now."""
        return {
            "id": self.id,
            "matcher": dict(self.matcher),
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "comment": self.comment,
            "active": self.active(now),
            "matchers": [str(item) for item in self.matchers],
            "created_by": self.created_by,
            "until_resolved": self.until_resolved,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Silence:
        """Read the stored form; ValueError or TypeError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("a silence is not an object")
        version = data.get("version", 1)
        legacy = data.get("matcher", {})
        matchers = from_stored(data.get("matchers", [])) if version != 1 else ()
        if not isinstance(legacy, dict) or len(legacy) != (0 if matchers else 1):
            raise ValueError("matcher must be an object with one key, or matchers a non-empty list")
        for key, value in legacy.items():
            if key not in MATCHER_KEYS or not isinstance(value, str) or not value:
                raise ValueError(f"matcher {key!r} is not one of {', '.join(MATCHER_KEYS)}")
        times = {}
        for name in ("starts_at", "ends_at", "created_at"):
            number = data.get(name, 0.0)
            if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
                raise ValueError(f"{name} is not a number")
            times[name] = float(number)
        silence_id, comment = data.get("id"), data.get("comment", "")
        created_by, until_resolved = data.get("created_by", ""), data.get("until_resolved", False)
        if not isinstance(silence_id, str) or not silence_id or not isinstance(comment, str):
            raise ValueError("id and comment must be strings")
        if not isinstance(created_by, str) or not isinstance(until_resolved, bool):
            raise TypeError("created_by must be a string and until_resolved a boolean")
        return cls(
            silence_id,
            dict(legacy),
            comment=comment,
            matchers=matchers,
            created_by=created_by,
            until_resolved=until_resolved,
            **times,
        )


DURATION_PROBLEM = "--for must be a duration from 1s to 90 days, such as 30m, 2h, 1d, 1w or 1d12h"


def new_silence(
    matcher: Mapping[str, str] | None = None,
    *,
    now: float,
    duration: float,
    comment: str = "",
    matchers: tuple[Matcher, ...] = (),
    created_by: str = "",
    until_resolved: bool = False,
    silence_id: str | None = None,
) -> Silence:
    """A silence starting now for `duration` seconds; ValueError naming what is wrong.

    It matches by `matchers` (one or more, ANDed), or by exactly one of `matcher`'s pool / fingerprint.
    `until_resolved` (one fingerprint only) ends with the alert's resolution; `silence_id` (default: a
    new uuid4) lets an action link make the same silence however often its request is retried.
    """
    pairs = [(key, str(value).strip()) for key, value in (matcher or {}).items() if value]
    if matchers and pairs:
        raise ValueError("--match cannot be combined with --pool or --fingerprint: use --match pool_id=ID")
    if not matchers and (len(pairs) != 1 or pairs[0][0] not in MATCHER_KEYS or not pairs[0][1]):
        raise ValueError(
            "a silence needs --match KEY=VALUE (one or more) "
            "or exactly one matcher: --pool ID or --fingerprint FP"
        )
    check_duration(duration)
    check_comment(comment)
    if until_resolved and (matchers or pairs[0][0] != "fingerprint"):
        raise ValueError("a silence until resolved matches one alert: --fingerprint FP")
    return Silence(
        id=silence_id or str(uuid.uuid4()),
        matcher=dict(pairs),
        starts_at=now,
        ends_at=now + duration,
        comment=comment,
        created_at=now,
        matchers=matchers,
        created_by=created_by[:MAX_NAME],
        until_resolved=until_resolved,
    )


MAX_NAME = 100


def check_duration(duration: float) -> None:
    """ValueError unless `duration` is from 1 s to 90 days."""
    if not math.isfinite(duration) or not 0 < duration <= MAX_SILENCE_SECONDS:
        raise ValueError(DURATION_PROBLEM)


def check_comment(comment: str) -> None:
    """ValueError when a comment is too long."""
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"--comment is longer than {MAX_COMMENT} characters")


def encode_silence(silence: Silence) -> str:
    """A silence as the JSON text a store keeps."""
    return json.dumps(silence.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode_silences(rows: Iterable[bytes | str]) -> list[Silence]:
    """The stored silences that can be read, oldest end first; an unreadable row is left out."""
    found = []
    for raw in rows:
        try:
            found.append(Silence.from_dict(json.loads(raw)))
        except (ValueError, TypeError, RecursionError):
            continue
    return sorted(found, key=lambda silence: (silence.ends_at, silence.id))


def silencing(silences: Iterable[Silence], record: Mapping[str, Any], now: float) -> Silence | None:
    """The active silence that holds this record (the one that lasts longest), or None."""
    matching = [silence for silence in silences if silence.active(now) and silence.matches(record)]
    return max(matching, key=lambda silence: silence.ends_at) if matching else None
