"""Which channels are configured (`ELB_WATCH_*` variables), and how their URLs are shown in logs. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from handler.config import ConfigError
from handler.domain import CHANNEL_NAMES

REDACTED = "***"
# http is accepted only to the machine itself: tests and local relays, never the network.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Shorter values would blank ordinary words in every log line; no real token is that short.
MIN_SECRET_LENGTH = 8
# urn:smn:<region>:<project id>:<topic name>; topic names are 1-255 letters, digits, - and _.
TOPIC_URN = re.compile(r"urn:smn:([a-z]+(?:-[a-z0-9]+)+):([A-Za-z0-9]{1,64}):([A-Za-z0-9_-]{1,255})")

# (channel, URL or URN variable, secret variable or None)
_VARIABLES: tuple[tuple[str, str, str | None], ...] = (
    ("smn", "ELB_WATCH_SMN_TOPIC_URN", None),
    ("feishu", "ELB_WATCH_FEISHU_WEBHOOK", "ELB_WATCH_FEISHU_SECRET"),
    ("dingtalk", "ELB_WATCH_DINGTALK_WEBHOOK", "ELB_WATCH_DINGTALK_SECRET"),
    ("wecom", "ELB_WATCH_WECOM_WEBHOOK", None),
    ("slack", "ELB_WATCH_SLACK_WEBHOOK", None),
    ("webhook", "ELB_WATCH_WEBHOOK_URL", "ELB_WATCH_WEBHOOK_SECRET"),
    ("welink", "ELB_WATCH_WELINK_WEBHOOK", None),
    ("teams", "ELB_WATCH_TEAMS_WEBHOOK", None),
    # The integration key is the secret; ELB_WATCH_COC_REGION and _APPLICATION_ID are read beside it.
    ("coc", "ELB_WATCH_COC_INTEGRATION_KEY", None),
)
# COC (Cloud Operations Center): its intake's region (the SDK's CocRegion ids) and application id.
COC_DEFAULT_REGION = "cn-north-4"
# applicationId is mandatory in CreateReportCustomEvent; COC accepts any id, its rules may match on it.
COC_DEFAULT_APPLICATION = "elb-master-watch"
# The key sits in the request path: only letters, digits, - and _ (COC's are 32 letters and digits).
COC_KEY = re.compile(r"[A-Za-z0-9_-]{8,255}")
REGION_ID = re.compile(r"[a-z]+(?:-[a-z0-9]+)+")
COC_APPLICATION = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
# Query parameters that are part of a webhook's address, not its credential (WeLink's channel,
# a Workflows URL's api-version/sp/sv): kept out of the log scrubber so ordinary words survive.
PUBLIC_QUERY_NAMES = frozenset({"channel", "api-version", "sp", "sv"})


@dataclass(frozen=True, slots=True)
class Mention:
    """Who a receiver's messages @-mention (from the routing file only): phone numbers, user ids, all."""

    mobiles: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    all: bool = False

    def __bool__(self) -> bool:
        """Whether anybody is mentioned."""
        return bool(self.mobiles or self.user_ids or self.all)


@dataclass(frozen=True, slots=True)
class Channel:
    """One receiver: a named destination of one channel type. The URL and secret never appear in its repr.

    `name` is the receiver's name (its ledger entry, its pacing, its lane); `kind` the channel type
    (smn, feishu, …), which says how it renders and sends. Without a routing file each configured
    channel is a receiver named after its type (`kind` left empty means the same as `name`).
    """

    name: str
    url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    topic_urn: str = ""
    kind: str = ""
    mention: Mention = field(default_factory=Mention)
    # COC only: the intake's region and the applicationId its alarms carry (the key is `secret`).
    region: str = ""
    application_id: str = ""

    @property
    def type(self) -> str:
        """The channel type: how this receiver renders and sends."""
        return self.kind or self.name


def check_url(variable: str, value: str) -> None:
    """Raise ConfigError unless `value` is an https URL (or http to loopback); never echo the value."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigError(f"{variable} must be a URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port  # reading it validates the port
    except ValueError:
        raise ConfigError(f"{variable} is not a valid URL") from None
    if not host:
        raise ConfigError(f"{variable} must be a URL with a host, like https://host/path")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return
    raise ConfigError(
        f"{variable} must be an https:// URL (http:// only to 127.0.0.1, localhost or [::1]), "
        f"got scheme {parts.scheme or 'none'!r} for host {host!r}"
    )


def parse_topic_urn(urn: str) -> tuple[str, str, str] | None:
    """(region, project id, topic name) of an SMN topic URN, or None if it is not one."""
    match = TOPIC_URN.fullmatch(urn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def coc_problem(key: str, region: str, application_id: str) -> tuple[str, str] | None:
    """(setting, what is wrong) for COC settings that cannot be used, else None; never echoes the key."""
    if not COC_KEY.fullmatch(key):
        return ("integration_key", "must be COC's integration key: 8-255 letters, digits, - or _")
    if not REGION_ID.fullmatch(region):
        return ("region", f"must be a region id like cn-north-4, got {region[:64]!r}")
    if not COC_APPLICATION.fullmatch(application_id):
        return ("application_id", "must be 1-255 letters, digits, '.', ':', '-' or '_'")
    return None


def _coc(variable: str, key: str, env: Mapping[str, str]) -> Channel:
    """The default COC receiver from ELB_WATCH_COC_INTEGRATION_KEY, _REGION and _APPLICATION_ID."""
    region = env.get("ELB_WATCH_COC_REGION", "").strip() or COC_DEFAULT_REGION
    application = env.get("ELB_WATCH_COC_APPLICATION_ID", "").strip() or COC_DEFAULT_APPLICATION
    problem = coc_problem(key, region, application)
    if problem is not None:
        setting, what = problem
        shown = {"region": "ELB_WATCH_COC_REGION", "application_id": "ELB_WATCH_COC_APPLICATION_ID"}
        raise ConfigError(f"{shown.get(setting, variable)} {what}")
    return Channel("coc", secret=key, region=region, application_id=application)


def _channel(name: str, variable: str, secret_variable: str | None, env: Mapping[str, str]) -> Channel | None:
    """One channel from its variables, None when it is not configured; ConfigError names a bad variable."""
    value = env.get(variable, "").strip()
    secret = env.get(secret_variable, "").strip() if secret_variable else ""
    if not value:
        if secret:
            raise ConfigError(f"{secret_variable} is set but {variable} is not")
        return None
    if name == "smn":
        if parse_topic_urn(value) is None:
            raise ConfigError(
                f"{variable}={value!r} must look like urn:smn:<region>:<project_id>:<topic_name>"
            )
        return Channel(name, topic_urn=value)
    if name == "coc":
        return _coc(variable, value, env)
    check_url(variable, value)
    return Channel(name, url=value, secret=secret)


def usable_channels(env: Mapping[str, str]) -> tuple[list[Channel], list[str]]:
    """The channels the environment configures well, and one message per channel whose settings are unusable.

    A bad setting costs only its own channel: the others are returned and keep working.
    """
    channels: list[Channel] = []
    problems: list[str] = []
    for name, variable, secret_variable in _VARIABLES:
        try:
            channel = _channel(name, variable, secret_variable, env)
        except ConfigError as exc:
            problems.append(f"{exc}; the {name} channel is off until this is fixed")
            continue
        if channel is not None:
            channels.append(channel)
    return channels, problems


def configured_channels(env: Mapping[str, str]) -> list[Channel]:
    """The channels the environment configures, in CHANNEL_NAMES order; ConfigError names a bad variable."""
    channels: list[Channel] = []
    for name, variable, secret_variable in _VARIABLES:
        channel = _channel(name, variable, secret_variable, env)
        if channel is not None:
            channels.append(channel)
    return channels


def narrow_channels(channels: Sequence[Channel], names: Iterable[str]) -> list[Channel]:
    """The configured channels an event asks for; an event can narrow the set, never add to it.

    Raises ValueError for a name that is not a channel at all; a known channel that is not
    configured is simply not there.
    """
    wanted = list(names)
    unknown = [name for name in wanted if name not in CHANNEL_NAMES]
    if unknown:
        raise ValueError(
            f"unknown channel(s) {', '.join(map(repr, unknown))}: use {', '.join(CHANNEL_NAMES)}"
        )
    return [channel for channel in channels if channel.name in wanted]


def _token_like(segment: str) -> bool:
    """Whether a URL path segment looks like a credential: 8+ characters with a digit, or 20+ of any."""
    return len(segment) >= 20 or (len(segment) >= 8 and any(ch.isdigit() for ch in segment))


def shown_channel_url(url: str) -> str:
    """scheme://host[:port]/path with query values and token-like path segments replaced by ***.

    User info and fragments are dropped. Anything unparsable becomes "***".
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = "/".join(REDACTED if _token_like(segment) else segment for segment in parts.path.split("/"))
    query = "&".join(
        f"{name}={REDACTED}" for name, _ in parse_qsl(parts.query, keep_blank_values=True) if name
    )
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def channel_secrets(channels: Iterable[Channel]) -> tuple[str, ...]:
    """Every secret, URL and URL token of the channels, longest first, for the log scrubber."""
    found: set[str] = set()
    for channel in channels:
        found.add(channel.secret)
        if not channel.url:
            continue
        found.add(channel.url)
        try:
            parts = urlsplit(channel.url)
        except ValueError:
            continue
        query = parse_qsl(parts.query, keep_blank_values=True)
        found.update(value for name, value in query if name not in PUBLIC_QUERY_NAMES)
        # As written too (`%2B`, `+`): a service may echo the query as it came (text.secret_forms adds
        # the other encodings).
        for pair in parts.query.split("&"):
            name, _, value = pair.partition("=")
            if unquote_plus(name) not in PUBLIC_QUERY_NAMES:
                found.add(value)
        found.update(segment for segment in parts.path.split("/") if _token_like(segment))
        if parts.password:
            found.add(parts.password)
    return tuple(sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=lambda s: (-len(s), s)))
