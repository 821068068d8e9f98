"""Settings (`ELB_WATCH_*`), credentials and project resolution. Pure: the environment is passed in."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from handler.text import whole_number

if TYPE_CHECKING:
    from handler.lifecycle import LifecycleSettings

LOCALES = ("en", "zh")


class ConfigError(ValueError):
    """A setting that cannot be used, with the variable named."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the environment configures. Every field maps to one `ELB_WATCH_*` variable."""

    region: str | None = None
    locale: str = "en"
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    reserve: float = 2.0
    max_attempts: int = 4
    retry_base: float = 1.0
    poll_interval: float = 1.0
    log_level: str = "info"
    diagnose: bool = True
    diagnose_ttl: float = 900.0
    concurrency: int = 8
    api_rate: float = 10.0
    # Cloud Eye custom metrics (ELB_WATCH_METRICS, ELB_WATCH_METRICS_NAMESPACE): the namespace, None off.
    metrics_namespace: str | None = None
    # Action links (issue 23, handler.actions): the public base URL and the signing key; "" is off.
    actions_url: str = ""
    actions_key: str = field(default="", repr=False)


# The longest duration a setting accepts: beyond it a value is a typo, and would overflow later.
MAX_DURATION_SECONDS = 366 * 86400.0


def shown(raw: str, limit: int = 40) -> str:
    """A setting's value quoted for an error message: at most `limit` characters, never a wall of text."""
    return repr(raw if len(raw) <= limit else raw[: limit - 1] + "…")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        raise ConfigError(f"{name}={shown(raw)} is not a number") from None
    if not low <= value <= high:  # NaN and infinity fail this too
        raise ConfigError(f"{name}={shown(raw)} is outside {low}..{high}")
    return value


def _locale(env: Mapping[str, str]) -> str:
    locale = env.get("ELB_WATCH_LOCALE", "en").strip().lower() or "en"
    if locale not in LOCALES:
        raise ConfigError(f"ELB_WATCH_LOCALE={locale!r} must be one of {', '.join(LOCALES)}")
    return locale


def _level(env: Mapping[str, str]) -> str:
    level = env.get("ELB_WATCH_LOG_LEVEL", "info").strip().lower() or "info"
    if level not in {"debug", "info", "warning", "error"}:
        raise ConfigError(f"ELB_WATCH_LOG_LEVEL={level!r} must be debug, info, warning or error")
    return level


T = TypeVar("T")
DEFAULT_DIAGNOSE = True


def read_settings(env: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Read `ELB_WATCH_*` settings; a bad value falls back to its default, with one problem per variable.

    None of these is needed to watch: a typo in the locale, the log level or a tuning number must not
    stop the watch (region, project and credentials, without which nothing can be read, are each
    target's own errors: `handler.reading.place`). Each problem names the variable and the default used.
    """
    problems: list[str] = []

    def take(read: Callable[[], T], default: T, /) -> T:
        try:
            return read()
        except ConfigError as exc:
            problems.append(f"{exc}; using the default {_default_text(default)}")
            return default

    settings = Settings(
        region=env.get("ELB_WATCH_REGION", "").strip() or None,
        locale=take(lambda: _locale(env), "en"),
        connect_timeout=take(lambda: _number(env, "ELB_WATCH_CONNECT_TIMEOUT", 3.0, 0.1, 60), 3.0),
        read_timeout=take(lambda: _number(env, "ELB_WATCH_READ_TIMEOUT", 10.0, 0.1, 120), 10.0),
        reserve=take(lambda: _number(env, "ELB_WATCH_RESERVE_SECONDS", 2.0, 0, 60), 2.0),
        max_attempts=int(take(lambda: _number(env, "ELB_WATCH_MAX_ATTEMPTS", 4, 1, 10), 4.0)),
        retry_base=take(lambda: _number(env, "ELB_WATCH_RETRY_BASE_SECONDS", 1.0, 0.01, 10), 1.0),
        poll_interval=take(lambda: _number(env, "ELB_WATCH_POLL_INTERVAL_SECONDS", 1.0, 0.01, 30), 1.0),
        log_level=take(lambda: _level(env), "info"),
        diagnose=take(lambda: _switch(env, "ELB_WATCH_DIAGNOSE", default=True), DEFAULT_DIAGNOSE),
        diagnose_ttl=take(lambda: _duration(env, "ELB_WATCH_DIAGNOSE_TTL", 900.0), 900.0),
        concurrency=int(take(lambda: _number(env, "ELB_WATCH_CONCURRENCY", 8, 1, 64), 8.0)),
        api_rate=take(lambda: _number(env, "ELB_WATCH_API_RATE", 10.0, 0, 1000), 10.0),
        metrics_namespace=take(lambda: metrics_namespace(env), None),
        **_actions(env, problems),
    )
    return settings, problems


MIN_ACTIONS_KEY_BYTES = 32


def _actions(env: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """ELB_WATCH_ACTIONS_URL and ELB_WATCH_ACTIONS_KEY: both usable, or both "" (links off) with a problem.

    The key is never shown, only its length.
    """
    url = env.get("ELB_WATCH_ACTIONS_URL", "").strip().rstrip("/")
    key = env.get("ELB_WATCH_ACTIONS_KEY", "").strip()
    if not url:
        return {}
    local = re.match(r"http://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", url)
    if not (re.match(r"https://[^/]+", url) or local) or any(c in url for c in "?#\"' <>") or len(url) > 300:
        problems.append(
            f"ELB_WATCH_ACTIONS_URL={shown(url)} must be the https:// base of the actions API (no query): "
            "the action links are off"
        )
        return {}
    size = len(key.encode("utf-8"))
    if size < MIN_ACTIONS_KEY_BYTES:
        problems.append(
            f"ELB_WATCH_ACTIONS_KEY is {'unset' if not size else f'{size} bytes'}, at least "
            f"{MIN_ACTIONS_KEY_BYTES} bytes are needed (openssl rand -base64 48): the action links are off"
        )
        return {}
    return {"actions_url": url, "actions_key": key}


def _default_text(value: object) -> str:
    """A default as the docs write it: `on`, `en`, `3`, `900` (None: `off`)."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read `ELB_WATCH_*` settings strictly: one ConfigError naming every bad variable at once."""
    settings, problems = read_settings(env)
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)w)?(?:(\d+(?:\.\d+)?)d)?"
    r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?"
)


def parse_duration(text: str) -> float | None:
    """Seconds in "900", "15m", "4h", "1h30m", "90s", "1d12h" or "1w"; None if the text is not a duration."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        value = float(text)
        return value if math.isfinite(value) else None
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    weeks, days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    total = weeks * 604800 + days * 86400 + hours * 3600 + minutes * 60 + seconds
    return total if math.isfinite(total) else None


def _duration(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = parse_duration(raw)
    if value is None or not 0 <= value <= MAX_DURATION_SECONDS:  # 1e400 reads as infinity: refused
        raise ConfigError(
            f"{name}={shown(raw)} is not a duration from 0 to 366 days, such as 900, 15m or 1h30m"
        )
    return value


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"on", "true", "1", "yes"}:
        return True
    if raw in {"off", "false", "0", "no"}:
        return False
    raise ConfigError(f"{name}={raw!r} must be on or off")


@dataclass(frozen=True, slots=True)
class Credentials:
    """AK/SK (and a security token for temporary credentials). Never printed: repr hides them."""

    ak: str = field(repr=False)
    sk: str = field(repr=False)
    security_token: str = field(default="", repr=False)
    source: str = ""

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log line or a result.

        Values shorter than 8 characters are left out: scrubbing them would blank ordinary words,
        and no real AK, SK or token is that short.
        """
        return tuple(value for value in (self.ak, self.sk, self.security_token) if len(value) >= 8)


def _context_value(context: Any, method: str) -> str:
    """Call a FunctionGraph context getter if the context has it; anything odd reads as empty."""
    getter = getattr(context, method, None)
    if not callable(getter):
        return ""
    try:
        value = getter()
    except Exception:  # noqa: BLE001 - a broken context must not break the invocation
        return ""
    return value.strip() if isinstance(value, str) else ""


def resolve_credentials(context: Any, env: Mapping[str, str]) -> Credentials | None:
    """Credentials from the FunctionGraph context (agency, temporary), else the SDK's env variables."""
    ak = _context_value(context, "getSecurityAccessKey")
    sk = _context_value(context, "getSecuritySecretKey")
    if ak and sk:
        return Credentials(ak, sk, _context_value(context, "getSecurityToken"), "context")
    ak = env.get("HUAWEICLOUD_SDK_AK", "").strip()
    sk = env.get("HUAWEICLOUD_SDK_SK", "").strip()
    if ak and sk:
        return Credentials(ak, sk, env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN", "").strip(), "environment")
    return None


def credentials_problem(context: Any, env: Mapping[str, str]) -> str:
    """What is missing when `resolve_credentials` found none: the half of a key pair, or both."""
    halves = (
        ("HUAWEICLOUD_SDK_AK", env.get("HUAWEICLOUD_SDK_AK", "").strip()),
        ("HUAWEICLOUD_SDK_SK", env.get("HUAWEICLOUD_SDK_SK", "").strip()),
    )
    missing = [name for name, value in halves if not value]
    if len(missing) == 1:
        given = "HUAWEICLOUD_SDK_SK" if missing[0] == "HUAWEICLOUD_SDK_AK" else "HUAWEICLOUD_SDK_AK"
        kind = "SK" if missing[0] == "HUAWEICLOUD_SDK_SK" else "AK"
        return f"{kind} missing: {given} is set but {missing[0]} is not; set both, or neither with an agency"
    if _context_value(context, "getSecurityAccessKey") or _context_value(context, "getSecuritySecretKey"):
        return "the function's agency gave an incomplete temporary key pair; check the agency in IAM"
    return "no credentials: give the function an agency, or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"


def resolve_project_id(event_value: str | None, context: Any, env: Mapping[str, str]) -> str | None:
    """Project id: the event's, else the function's own project, else the SDK's env variable."""
    return (
        event_value
        or _context_value(context, "getProjectID")
        or env.get("RUNTIME_PROJECT_ID", "").strip()
        or env.get("HUAWEICLOUD_SDK_PROJECT_ID", "").strip()
        or None
    )


def remaining_ms(context: Any) -> float | None:
    """The platform's remaining time for this invocation, if the context tells it."""
    getter = getattr(context, "getRemainingTimeInMilliSeconds", None)
    if not callable(getter):
        return None
    try:
        value = getter()
    except Exception:  # noqa: BLE001 - a broken context must not break the invocation
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def request_id(context: Any) -> str:
    """The platform's request id, for correlating logs; empty outside FunctionGraph."""
    return _context_value(context, "getRequestID")


def _lifecycle_count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not whole_number(raw) or len(raw) > 3 or not 1 <= int(raw) <= 100:
        raise ConfigError(f"{name}={shown(raw)} must be a whole number from 1 to 100")
    return int(raw)


def read_lifecycle_settings(env: Mapping[str, str]) -> tuple[LifecycleSettings, list[str]]:
    """Read the lifecycle settings; a bad value falls back to its default, with one problem per variable.

    Here, not in the lifecycle: only the configuration reads the environment.
    """
    from handler.lifecycle import DEFAULT_REPEAT_INTERVAL, LifecycleSettings  # noqa: PLC0415 - no cycle

    problems: list[str] = []

    def take(read: Callable[[], T], default: T, shown_default: str, /) -> T:
        try:
            return read()
        except ConfigError as exc:
            problems.append(f"{exc}; using the default {shown_default}")
            return default

    settings = LifecycleSettings(
        repeat_interval=take(
            lambda: _repeat_interval(env, DEFAULT_REPEAT_INTERVAL), DEFAULT_REPEAT_INTERVAL, "4h"
        ),
        fire_after=take(lambda: _lifecycle_count(env, "ELB_WATCH_FIRE_AFTER", 1), 1, "1"),
        resolve_after=take(lambda: _lifecycle_count(env, "ELB_WATCH_RESOLVE_AFTER", 2), 2, "2"),
        history=_history(env, take),
    )
    return settings, problems


def _history(env: Mapping[str, str], take: Callable[..., Any]) -> Any:
    """`ELB_WATCH_HISTORY_DAYS` (1-366, default 90) and `ELB_WATCH_HISTORY_MAX` (100-1,000,000, 10,000)."""
    from handler.history import DEFAULT_HISTORY_DAYS, DEFAULT_HISTORY_MAX, HistoryBounds  # noqa: PLC0415

    def whole(name: str, low: int, high: int, default: int) -> int:
        raw = env.get(name, "").strip().replace("_", "")
        if not raw:
            return default
        if not whole_number(raw) or len(raw) > 7 or not low <= int(raw) <= high:
            raise ConfigError(f"{name}={shown(raw)} must be a whole number from {low} to {high}")
        return int(raw)

    days = take(
        lambda: whole("ELB_WATCH_HISTORY_DAYS", 1, 366, DEFAULT_HISTORY_DAYS),
        DEFAULT_HISTORY_DAYS,
        str(DEFAULT_HISTORY_DAYS),
    )
    count = take(
        lambda: whole("ELB_WATCH_HISTORY_MAX", 100, 1_000_000, DEFAULT_HISTORY_MAX),
        DEFAULT_HISTORY_MAX,
        str(DEFAULT_HISTORY_MAX),
    )
    return HistoryBounds(seconds=days * 86400.0, count=count)


def _repeat_interval(env: Mapping[str, str], default: float) -> float:
    name = "ELB_WATCH_REPEAT_INTERVAL"
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = parse_duration(raw)
    if value is None or not 60 <= value <= 30 * 86400:
        raise ConfigError(
            f"{name}={shown(raw)} must be a duration from 60s to 30 days, such as 4h, 30m or 1h30m"
        )
    return value


def load_lifecycle_settings(env: Mapping[str, str]) -> LifecycleSettings:
    """Read the lifecycle settings strictly; raise ConfigError naming the first bad variable."""
    settings, problems = read_lifecycle_settings(env)
    if problems:
        raise ConfigError(problems[0].rsplit("; using the default", 1)[0])
    return settings


# ---- Cloud Eye custom metrics (issue 24) ----------------------------------------------------------------
METRICS_VARIABLE = "ELB_WATCH_METRICS"
NAMESPACE_VARIABLE = "ELB_WATCH_METRICS_NAMESPACE"
DEFAULT_METRICS_NAMESPACE = "ELB.MasterWatch"
# Cloud Eye's rule for a custom namespace: service.item, each starting with a letter, 3 to 32 in all.
_NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*")
# Services Cloud Eye keeps for itself (SYS.*: cloud services, AGT.*: the agent, SRE.*), and one namespace.
_RESERVED_SERVICES = frozenset({"SYS", "AGT", "SRE"})
_RESERVED_NAMESPACES = frozenset({"SERVICE.BMS"})


def namespace_problem(namespace: str) -> str | None:
    """Why Cloud Eye would refuse `namespace` as a custom namespace, or None when it is fine."""
    if not 3 <= len(namespace) <= 32 or not _NAMESPACE.fullmatch(namespace):
        return (
            "must be service.item: two names starting with a letter, of letters, digits and _, "
            "3 to 32 characters in all (e.g. ELB.MasterWatch)"
        )
    service = namespace.split(".", 1)[0].upper()
    if service in _RESERVED_SERVICES or namespace.upper() in _RESERVED_NAMESPACES:
        return f"is reserved by Cloud Eye (no custom namespace starts with {service}. or is SERVICE.BMS)"
    return None


def metrics_namespace(env: Mapping[str, str]) -> str | None:
    """The Cloud Eye namespace metrics are pushed to with ELB_WATCH_METRICS=on, else None (off)."""
    if not _switch(env, METRICS_VARIABLE, default=False):
        return None
    raw = env.get(NAMESPACE_VARIABLE, "").strip()
    namespace = raw or DEFAULT_METRICS_NAMESPACE
    problem = namespace_problem(namespace)
    if problem is not None:
        raise ConfigError(f"{NAMESPACE_VARIABLE}={shown(raw)} {problem}")
    return namespace
