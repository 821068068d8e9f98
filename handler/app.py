"""The composition root: build the wiring, run the use case, return the result. Never raises to the platform.

`handler.wiring` reads what the environment configures (channels, store, lifecycle) and holds the warm
instance's caches; `handler.invocation` is the use case (its stages in order, in `invocation.run`);
`handler.result` is the v1 result both the run and a crash build.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from handler import invocation, logs
from handler.actions import action_path
from handler.config import ConfigError, Settings, read_settings, request_id
from handler.events import ParsedEvent
from handler.result import RunResult
from handler.wiring import WARM, Wiring, build_wiring

__all__ = ["WARM", "apig_response", "invoke"]


def apig_response(result: dict[str, Any], parsed: ParsedEvent) -> dict[str, Any]:
    """Wrap the result in API Gateway's response shape; the status says how the call went."""
    if parsed.errors and not parsed.targets:
        status = 400
    elif result["errors"]:
        status = 502
    else:
        status = 200
    return {
        "statusCode": status,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": json.dumps(result, ensure_ascii=False),
    }


def _configure(
    env: Mapping[str, str], wall_clock: Callable[[], float], *, dry_run: bool
) -> tuple[Settings, Wiring, str | None]:
    """Settings and wiring from the environment, and what stops the watch in one message (or None).

    A setting that cannot be used falls back to its default and is one of the wiring's
    `setting_problems` (a CONFIG.INVALID entry, and a watcher_error): the watch goes on.
    """
    settings, fallbacks = read_settings(env)
    wiring = Wiring(wall_clock=wall_clock, dry_run=dry_run)
    problems: list[str] = []
    try:
        wiring = build_wiring(env, wall_clock, settings.locale, dry_run=dry_run)
    except ConfigError as exc:
        problems.append(str(exc))
    wiring = replace(wiring, setting_problems=(*fallbacks, *wiring.setting_problems))
    return settings, wiring, "; ".join(problems) if problems else None


def invoke(
    event: Any,
    context: Any,
    *,
    env: Mapping[str, str] | None = None,
    log_to: str = "stdout",
    wall_clock: Callable[[], float] = time.time,
    dry_run: bool = False,
) -> Any:
    """Run one invocation: parse the event, watch each target, notify, return the v1 result.

    `dry_run` (the CLI's `--dry-run`): assess and render as usual, but send nothing and write no state.
    """
    started = time.monotonic()
    env = os.environ if env is None else env
    if action_path(event):  # an action link (/a/{token}): a page, not a watch
        return _action(event, context, env, log_to, wall_clock)
    parsed = ParsedEvent("unknown")
    try:
        settings, wiring, config_error = _configure(env, wall_clock, dry_run=dry_run)
        logs.configure(log_to, settings.log_level)
        logs.start_invocation(request_id(context))
        fixed, wiring = invocation.start(context, env, settings, wiring)
        outcome = invocation.run(event, config_error, fixed, wiring)
        parsed = outcome.parsed
        result = invocation.result(outcome, fixed, wiring)
        invocation.summarize(outcome, result, fixed, round((time.monotonic() - started) * 1000))
    except Exception as exc:  # noqa: BLE001 - the platform must get a result, never a traceback
        result = RunResult.crashed(exc, source=parsed.source, dry_run=dry_run).to_dict()
        with contextlib.suppress(Exception):  # logging itself failed; the result still goes back
            logs.logger().exception("invocation.crashed")
    return apig_response(result, parsed) if parsed.is_apig else result


def _action(
    event: Any, context: Any, env: Mapping[str, str], log_to: str, wall_clock: Callable[[], float]
) -> dict[str, Any]:
    """Answer an action link's request (handler.actions.endpoint): an HTML page, never a traceback."""
    from handler.actions.endpoint import answer, crashed  # noqa: PLC0415 - only for action links

    started = time.monotonic()
    locale = "en"
    try:
        settings, wiring, _ = _configure(env, wall_clock, dry_run=False)
        locale = settings.locale
        logs.configure(log_to, settings.log_level)
        logs.start_invocation(request_id(context))
        fixed, wiring = invocation.start(context, env, settings, wiring)
        response = answer(event, fixed, wiring)
        fixed.log.info(
            "invocation.done",
            source="action",
            status=response["statusCode"],
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    except Exception:  # noqa: BLE001 - the platform must get a page, never a traceback
        with contextlib.suppress(Exception):
            logs.logger().exception("invocation.crashed", source="action")
        return crashed(locale)
    return response
