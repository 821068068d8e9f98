"""Which actions a firing message links to, whether links are on, and the link stage. Pure.

Links need a store every instance of the function shares: the instance that serves a click must find
the alert another instance sent, and record that the link was used where every instance looks.
Redis (DCS, `redis://`/`rediss://`) is such a store; a SQLite file is one only when every instance
opens the same file (an SFS turbo mount), so an explicit `sqlite://` URL is taken at its word; the
instance store (`ELB_WATCH_STATE` unset or `instance`) and no store turn links off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from handler.config import Settings
from handler.domain import Notification

LINKED = ("ack", "silence_1h", "silence_4h", "silence_resolved")
"""The actions firing messages link to, in this order (`handler.actions.act.ACTS` carries them out)."""

Linker = Callable[[Notification, int], Notification]
"""The link stage: a notification about to be sent, with its alert's sequence → with its links."""

# Kinds that get no action links: the watcher's own alerts and channel tests.
UNLINKED_KINDS = frozenset({"watcher_error", "test"})


def off_because(settings: Settings, env: Mapping[str, str], store_kind: str) -> str | None:
    """Why action links are off (None when they are on); "" when they were not asked for."""
    if not settings.actions_url or not settings.actions_key:
        return ""
    url = env.get("ELB_WATCH_STATE", "").strip().lower()
    if url == "off":
        return "ELB_WATCH_STATE=off: action links need a store every instance shares (Redis/DCS)"
    if store_kind == "instance" or url in {"", "instance"}:
        return (
            "the instance store (ELB_WATCH_STATE unset or instance) is not shared by the function's "
            "instances: action links are off; set ELB_WATCH_STATE to redis:// or rediss:// (DCS)"
        )
    return None


def link(base: str, token: str) -> str:
    """The URL of a link: `{ELB_WATCH_ACTIONS_URL}/a/{token}`."""
    return f"{base}/a/{token}"


def with_links(
    notification: Notification, sequence: int, *, base: str, key: bytes, now: float
) -> Notification:
    """The notification with a link per LINKED action after its other links (firing findings only)."""
    if notification.resolved or notification.kind in UNLINKED_KINDS or not notification.fingerprint:
        return notification
    from handler.actions.token import Claims, expiry, sign  # noqa: PLC0415 - hashlib only when links are on

    expires = expiry(now)
    made = []
    for action in LINKED:
        try:
            token = sign(Claims(action, notification.fingerprint, sequence, expires), key)
        except ValueError:
            return notification
        made.append({"name": action, "url": link(base, token)})
    earlier = [item for item in notification.extra.get("links") or () if isinstance(item, Mapping)]
    mine = {item["name"] for item in made}
    kept: list[Any] = [item for item in earlier if item.get("name") not in mine]
    return replace(notification, extra={**notification.extra, "links": [*kept, *made]})


def linker(settings: Settings, env: Mapping[str, str], store_kind: str, now: float) -> Linker | None:
    """The run's link stage, or None when links are off."""
    if off_because(settings, env, store_kind) is not None:
        return None
    base, key = settings.actions_url, settings.actions_key.encode("utf-8")
    return lambda notification, sequence: with_links(notification, sequence, base=base, key=key, now=now)
