"""An APIG request under /a/{token}: verify the token, then the confirm page (GET) or the action (POST).

off       links need ELB_WATCH_ACTIONS_URL/_KEY and a store every instance shares: else a page says why
limit     an address that sent too many bad tokens gets 429 for a while (counted in the store)
verify    a forged token 403 (counted), one already used "already done by NAME at TIME", an expired
          one 410, an alert the store does not hold 404 (counted), one that changed since 410
confirm   GET (and HEAD) never act: the alert, what the action will do, the form
act       POST with the form's anti-forgery value: the action runs once (`StateStore.claim`), its
          silence id derived from the token (a retry after a store failure makes the same silence),
          then the alert's receivers are told through the channel layer
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from handler import wording
from handler.actions import act, pages
from handler.actions.links import LINKED, off_because
from handler.actions.request import ActionRequest, read_request
from handler.actions.token import (
    LIFETIME_SECONDS,
    Claims,
    Refused,
    form_value,
    form_value_ok,
    token_id,
    verify,
)
from handler.lifecycle import DONE, AlertState
from handler.silences import MAX_COMMENT, MAX_NAME, iso
from handler.state import StateStore, StoreUnavailable
from handler.text import clean

if TYPE_CHECKING:
    from handler.run_context import RunContext
    from handler.wiring import Wiring

FAILURES_ALLOWED = 20
"""Bad tokens (forged, unknown alert, stale form) one source address may send per FAILURE_WINDOW."""
FAILURE_WINDOW = 600.0
DONE_KEPT = LIFETIME_SECONDS + 3600.0
_SILENCE_IDS = uuid.UUID("5f1e0c53-7c47-4b8e-9a55-6d2f3f0f2d23")
NOT_SET = "ELB_WATCH_ACTIONS_URL and ELB_WATCH_ACTIONS_KEY are not set: this function serves no action links"


def answer(event: Mapping[str, Any], run: RunContext, wiring: Wiring) -> dict[str, Any]:
    """The APIG response to an action request. Never raises."""
    locale = run.settings.locale
    say = wording.actions(locale)
    request = read_request(event)
    head = request.method == "HEAD"
    off = off_because(run.settings, run.env, wiring.store_kind)
    if off is not None or wiring.store is None:
        run.log.warning("action.off", why=off or NOT_SET)
        return pages.message(404, say["off_title"], [off or NOT_SET], locale, head_only=head)
    if request.method not in {"GET", "HEAD", "POST"}:
        return pages.message(405, say["method_title"], [say["method"]], locale)
    try:
        return _answer(request, run, wiring.store, wiring)
    except StoreUnavailable as exc:
        run.log.warning("action.store_unavailable", reason=exc.message)
        return pages.message(503, say["unavailable_title"], [say["unavailable"]], locale, head_only=head)


def _failed(store: StateStore, request: ActionRequest, why: str, run: RunContext) -> None:
    """Count a bad token against its source address; past the limit, the address waits FAILURE_WINDOW."""
    count = store.count(f"actions-fail:{request.source}", FAILURE_WINDOW)
    run.log.warning("action.refused", why=why, source=request.source, failures=count)
    if count >= FAILURES_ALLOWED:
        store.remember(f"actions-blocked:{request.source}", "1", FAILURE_WINDOW)


def _already(done: str, request: ActionRequest, locale: str) -> dict[str, Any]:
    say = wording.actions(locale)
    try:
        who = json.loads(done)
        name, at = str(who["name"]), iso(float(who["at"]))
    except (ValueError, TypeError, KeyError):
        name, at = "?", "?"
    status = 409 if request.method == "POST" else 200
    line = say["already"].format(name=name, at=at)
    return pages.message(status, say["already_title"], [line], locale, head_only=request.method == "HEAD")


def _answer(request: ActionRequest, run: RunContext, store: StateStore, wiring: Wiring) -> dict[str, Any]:
    """Stages limit and verify, then confirm or act."""
    locale, now, head = run.settings.locale, run.clock(), request.method == "HEAD"
    say = wording.actions(locale)
    key = run.settings.actions_key.encode("utf-8")
    if store.recall(f"actions-blocked:{request.source}") is not None:
        return pages.message(429, say["limited_title"], [say["limited"]], locale, head_only=head)
    verified = verify(request.token, key, now)
    if isinstance(verified, Refused) and verified.why == "forged":
        _failed(store, request, "forged", run)
        return pages.message(403, say["forged_title"], [say["forged"]], locale, head_only=head)
    done = store.recall(f"actions-done:{token_id(request.token)}")
    if done is not None:
        return _already(done, request, locale)
    if isinstance(verified, Refused):
        lines = [say["expired_aged"], say["expired_hint"]]
        return pages.message(410, say["expired_title"], lines, locale, head_only=head)
    if verified.action not in LINKED:
        return pages.message(404, say["unsupported_title"], [say["unsupported"]], locale, head_only=head)
    state = store.all_states().states.get(verified.fingerprint)
    if state is None:
        _failed(store, request, "unknown alert", run)
        return pages.message(404, say["unknown_title"], [say["unknown"]], locale, head_only=head)
    if state.state != "firing" or state.sequence != verified.sequence:
        lines = [say["expired_changed"], say["expired_hint"]]
        return pages.message(410, say["expired_title"], lines, locale, head_only=head)
    if request.method != "POST":
        what = say[f"what_{verified.action}"].format(until=_until(verified.action, now))
        return pages.confirm(
            state.record, verified.action, form_value(request.token, key), what, locale, head_only=head
        )
    if not form_value_ok(request.token, key, request.form.get("csrf", "")):
        _failed(store, request, "stale form", run)
        return pages.message(403, say["stale_title"], [say["stale"]], locale)
    return _act(request, verified, state, run=run, store=store, wiring=wiring)


def _name_of(done: str) -> str:
    """Who a done-once record says acted (its typed name)."""
    try:
        return str(json.loads(done)["name"])
    except (ValueError, TypeError, KeyError):
        return ""


def _until(action: str, now: float) -> str:
    seconds = {"silence_1h": 3600.0, "silence_4h": 4 * 3600.0}.get(action)
    return iso(now + seconds) if seconds is not None else ""


def _act(
    request: ActionRequest,
    claims: Claims,
    state: AlertState,
    *,
    run: RunContext,
    store: StateStore,
    wiring: Wiring,
) -> dict[str, Any]:
    """Stage act: once per token, then tell the receivers that got the alert."""
    locale, now = run.settings.locale, run.clock()
    say = wording.actions(locale)
    tid = token_id(request.token)
    name = " ".join(clean(request.form.get("name", "")).split())[:MAX_NAME] or "link"
    comment = clean(request.form.get("comment", "")).strip()[:MAX_COMMENT]
    order = act.Order(claims.fingerprint, name, comment, now, str(uuid.uuid5(_SILENCE_IDS, tid)))
    who = json.dumps({"name": name, "at": now}, ensure_ascii=False)
    first = store.claim(f"actions-done:{tid}", who, DONE_KEPT)
    if first is not None and act.done_before(claims.action, store, replace(order, name=_name_of(first))):
        return _already(first, request, locale)
    done = act.perform(claims.action, store, order)
    store.remember(f"actions-done:{tid}", who, DONE_KEPT)
    told = announce(state, done, order, run, wiring)
    run.log.info(
        "action.done",
        action=claims.action,
        fingerprint=claims.fingerprint,
        by=name,
        told=told,
        silence=done.silence.id if done.silence else None,
    )
    lines = [say["done"].format(did=say[done.did], name=name)]
    if done.silence is not None:
        until = say["did_silence_resolved"] if done.silence.until_resolved else iso(done.silence.ends_at)
        lines.append(say["done_silence"].format(id=done.silence.id, until=until))
    lines.append(say["told"].format(receivers=", ".join(told)) if told else say["told_none"])
    return pages.message(200, say["done_title"], lines, locale)


def announce(
    state: AlertState, done: act.Done, order: act.Order, run: RunContext, wiring: Wiring
) -> list[str]:
    """Tell the receivers that got the alert what was done, through the channel layer; who was told."""
    from handler.channels.context import DeliveryContext  # noqa: PLC0415 - only when a link acted
    from handler.channels.delivery import deliver  # noqa: PLC0415
    from handler.config import resolve_project_id  # noqa: PLC0415

    got = {name for name, entry in state.deliveries.items() if entry.status in DONE}
    channels = [channel for channel in wiring.channels if channel.name in got]
    if not channels:
        return []
    record = act.announcement(state.record, done, order, run.settings.locale)
    context = DeliveryContext(
        deadline=min(run.deadline, time.monotonic() + 10.0),
        locale=run.settings.locale,
        credentials=run.credentials,
        project_id=resolve_project_id(None, run.platform, run.env) or "",
        connect_timeout=run.settings.connect_timeout,
        read_timeout=run.settings.read_timeout,
        max_attempts=run.settings.max_attempts,
        retry_base=run.settings.retry_base,
    )
    deliveries = deliver([(record, channel) for channel in channels], context, run.log)
    return [str(entry.get("receiver")) for entry in deliveries if entry.get("status") == "sent"]


def crashed(locale: str = "en") -> dict[str, Any]:
    """The page of a request the function could not answer (the log has why)."""
    say = wording.actions(locale)
    return pages.message(500, say["unavailable_title"], [say["unavailable"]], locale)
