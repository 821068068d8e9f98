"""The routing file (`ELB_WATCH_ROUTES`): named receivers, routes that match pools, who gets the rest. Pure.

    receivers:          [{name, <one channel key>: {settings}, mention?}]
    routes:             [{match: {key: value | [values]}, receivers: [names], continue?, runbook_url?}]
    default_receivers:  [names]   what no route matched; absent: the ELB_WATCH_<CHANNEL> channels
    watcher_receivers:  [names]   where watcher_error goes; absent: every receiver
    time_intervals:     [{name, time_intervals: [...]}]   recurring windows (`handler.windows`); a
                        route's mute_time_intervals / active_time_intervals name them

`parse` reads the document (already decoded from YAML or JSON) and reports every problem at once,
each with its place in the file (`routes[1].match.severity`). `${NAME}` in a string is replaced from
the environment (secrets stay in encrypted variables); nothing else is expanded. `route` is the
routing decision for one record: the routes in order, the first match wins unless `continue: true`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as with_fields
from typing import Any
from urllib.parse import quote

from handler.channels.config import (
    COC_DEFAULT_APPLICATION,
    COC_DEFAULT_REGION,
    Channel,
    Mention,
    check_url,
    coc_problem,
    parse_topic_urn,
)
from handler.config import ConfigError
from handler.domain import CHANNEL_NAMES
from handler.windows import Window, parse_windows

RECEIVER_NAME = re.compile(r"[a-z0-9_-]{1,64}")
# ${NAME}: an environment variable's name, as POSIX shells spell it.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")
MATCH_KEYS = (
    "pool_name",
    "pool_id",
    "loadbalancer_id",
    "listener_id",
    "enterprise_project_id",
    "region",
    "project_id",
    "kind",
    "severity",
    "tag",
)
# Keys whose values are shell globs; the others match exactly.
GLOB_KEYS = frozenset({"pool_name"})
SEVERITIES = ("critical", "major", "warning", "info")
# What each channel key of a receiver takes: the settings its ELB_WATCH_* variables take.
CHANNEL_SETTINGS: dict[str, frozenset[str]] = {
    "smn": frozenset({"topic_urn"}),
    "feishu": frozenset({"webhook", "url", "secret"}),
    "dingtalk": frozenset({"webhook", "url", "secret"}),
    "wecom": frozenset({"webhook", "url"}),
    "slack": frozenset({"webhook", "url"}),
    "webhook": frozenset({"webhook", "url", "secret"}),
    "welink": frozenset({"webhook", "url"}),
    "teams": frozenset({"webhook", "url"}),
    "coc": frozenset({"integration_key", "region", "application_id"}),
}
TOP_KEYS = ("receivers", "routes", "default_receivers", "watcher_receivers", "time_intervals")
RECEIVER_KEYS = frozenset({"name", "mention", *CHANNEL_SETTINGS})
ROUTE_KEYS = frozenset(
    {"match", "receivers", "continue", "runbook_url", "mute_time_intervals", "active_time_intervals"}
)
MENTION_KEYS = frozenset({"mobiles", "user_ids", "all"})
RUNBOOK_FIELDS = ("pool_id", "pool_name", "loadbalancer_id", "region")
_RUNBOOK_FIELD = re.compile(r"\{(" + "|".join(RUNBOOK_FIELDS) + r")\}")
_MOBILE = re.compile(r"\+?[0-9][0-9-]{2,31}")
_USER_ID = re.compile(r"[A-Za-z0-9_@.:-]{1,128}")
MAX_RECEIVERS = 500
MAX_ROUTES = 2000
MAX_VALUES = 200
MAX_PROBLEMS = 50


class RoutesError(ConfigError):
    """A routing file that cannot be used: every problem, each with its place in the file."""

    def __init__(
        self, problems: Sequence[str], source: str = "ELB_WATCH_ROUTES", receivers: tuple[Channel, ...] = ()
    ) -> None:
        """Keep the problems, and the receivers that were well formed (they still get every alert)."""
        shown = list(problems[:MAX_PROBLEMS])
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"… and {len(problems) - MAX_PROBLEMS} more")
        super().__init__(f"{source}: " + "; ".join(shown))
        self.problems = tuple(problems)
        self.source = source
        self.receivers = receivers


@dataclass(frozen=True, slots=True)
class Route:
    """One route: what it matches, who it sends to, whether later routes are tried too, its runbook.

    `match` holds (key, values) pairs, every key must match and a key matches when any of its values
    does; `tags` (load balancer tag key, value or glob) pairs, all of which must match.
    """

    place: str
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    receivers: tuple[str, ...] = ()
    proceed: bool = False
    runbook_url: str = ""
    # The names of the windows that hold what it routes (mute), or outside which it holds it (active).
    mute: tuple[str, ...] = ()
    active: tuple[str, ...] = ()
    # The match compiled once: per key a set of exact values or one regular expression of its globs.
    tests: tuple[tuple[str, frozenset[str] | Glob], ...] = field(default=(), repr=False, compare=False)
    tag_tests: tuple[tuple[str, Glob], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        """Compile the match (routing 10,000 findings through 50 routes must take milliseconds)."""
        tests = tuple((key, _compiled(key, values)) for key, values in self.match)
        object.__setattr__(self, "tests", tests)
        object.__setattr__(self, "tag_tests", tuple((key, _glob((value,))) for key, value in self.tags))


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """A parsed routing file: its receivers, routes, and who gets what no route matched.

    `default_receivers` None: the environment's channels; `watcher_receivers` None: every receiver.
    """

    receivers: tuple[Channel, ...] = ()
    routes: tuple[Route, ...] = ()
    default_receivers: tuple[str, ...] | None = None
    watcher_receivers: tuple[str, ...] | None = None
    source: str = ""
    windows: Mapping[str, Window] = field(default_factory=dict)
    index: RouteIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the routes once: a finding is then tested only against the routes it could match."""
        object.__setattr__(self, "index", RouteIndex.of(self.routes))

    @property
    def uses_tags(self) -> bool:
        """Whether some route matches on load balancer tags."""
        return any(route.tags for route in self.routes)


# Match keys from the most selective to the least: each route is indexed on its most selective one.
_SELECTIVE = ("pool_id", "listener_id", "loadbalancer_id", "pool_name", "enterprise_project_id", "project_id")
_WILDCARDS = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class RouteIndex:
    """Which routes a finding could match, found by lookups instead of testing every route.

    Each route is filed under one of its exact values (`exact`), or the literal prefix of its pool_name
    globs (`prefixes`, looked up by the finding's name cut to each prefix length), or, when it has
    neither, under `always`. Candidates are then tested in file order, so the result is the same as
    testing every route.
    """

    always: tuple[int, ...] = ()
    exact: Mapping[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    prefixes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()
    # The match keys `exact` files routes under, and whether it files any under a tag.
    keys: tuple[str, ...] = ()
    by_tag: bool = False
    # The fields routing needs: the keys some route matches on, and the runbook links' fields.
    used: frozenset[str] = frozenset()
    # The routes filed under a tag, by (tag key, value): looked up with a load balancer's tag items as is.
    tag_exact: Mapping[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, routes: Sequence[Route]) -> RouteIndex:
        """The index of routes, in order."""
        always: list[int] = []
        exact: dict[tuple[str, str], list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for position, route in enumerate(routes):
            given = dict(route.match)
            key = next((k for k in _SELECTIVE if k in given), None)
            plain_tags = [(k, v) for k, v in route.tags if not _WILDCARDS.search(v)]
            if key is None and plain_tags:
                exact.setdefault((f"tag:{plain_tags[0][0]}", plain_tags[0][1]), []).append(position)
                continue
            if key == "pool_name":
                literal = [_WILDCARDS.split(pattern, 1)[0] for pattern in given[key]]
                if all(literal):
                    for prefix in literal:
                        prefixes.setdefault(prefix, []).append(position)
                    continue
                key = next((k for k in _SELECTIVE[4:] if k in given), None)
            if key is None:
                always.append(position)
                continue
            for value in given[key]:
                exact.setdefault((key, value), []).append(position)
        return cls(
            tuple(always),
            {k: tuple(v) for k, v in exact.items()},
            {k: tuple(v) for k, v in prefixes.items()},
            tuple(sorted({len(prefix) for prefix in prefixes})),
            tuple(k for k in _SELECTIVE if any(key == k for key, _ in exact)),
            any(key.startswith("tag:") for key, _ in exact),
            frozenset(
                {key for route in routes for key, _ in route.match}
                | (set(RUNBOOK_FIELDS) if any(route.runbook_url for route in routes) else set())
            ),
            {(k[4:], v): tuple(p) for (k, v), p in exact.items() if k.startswith("tag:")},
        )

    def candidates(
        self, fields: Mapping[str, tuple[str, ...]], tags: Sequence[Mapping[str, str]] = ()
    ) -> list[int]:
        """The positions of the routes a finding with these fields (and tags) could match, in order."""
        found = list(self.always)  # a list extended with tuples: cheaper than a set for the 0-2 hits usual
        exact = self.exact
        for key in self.keys:
            for value in fields.get(key, ()):
                hit = exact.get((key, value))
                if hit:
                    found += hit
        if self.by_tag:
            tag_exact = self.tag_exact
            for lb in tags:
                for item in lb.items():  # (key, value): the index's own key, no string built per tag
                    hit = tag_exact.get(item)
                    if hit:
                        found += hit
        prefixes = self.prefixes
        if prefixes:
            for name in fields.get("pool_name", ()):
                for length in self.lengths:
                    hit = prefixes.get(name[:length])
                    if hit:
                        found += hit
        return sorted(set(found)) if len(found) > 1 else found


@dataclass(frozen=True, slots=True)
class Routed:
    """Where one record goes: the receivers, the routes that matched (their places), its runbook link."""

    receivers: tuple[str, ...]
    matched: tuple[str, ...] = ()
    runbook_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The record's `route` block: what `routes test` prints and the result shows."""
        block: dict[str, Any] = {"receivers": list(self.receivers), "matched": list(self.matched)}
        if self.runbook_url:
            block["runbook_url"] = self.runbook_url
        return block


@dataclass(slots=True)
class _Reader:
    """Collects the problems of one routing file while it is read (every problem, not the first)."""

    env: Mapping[str, str]
    problems: list[str] = field(default_factory=list)

    def problem(self, place: str, text: str) -> None:
        self.problems.append(f"{place}: {text}")

    def text(self, value: Any, place: str) -> str | None:
        """A string with its ${NAME} references replaced; None (and a problem) for anything else."""
        if not isinstance(value, str):
            self.problem(place, f"must be a string, got {_kind(value)}")
            return None
        missing: list[str] = []

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name not in self.env:
                missing.append(name)
                return ""
            return self.env[name]

        expanded = _REFERENCE.sub(replace, value)
        if missing:
            self.problem(place, f"${{{missing[0]}}} is not set in the environment")
            return None
        return expanded.strip()

    def names(self, value: Any, place: str) -> tuple[str, ...] | None:
        """A list of receiver names."""
        if not isinstance(value, list) or not value:
            self.problem(place, f"must be a non-empty list of receiver names, got {_kind(value)}")
            return None
        names = []
        for index, item in enumerate(value[:MAX_VALUES]):
            if isinstance(item, str) and RECEIVER_NAME.fullmatch(item):
                names.append(item)
            else:
                self.problem(
                    f"{place}[{index}]", f"is not a receiver name ([a-z0-9_-]{{1,64}}): {_shown(item)}"
                )
        return tuple(dict.fromkeys(names))


def _kind(value: Any) -> str:
    """How a wrong value is described: its JSON type, never the value (it may be a secret)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else _kind(value)
    return repr(text[:64] + "…" if len(text) > 64 else text)


def _mention(reader: _Reader, value: Any, place: str) -> Mention:
    if not isinstance(value, Mapping):
        reader.problem(place, f"must be an object with mobiles, user_ids or all, got {_kind(value)}")
        return Mention()
    for key in sorted(str(k) for k in value if k not in MENTION_KEYS):
        reader.problem(f"{place}.{key}", "is not a mention key: use mobiles, user_ids or all")
    found: dict[str, tuple[str, ...]] = {}
    for key, pattern in (("mobiles", _MOBILE), ("user_ids", _USER_ID)):
        items = value.get(key, [])
        if not isinstance(items, list):
            reader.problem(f"{place}.{key}", f"must be a list, got {_kind(items)}")
            continue
        kept = []
        for index, item in enumerate(items[:MAX_VALUES]):
            text = reader.text(item, f"{place}.{key}[{index}]")
            if text is not None and not pattern.fullmatch(text):
                reader.problem(f"{place}.{key}[{index}]", f"is not a valid {key[:-1].replace('_', ' ')}")
            elif text is not None:
                kept.append(text)
        found[key] = tuple(dict.fromkeys(kept))
    everyone = value.get("all", False)
    if not isinstance(everyone, bool):
        reader.problem(f"{place}.all", f"must be true or false, got {_kind(everyone)}")
        everyone = False
    return Mention(found.get("mobiles", ()), found.get("user_ids", ()), everyone)


def _destination(reader: _Reader, name: str, kind: str, value: Any, place: str) -> Channel | None:
    """The channel a receiver's channel key configures, checked as its ELB_WATCH_* variables are."""
    if not isinstance(value, Mapping):
        reader.problem(place, f"must be an object of settings, got {_kind(value)}")
        return None
    allowed = CHANNEL_SETTINGS[kind]
    for key in sorted(str(k) for k in value if k not in allowed):
        reader.problem(f"{place}.{key}", f"is not a {kind} setting: use {', '.join(sorted(allowed))}")
    settings = {key: reader.text(value[key], f"{place}.{key}") for key in allowed if key in value}
    if any(text is None for text in settings.values()):
        return None
    if kind == "smn":
        urn = settings.get("topic_urn") or ""
        if parse_topic_urn(urn) is None:
            reader.problem(f"{place}.topic_urn", "must look like urn:smn:<region>:<project_id>:<topic_name>")
            return None
        return Channel(name, topic_urn=urn, kind=kind)
    if kind == "coc":
        return _coc_destination(reader, name, settings, place)
    if "webhook" in settings and "url" in settings:
        reader.problem(place, "has both webhook and url: give one")
        return None
    url = settings.get("webhook") or settings.get("url") or ""
    try:
        check_url(f"{place}.{'url' if 'url' in settings else 'webhook'}", url)
    except ConfigError as exc:
        reader.problems.append(str(exc))
        return None
    return Channel(name, url=url, secret=settings.get("secret") or "", kind=kind)


def _coc_destination(
    reader: _Reader, name: str, settings: Mapping[str, str | None], place: str
) -> Channel | None:
    """A COC receiver: its integration key (a secret: never echoed), region and application id."""
    key = settings.get("integration_key") or ""
    region = settings.get("region") or COC_DEFAULT_REGION
    application = settings.get("application_id") or COC_DEFAULT_APPLICATION
    problem = coc_problem(key, region, application)
    if problem is not None:
        reader.problem(f"{place}.{problem[0]}", problem[1])
        return None
    return Channel(name, secret=key, kind="coc", region=region, application_id=application)


def _receiver(reader: _Reader, value: Any, place: str) -> Channel | None:
    if not isinstance(value, Mapping):
        reader.problem(place, f"must be an object with a name and one channel key, got {_kind(value)}")
        return None
    for key in sorted(str(k) for k in value if k not in RECEIVER_KEYS):
        reader.problem(
            f"{place}.{key}", f"is not a receiver key: use name, mention or one of {', '.join(CHANNEL_NAMES)}"
        )
    name = value.get("name")
    if not isinstance(name, str) or not RECEIVER_NAME.fullmatch(name):
        reader.problem(f"{place}.name", f"must be a receiver name ([a-z0-9_-]{{1,64}}), got {_shown(name)}")
        return None
    kinds = [key for key in CHANNEL_NAMES if key in value]
    if len(kinds) != 1:
        given = f"{len(kinds)} ({', '.join(kinds)})" if kinds else "none"
        reader.problem(
            place,
            f"receiver {name!r} must have exactly one channel key of {', '.join(CHANNEL_NAMES)}, has {given}",
        )
        return None
    channel = _destination(reader, name, kinds[0], value[kinds[0]], f"{place}.{kinds[0]}")
    if channel is None:
        return None
    if "mention" in value:
        mention = _mention(reader, value["mention"], f"{place}.mention")
        return with_fields(channel, mention=mention)
    return channel


def _match_values(reader: _Reader, key: str, value: Any, place: str) -> tuple[str, ...]:
    """A match key's values: a string or a non-empty list of strings (severities checked)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        reader.problem(place, "is an empty list: it could never match")
    values = []
    for index, item in enumerate(items[:MAX_VALUES]):
        where = f"{place}[{index}]" if isinstance(value, list) else place
        text = reader.text(item, where)
        if text is None:
            continue
        if key == "severity" and text not in SEVERITIES:
            reader.problem(where, f"is not a severity: use {', '.join(SEVERITIES)}")
            continue
        values.append(text)
    return tuple(dict.fromkeys(values))


def _tags(reader: _Reader, value: Any, place: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not value:
        reader.problem(place, f"must be an object of tag key: value (or glob), got {_kind(value)}")
        return ()
    found = []
    for key, expected in value.items():
        text = reader.text(expected, f"{place}.{key}")
        if text is not None:
            found.append((str(key), text))
    return tuple(found)


def _match(
    reader: _Reader, value: Any, place: str
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[tuple[str, str], ...]]:
    if not isinstance(value, Mapping):
        reader.problem(place, f"must be an object of match keys, got {_kind(value)}")
        return (), ()
    match: list[tuple[str, tuple[str, ...]]] = []
    tags: tuple[tuple[str, str], ...] = ()
    for key, given in value.items():
        if key not in MATCH_KEYS:
            reader.problem(f"{place}.{key}", f"is not a match key: use {', '.join(MATCH_KEYS)}")
        elif key == "tag":
            tags = _tags(reader, given, f"{place}.tag")
        else:
            match.append((str(key), _match_values(reader, str(key), given, f"{place}.{key}")))
    return tuple(match), tags


def _runbook(reader: _Reader, value: Any, place: str) -> str:
    text = reader.text(value, place)
    if text is None:
        return ""
    if not text.startswith("https://"):
        reader.problem(place, "must be an https:// URL (people open it from the message)")
        return ""
    try:
        check_url(place, _RUNBOOK_FIELD.sub("x", text))
    except ConfigError as exc:
        reader.problems.append(str(exc))
        return ""
    return text


def _window_names(reader: _Reader, value: Any, place: str) -> tuple[str, ...]:
    """A route's mute_time_intervals or active_time_intervals: a list of time interval names."""
    if not isinstance(value, list) or not value:
        reader.problem(place, f"must be a non-empty list of time interval names, got {_kind(value)}")
        return ()
    names = []
    for index, item in enumerate(value[:MAX_VALUES]):
        if isinstance(item, str) and item:
            names.append(item)
        else:
            reader.problem(f"{place}[{index}]", f"is not a time interval name: {_shown(item)}")
    return tuple(dict.fromkeys(names))


def _route(reader: _Reader, value: Any, place: str) -> Route | None:
    if not isinstance(value, Mapping):
        reader.problem(place, f"must be an object with match and receivers, got {_kind(value)}")
        return None
    for key in sorted(str(k) for k in value if k not in ROUTE_KEYS):
        reader.problem(f"{place}.{key}", f"is not a route key: use {', '.join(sorted(ROUTE_KEYS))}")
    match, tags = _match(reader, value.get("match", {}), f"{place}.match")
    receivers = reader.names(value.get("receivers"), f"{place}.receivers") or ()
    proceed = value.get("continue", False)
    if not isinstance(proceed, bool):
        reader.problem(f"{place}.continue", f"must be true or false, got {_kind(proceed)}")
        proceed = False
    runbook = _runbook(reader, value["runbook_url"], f"{place}.runbook_url") if "runbook_url" in value else ""
    windows = {
        key: _window_names(reader, value[key], f"{place}.{key}") if key in value else ()
        for key in ("mute_time_intervals", "active_time_intervals")
    }
    return Route(
        place,
        match,
        tags,
        receivers,
        proceed,
        runbook,
        windows["mute_time_intervals"],
        windows["active_time_intervals"],
    )


def _listed(reader: _Reader, document: Mapping[str, Any], key: str, limit: int) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        reader.problem(key, f"must be a list, got {_kind(value)}")
        return []
    if len(value) > limit:
        reader.problem(key, f"has {len(value)} entries; at most {limit}")
        return []
    return value


def _receivers(
    reader: _Reader, document: Mapping[str, Any], known: Sequence[Channel]
) -> tuple[list[Channel], set[str]]:
    """The file's receivers, and every name declared (a broken receiver's too: no cascade of problems).

    A name used twice, or already an environment channel's, is a problem.
    """
    taken = {channel.name: "an ELB_WATCH_* channel" for channel in known}
    found = []
    declared = set(taken)
    for index, value in enumerate(_listed(reader, document, "receivers", MAX_RECEIVERS)):
        name = value.get("name") if isinstance(value, Mapping) else None
        if isinstance(name, str) and RECEIVER_NAME.fullmatch(name):
            declared.add(name)
        receiver = _receiver(reader, value, f"receivers[{index}]")
        if receiver is None:
            continue
        if receiver.name in taken:
            reader.problem(
                f"receivers[{index}].name", f"{receiver.name!r} is already the name of {taken[receiver.name]}"
            )
            continue
        taken[receiver.name] = f"receivers[{index}]"
        found.append(receiver)
    return found, declared


def _check_names(reader: _Reader, place: str, names: Sequence[str], known: set[str]) -> None:
    for name in names:
        if name not in known:
            choices = ", ".join(sorted(known)) or "none are configured"
            reader.problem(place, f"names unknown receiver {name!r} (receivers: {choices})")


def parse(
    document: Any, env: Mapping[str, str], known: Sequence[Channel] = (), source: str = "ELB_WATCH_ROUTES"
) -> RouteConfig:
    """The routing file as a RouteConfig; RoutesError lists every problem with its place.

    `known` are the environment's channels (receivers named after their types): a route may name
    them, and a file receiver may not take their names.
    """
    reader = _Reader(env)
    if not isinstance(document, Mapping):
        raise RoutesError(
            [f"the routing file must be an object with {', '.join(TOP_KEYS)}, got {_kind(document)}"], source
        )
    for key in sorted(str(k) for k in document if k not in TOP_KEYS):
        reader.problem(key, f"is not a routing file key: use {', '.join(TOP_KEYS)}")
    receivers, names = _receivers(reader, document, known)
    routes = [
        route
        for index, value in enumerate(_listed(reader, document, "routes", MAX_ROUTES))
        if (route := _route(reader, value, f"routes[{index}]")) is not None
    ]
    windows = (
        parse_windows(document["time_intervals"], reader.problem) if "time_intervals" in document else {}
    )
    for route in routes:
        _check_names(reader, f"{route.place}.receivers", route.receivers, names)
        _check_windows(reader, route, windows)
    chosen: dict[str, tuple[str, ...] | None] = {}
    for key in ("default_receivers", "watcher_receivers"):
        chosen[key] = reader.names(document[key], key) if key in document else None
        _check_names(reader, key, chosen[key] or (), names)
    if reader.problems:
        raise RoutesError(reader.problems, source, tuple(receivers))
    return RouteConfig(
        tuple(receivers),
        tuple(routes),
        chosen["default_receivers"],
        chosen["watcher_receivers"],
        source,
        windows,
    )


def _check_windows(reader: _Reader, route: Route, windows: Mapping[str, Window]) -> None:
    for key, names in (("mute_time_intervals", route.mute), ("active_time_intervals", route.active)):
        for name in names:
            if name not in windows:
                choices = ", ".join(sorted(windows)) or "none are defined"
                reader.problem(
                    f"{route.place}.{key}",
                    f"names unknown time interval {name!r} (time_intervals: {choices})",
                )


# --- routing one record ------------------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...]:
    kind = type(value)
    if kind is str:
        return (value,) if value else ()
    if kind is list or kind is tuple:
        if len(value) == 1 and type(value[0]) is str and value[0]:
            return (value[0],)
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


@dataclass(frozen=True, slots=True)
class _Plain:
    """Globs that are only literals and `literal*` prefixes: tested without a regular expression.

    Same answers as fnmatch's translation (a trailing `*` matches anything, newlines included); most
    routing files write only these, and 50 of them compile in microseconds instead of milliseconds.
    """

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def match(self, value: str) -> bool:
        """Whether the value is one of the literals or starts with one of the prefixes."""
        return value in self.exact or value.startswith(self.prefixes)


Glob = _Plain | re.Pattern[str]
"""What a key's globs compile to: a `match(value)` test."""


def _glob(patterns: Sequence[str]) -> Glob:
    """One test for shell globs (fnmatch's own translation, case-sensitive)."""
    literal = [p for p in patterns if not _WILDCARDS.search(p)]
    prefixes = [p[:-1] for p in patterns if p.endswith("*") and p[:-1] and not _WILDCARDS.search(p[:-1])]
    if patterns and len(literal) + len(prefixes) == len(patterns):
        return _Plain(frozenset(literal), tuple(prefixes))
    return re.compile("|".join(f"(?:{fnmatch.translate(pattern)})" for pattern in patterns) or "(?!)")


def _compiled(key: str, values: tuple[str, ...]) -> frozenset[str] | Glob:
    return _glob(values) if key in GLOB_KEYS else frozenset(values)


def fields_of(record: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The values a record offers each match key (a pool on two load balancers offers both)."""
    return fields_from(
        record.get("pool"),
        record.get("check"),
        (record.get("region"), record.get("project_id"), record.get("kind"), record.get("severity")),
    )


_POOL_FIELDS = {
    "pool_name": "name",
    "pool_id": "id",
    "loadbalancer_id": "loadbalancer_ids",
    "enterprise_project_id": "enterprise_project_id",
}
_SCALARS = ("region", "project_id", "kind", "severity")


_Plan = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, int], ...], bool]
_PLANS: dict[frozenset[str] | tuple[str, ...], _Plan] = {}


def _plan(keys: Collection[str]) -> _Plan:
    """Which pool fields and scalars `fields_from` reads for these keys (kept per key set: one per file)."""
    plan = (
        tuple((key, name) for key, name in _POOL_FIELDS.items() if key in keys),
        tuple((key, index) for index, key in enumerate(_SCALARS) if key in keys),
        "listener_id" in keys,
    )
    if isinstance(keys, frozenset | tuple) and len(_PLANS) < 64:
        _PLANS[keys] = plan
    return plan


def fields_from(
    pool: Any, check: Any, scalars: tuple[Any, Any, Any, Any], keys: Collection[str] = MATCH_KEYS
) -> dict[str, tuple[str, ...]]:
    """The match fields (only `keys`) of a pool block, a check block and region, project, kind, severity."""
    if type(pool) is not dict:  # the common case first: isinstance against Mapping costs per finding
        pool = pool if isinstance(pool, Mapping) else {}
    try:
        plan = _PLANS[keys]  # type: ignore[index]  # a list of keys is unhashable: TypeError, planned anew
    except (KeyError, TypeError):
        plan = _plan(keys)
    fields: dict[str, tuple[str, ...]] = {}
    for key, name in plan[0]:
        value = pool.get(name)
        fields[key] = (value,) if type(value) is str and value else _strings(value)
    for key, index in plan[1]:
        value = scalars[index]
        fields[key] = (value,) if type(value) is str and value else _strings(value)
    if plan[2]:
        listeners = _strings(pool.get("listener_ids"))
        checked = _strings(check.get("listener_id")) if isinstance(check, Mapping) else ()
        fields["listener_id"] = (
            (*listeners, *checked) if checked and checked[0] not in listeners else listeners
        )
    return fields


def _offers(test: frozenset[str] | Glob, offered: tuple[str, ...]) -> bool:
    if type(test) is frozenset:
        return not test.isdisjoint(offered)
    for value in offered:  # noqa: SIM110 - a loop, not any(generator): runs per candidate and finding
        if test.match(value):  # type: ignore[union-attr]  # not a frozenset: a Glob
            return True
    return False


def _tags_match(route: Route, tags: Sequence[Mapping[str, str]]) -> bool:
    """Whether one of the pool's load balancers has every wanted tag (value or glob)."""
    for lb in tags:
        for key, test in route.tag_tests:
            value = lb.get(key)
            if value is None or not test.match(value):
                break
        else:
            return True
    return False


def matches(
    route: Route, fields: Mapping[str, tuple[str, ...]], tags: Sequence[Mapping[str, str]] = ()
) -> bool:
    """Whether a record with these fields (and its load balancers' tags) matches a route."""
    for key, test in route.tests:
        if not _offers(test, fields.get(key, ())):
            return False
    return not route.tag_tests or _tags_match(route, tags)


def runbook_link(template: str, fields: Mapping[str, tuple[str, ...]]) -> str:
    """A route's runbook_url with {pool_id}, {pool_name}, {loadbalancer_id} and {region} URL-encoded."""
    values = {name: fields.get(name, ()) for name in RUNBOOK_FIELDS}
    return _RUNBOOK_FIELD.sub(lambda found: quote(next(iter(values[found.group(1)]), ""), safe=""), template)


def route(
    config: RouteConfig,
    record: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]] = (),
    *,
    default: Sequence[str] = (),
) -> Routed:
    """Where a record goes (see `route_fields`)."""
    return route_fields(config, fields_of(record), tags, default=default)


def route_fields(
    config: RouteConfig,
    fields: Mapping[str, tuple[str, ...]],
    tags: Sequence[Mapping[str, str]] = (),
    *,
    default: Sequence[str] = (),
) -> Routed:
    """Where a finding goes: the matching routes' receivers in order (first match wins unless continue).

    No route matched: the default receivers (the file's, else `default`, the environment's channels).
    The runbook is the first matching route's that has one.
    """
    receivers: list[str] = []
    matched: list[str] = []
    runbook = ""
    routes = config.routes
    for position in config.index.candidates(fields, tags):
        candidate = routes[position]
        if not matches(candidate, fields, tags):
            continue
        matched.append(candidate.place)
        receivers.extend(candidate.receivers)
        if candidate.runbook_url and not runbook:
            runbook = runbook_link(candidate.runbook_url, fields)
        if not candidate.proceed:
            break
    if not matched:
        receivers = list(config.default_receivers if config.default_receivers is not None else default)
    return Routed(
        tuple(receivers if len(matched) == 1 else dict.fromkeys(receivers)), tuple(matched), runbook
    )
