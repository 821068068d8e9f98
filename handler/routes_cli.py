"""`config check` and `routes test`: the configuration and the routing file as the function reads them.

elb-master-watch config check                 every receiver and route, secrets redacted; exit 0,
                                              or 2 with every problem (and its place in the file)
elb-master-watch routes test --pool-name pay-api [--severity critical] [--tag team=search] …
                                              the receivers that alert would reach, and the route
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from handler import routing_file
from handler.channels.config import Channel, shown_channel_url
from handler.receivers import Receivers
from handler.textview import dumps, emit, table

EXIT_OK = 0
EXIT_PROBLEMS = 2
EXIT_USAGE = 64


def _say(message: str) -> None:
    emit(f"elb-master-watch: {message}", sys.stderr)


def read_receivers(env: Mapping[str, str]) -> Receivers:
    """The receivers and routes, read exactly as the function reads them (handler.wiring.with_routes)."""
    from handler.channels.config import usable_channels  # noqa: PLC0415
    from handler.wiring import with_routes  # noqa: PLC0415

    found, problems = usable_channels(env)
    return with_routes(env, Receivers(tuple(found), tuple(problems)))


def _settings_problems(env: Mapping[str, str]) -> list[str]:
    """What the function's other settings say is wrong (each ConfigError, split into its problems)."""
    from handler.config import ConfigError, load_lifecycle_settings, load_settings  # noqa: PLC0415
    from handler.state.url import shown_store_url  # noqa: PLC0415
    from handler.wiring import group_threshold  # noqa: PLC0415

    problems: list[str] = []
    for check in (load_settings, load_lifecycle_settings, group_threshold):
        try:
            check(env)
        except ConfigError as exc:
            problems.extend(str(exc).split("; "))
    problems.extend(_actions_problem(env))
    url = env.get("ELB_WATCH_STATE", "").strip()
    if url.lower().startswith(("redis://", "rediss://")) and importlib.util.find_spec("redis") is None:
        problems.append(f"ELB_WATCH_STATE={shown_store_url(url)} needs the redis package (the redis extra)")
    return problems


def _actions_problem(env: Mapping[str, str]) -> list[str]:
    """Why the action links asked for (ELB_WATCH_ACTIONS_URL/_KEY) are off, when the store is the reason."""
    from handler.actions.links import off_because  # noqa: PLC0415
    from handler.config import read_settings  # noqa: PLC0415

    settings, _ = read_settings(env)
    why = off_because(settings, env, "on")
    return [why] if why else []


def describe(channel: Channel) -> dict[str, Any]:
    """A receiver as `config check` shows it: never a secret (URL tokens are ***)."""
    shown: dict[str, Any] = {"name": channel.name, "channel": channel.type}
    if channel.type == "smn":
        shown["topic_urn"] = channel.topic_urn
    elif channel.type == "coc":
        # The integration key is a secret: only where the alarms go.
        shown["coc"] = f"COC {channel.region}, application {channel.application_id}"
    else:
        shown["url"] = shown_channel_url(channel.url)
        shown["signed"] = bool(channel.secret)
    mention = channel.mention
    if mention:
        shown["mention"] = {
            "mobiles": [f"***{m[-4:]}" for m in mention.mobiles],
            "user_ids": list(mention.user_ids),
            "all": mention.all,
        }
    return shown


def _routes_view(receivers: Receivers) -> list[dict[str, Any]]:
    config = receivers.routes
    if config is None:
        return []
    view = []
    for route in config.routes:
        match: dict[str, Any] = {key: list(values) for key, values in route.match}
        if route.tags:
            match["tag"] = dict(route.tags)
        entry: dict[str, Any] = {"route": route.place, "match": match, "receivers": list(route.receivers)}
        if route.proceed:
            entry["continue"] = True
        if route.runbook_url:
            entry["runbook_url"] = route.runbook_url
        view.append(entry)
    return view


def config_check(*, output: str, env: Mapping[str, str] | None = None) -> int:
    """Print the receivers and routes the function would use; exit 2 listing every problem."""
    env = os.environ if env is None else env
    receivers = read_receivers(env)
    problems = [*_settings_problems(env), *receivers.problems]
    config = receivers.routes
    report = {
        "routes_file": config.source if config else (routing_file.configured(env) or None),
        "receivers": [describe(channel) for channel in receivers.channels],
        "routes": _routes_view(receivers),
        "default_receivers": list(config.default_receivers) if config and config.default_receivers else None,
        "watcher_receivers": list(config.watcher_receivers) if config and config.watcher_receivers else None,
        "problems": problems,
    }
    if output == "json":
        emit(dumps(report))
    else:
        emit(_config_text(report))
    return EXIT_PROBLEMS if problems else EXIT_OK


def _config_text(report: Mapping[str, Any]) -> str:
    source = report["routes_file"] or "none (ELB_WATCH_ROUTES unset): every receiver gets every alert"
    lines = [f"Routing file: {source}"]
    rows = [
        [
            r["name"],
            r["channel"],
            r.get("topic_urn") or r.get("url") or r.get("coc"),
            _mention_text(r.get("mention")),
        ]
        for r in report["receivers"]
    ]
    lines += [
        "",
        f"Receivers ({len(rows)}):",
        *table(("receiver", "channel", "destination", "mention"), rows),
    ]
    if report["routes"]:
        rows = [
            [
                r["route"],
                _match_text(r["match"]),
                ", ".join(r["receivers"]),
                "yes" if r.get("continue") else "",
            ]
            for r in report["routes"]
        ]
        lines += ["", "Routes (in order; the first match wins unless continue):"]
        lines += table(("route", "match", "receivers", "continue"), rows)
        lines.append(
            f"Default receivers: {', '.join(report['default_receivers'] or ['the ELB_WATCH_* channels'])}"
        )
        lines.append(f"Watcher receivers: {', '.join(report['watcher_receivers'] or ['every receiver'])}")
    problems = report["problems"]
    lines += ["", f"Problems ({len(problems)}):" if problems else "No problems."]
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)


def _mention_text(mention: Mapping[str, Any] | None) -> str:
    if not mention:
        return ""
    parts = [*mention["mobiles"], *mention["user_ids"], *(["@all"] if mention["all"] else [])]
    return ", ".join(parts)


def _match_text(match: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for key, value in match.items():
        if key == "tag":
            parts.extend(f"tag.{k}={v}" for k, v in value.items())
        else:
            parts.append(f"{key}={'|'.join(value)}")
    return " ".join(parts) or "(everything)"


# -- routes test ------------------------------------------------------------------------------------


def probe_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """The record of the alert `routes test` asks about (only the fields routes match on)."""
    return {
        "kind": values.get("kind") or "master_failed",
        "severity": values.get("severity") or "critical",
        "status": "firing",
        "region": values.get("region") or "",
        "project_id": values.get("project_id") or "",
        "pool": {
            "id": values.get("pool_id") or "",
            "name": values.get("pool_name") or "",
            "loadbalancer_ids": [values["loadbalancer_id"]] if values.get("loadbalancer_id") else [],
            "listener_ids": [values["listener_id"]] if values.get("listener_id") else [],
            "enterprise_project_id": values.get("enterprise_project_id") or "",
        },
    }


def parse_tags(pairs: Sequence[str]) -> dict[str, str] | str:
    """`--tag team=search` pairs as a dict, or the problem with one of them."""
    tags = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            return f"--tag {pair!r} must be KEY=VALUE"
        tags[key] = value
    return tags


def routes_test(
    *, values: Mapping[str, Any], tags: Sequence[str], output: str, env: Mapping[str, str] | None = None
) -> int:
    """Print the receivers an alert with these fields would reach, and the route(s) that matched."""
    from handler.routes import route  # noqa: PLC0415

    env = os.environ if env is None else env
    parsed_tags = parse_tags(tags)
    if isinstance(parsed_tags, str):
        _say(parsed_tags)
        return EXIT_USAGE
    receivers = read_receivers(env)
    for problem in receivers.problems:
        _say(problem)
    config = receivers.routes
    record = probe_record(values)
    if config is None:
        broken = (
            "the routing file cannot be used (see above)"
            if routing_file.configured(env)
            else "no routing file"
        )
        answer: dict[str, Any] = {
            "receivers": list(receivers.names),
            "matched": [],
            "why": f"{broken}: every receiver gets every alert",
        }
    else:
        default = tuple(c.name for c in receivers.channels if c not in config.receivers)
        routed = route(config, record, [parsed_tags] if parsed_tags else [], default=default)
        answer = routed.as_dict()
        answer["why"] = (
            f"matched {', '.join(routed.matched)}"
            if routed.matched
            else "no route matched: the default receivers"
        )
    if output == "json":
        emit(dumps(answer))
    else:
        emit(_routes_text(answer, receivers))
    return EXIT_PROBLEMS if receivers.problems else EXIT_OK


def _routes_text(answer: Mapping[str, Any], receivers: Receivers) -> str:
    kinds = {channel.name: channel.type for channel in receivers.channels}
    lines = [f"{answer['why']}"]
    rows = [[name, kinds.get(name, "?")] for name in answer["receivers"]]
    lines += (
        table(("receiver", "channel"), rows) if rows else ["  (no receiver: the alert would reach nobody)"]
    )
    if answer.get("runbook_url"):
        lines.append(f"Runbook: {answer['runbook_url']}")
    return "\n".join(lines)
