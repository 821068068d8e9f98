"""`ELB_WATCH_STATE`: from a URL to a store. A bad URL is a ConfigError that never shows the password."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from handler.config import ConfigError
from handler.state.base import StateStore
from handler.text import whole_number

VARIABLE = "ELB_WATCH_STATE"
OFF = "off"
"""`ELB_WATCH_STATE=off`: no store at all, every run notifies everything it sees."""
INSTANCE = "instance"
"""`ELB_WATCH_STATE=instance` (or unset): `instance_store_url()`."""
INSTANCE_FILE = "elb-master-watch-state-{user}.db"


def instance_file() -> str:
    """The default store's file name: one per user of the machine (`elb-master-watch-state-<uid>.db`).

    On a shared jump host one fixed name in the shared temp directory made every user's runs share,
    and resolve, each other's alerts. In FunctionGraph /tmp belongs to one instance anyway.
    """
    getuid = getattr(os, "getuid", None)
    name = os.environ.get("USERNAME", "")  # Windows has no uid
    user = str(getuid()) if callable(getuid) else "".join(c for c in name if c.isalnum())
    return INSTANCE_FILE.format(user=user or "user")


def instance_store_url() -> str:
    """The store used when `ELB_WATCH_STATE` is unset: a SQLite file in the platform's temp directory.

    It lives as long as the warm instance (FunctionGraph keeps /tmp between invocations of one
    instance), so it de-duplicates within an instance; several instances each keep their own.
    """
    return "sqlite://" + os.path.join(tempfile.gettempdir(), instance_file()).replace(os.sep, "/")


_REDIS_OPTIONS = ("key_prefix", "timeout", "ssl_ca_certs")


def _userinfo(url: str) -> tuple[int, int] | None:
    """Where the `user:password` part of a URL is (start, end of the text before "@"), if it has one."""
    start = url.find("://")
    if start < 0:
        return None
    start += 3
    end = url.rfind("@")
    return (start, end) if end >= start else None


def _hidden_query_values(url: str) -> list[str]:
    """The values in the URL's query and fragment that may be secret: all but the known options'."""
    rest = url[url.find("?") + 1 :] if "?" in url else ""
    values = []
    for part in rest.replace("#", "&").split("&"):
        key, equals, value = part.partition("=")
        if equals and value and unquote(key).strip().lower() not in _REDIS_OPTIONS:
            values.append(value)
    return values


def shown_store_url(url: str) -> str:
    """The URL with its password replaced by `***`, wherever it sits: user-info, or the query.

    In the query (and fragment) every value but those of the known options is hidden, so
    `?password=...` (which redis-py would read) never shows in a message.
    """
    span = _userinfo(url)
    if span is not None:
        start, end = span
        user, colon, _ = url[start:end].partition(":")
        shown = f"{user}:***" if colon else "***"
        url = f"{url[:start]}{shown}{url[end:]}"
    if "?" in url or "#" in url:
        head, mark, rest = url.partition("?") if "?" in url else url.partition("#")
        parts = []
        for part in rest.replace("#", "&#").split("&"):
            fragment = part.startswith("#")
            key, equals, value = part.lstrip("#").partition("=")
            if equals and value and unquote(key).strip().lower() not in _REDIS_OPTIONS:
                value = "***"
            parts.append(("#" if fragment else "") + key + equals + value)
        url = head + mark + "&".join(parts).replace("&#", "#")
    return url


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The password of a state URL (as written and percent-decoded), for `handler.logs.set_secrets`.

    Like `Credentials.secrets`, values shorter than 8 characters are left out so scrubbing does not
    blank ordinary words; the store itself never puts the URL or the password in a message.
    """
    span = _userinfo(url or "")
    candidates = _hidden_query_values(url or "")
    if span is not None:
        userinfo = (url or "")[span[0] : span[1]]
        user, colon, password = userinfo.partition(":")
        candidates.append(password if colon else user)
    values = {value for secret in candidates for value in (secret, unquote(secret))}
    return tuple(sorted(value for value in values if len(value) >= 8))


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError(f"{VARIABLE}={shown_store_url(url)!r} {why}")


def _sqlite_path(url: str) -> str:
    """The file of a `sqlite:` URL: `sqlite:///abs/path.db` (absolute) or `sqlite:relative/path.db`."""
    rest = url.split(":", 1)[1]
    if "?" in rest or "#" in rest:
        raise _bad(url, "takes no options: use sqlite:///absolute/path/state.db")
    if rest.startswith("//"):
        rest = rest[2:]
        if rest and not rest.startswith("/"):
            raise _bad(
                url, "has a host part; use sqlite:///absolute/path/state.db or sqlite:relative/state.db"
            )
        rest = "/" + rest.lstrip("/")
    path = unquote(rest)
    if not path.strip("/"):
        raise _bad(url, "names no file: use sqlite:///absolute/path/state.db")
    return str(Path(path).expanduser()) if path.startswith("~") else path


def sqlite_file(url: str) -> str | None:
    """The file a `sqlite:` URL (or `instance`) names; None for any other URL, or one that is malformed."""
    text = url.strip()
    if text.lower() == INSTANCE:
        text = instance_store_url()
    if text.split(":", 1)[0].lower() != "sqlite":
        return None
    try:
        return _sqlite_path(text)
    except ConfigError:
        return None


def _redis_store(url: str) -> StateStore:
    try:
        import redis  # noqa: F401, PLC0415 - optional extra: only needed when a Redis store is configured
    except ImportError:
        raise ConfigError(
            f"{VARIABLE} names a Redis store but the redis package is not installed: "
            "pip install 'elb-master-watch[redis]'"
        ) from None
    from handler.state.redis_store import DEFAULT_PREFIX, RedisStore  # noqa: PLC0415

    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError:
        raise _bad(url, "has an invalid port: use redis://[:password@]host:port/db") from None
    if not parts.hostname:
        raise _bad(url, "names no host: use redis://[:password@]host:port/db")
    if parts.fragment:
        raise _bad(url, "has a #fragment; options go in the query: ?key_prefix=...&timeout=...")
    db_text = parts.path.strip("/") or "0"
    if not whole_number(db_text):
        raise _bad(url, f"has database {db_text!r}; it must be a number such as /0")
    try:
        options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
    except ValueError:
        raise _bad(url, "has a query that cannot be read") from None
    unknown = sorted(set(options) - set(_REDIS_OPTIONS))
    if unknown:
        raise _bad(url, f"has unknown option {unknown[0]!r}; known: {', '.join(_REDIS_OPTIONS)}")
    try:
        timeout = float(options.get("timeout", "1"))
    except ValueError:
        timeout = math.nan
    if not 0.05 <= timeout <= 30:
        raise _bad(url, "has timeout outside 0.05..30 seconds")
    if "ssl_ca_certs" in options and parts.scheme.lower() != "rediss":
        raise _bad(url, "sets ssl_ca_certs, which only rediss:// uses")
    prefix = options.get("key_prefix", DEFAULT_PREFIX)
    return RedisStore(
        host=parts.hostname,
        port=port,
        db=int(db_text),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=parts.scheme.lower() == "rediss",
        ca_certs=options.get("ssl_ca_certs") or None,
        prefix=prefix,
        timeout=timeout,
    )


def open_store(url: str | None) -> StateStore | None:
    """The store a URL names; None for an empty URL or `off` (no de-duplication).

    `instance` is the SQLite file of `instance_store_url()` (`handler.app` also uses it when
    `ELB_WATCH_STATE` is unset).

    `sqlite:///abs/path/state.db` (or `sqlite:relative/state.db`), `redis://[user:password@]host:port/db`,
    `rediss://...` (TLS). Redis options in the query: `key_prefix` (default "elb-master-watch:"),
    `timeout` (seconds, default 1), `ssl_ca_certs`. Nothing connects here: an unreachable store shows
    up as StoreUnavailable on first use; a malformed URL is a ConfigError here.
    """
    text = (url or "").strip()
    if not text or text.lower() == OFF:
        return None
    if text.lower() == INSTANCE:
        text = instance_store_url()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme == "sqlite":
        from handler.state.sqlite_store import SqliteStore  # noqa: PLC0415 - load what is used

        return SqliteStore(_sqlite_path(text))
    if scheme in {"redis", "rediss"}:
        return _redis_store(text)
    raise _bad(text, "must be instance, off, or start with sqlite:, redis:// or rediss://")
