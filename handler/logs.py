"""structlog setup: one JSON line per event, secrets scrubbed from every line.

Imported only when an invocation starts, so `import handler` stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import structlog

from handler import text
from handler.text import redact, secret_forms

_SECRET_KEY = re.compile(r"(^|_)(ak|sk|secret|token|password|authorization|signature|access_key|secret_key)$")
REDACTED = "***"
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every occurrence of a secret, in any string nested in `value`, by `***`.

    Checks the JSON form first, so the common case (no secret anywhere) costs one dump, not a walk.
    """
    forms = secret_forms((*secrets, *text.registered_secrets()))
    if not forms:
        return value
    try:
        flat = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        flat = None
    # JSON escapes `"`, `\\` and control characters: a secret holding one is looked for the long way.
    escaped = any(json.dumps(secret, ensure_ascii=False)[1:-1] != secret for secret in forms)
    if flat is not None and not escaped and not any(secret in flat for secret in forms):
        return value
    return redact(value, forms)


def set_secrets(secrets: Iterable[str]) -> None:
    """Register this invocation's secret values (raw, percent-encoded, `+` for space) in this context.

    Worker threads run in a copy of the context, so they scrub with them too (`handler.text`).
    """
    text.set_secrets(secrets)


def current_secrets() -> tuple[str, ...]:
    """The secret values registered for this invocation (this context), in every form they can appear."""
    return text.registered_secrets()


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Structlog processor: blank secret-named keys (secret values are cut out after rendering)."""
    for key in list(event_dict):
        if _SECRET_KEY.search(key.lower()) and event_dict[key]:
            event_dict[key] = REDACTED
    return event_dict


class _RedactingRenderer:
    """Render a line, then cut every registered secret value out of the text, wherever it sits."""

    def __init__(self, renderer: Any) -> None:
        self._renderer = renderer

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        line = redact(self._renderer(logger, method, event_dict))
        if isinstance(line, str) and not line.isascii():
            from handler.text import clean  # noqa: PLC0415 - tiny; only for non-ASCII lines

            line = clean(line)  # a lone surrogate (from ELB or a chat answer) cannot be written as UTF-8
        return line


_CONSOLE_KEYS = frozenset(
    {"event", "title", "fingerprint", "status", "severity", "kind", "notification_reason"}
    | {"request_id", "pool_id", "job_id", "level", "timestamp"}
)


def console_view(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """On a terminal: a notification line shows its title, not the record; nested values as compact JSON."""
    if event_dict.get("event") == "notification" and "title" in event_dict:
        kept = {key: value for key, value in event_dict.items() if key in _CONSOLE_KEYS}
        event_dict.clear()
        event_dict.update(kept)
    for key, value in list(event_dict.items()):
        if isinstance(value, dict | list | tuple):
            event_dict[key] = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return event_dict


def _stream_logger_factory(stream: str) -> Any:
    """A logger factory that looks up sys.stdout/sys.stderr when a logger is made, not at import."""

    def factory(*_args: Any) -> Any:
        return structlog.PrintLogger(file=getattr(sys, stream))

    return factory


_configured: tuple[str, str] | None = None
_held = 0


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Keep whatever structlog configuration is in place while the block runs: `configure` does nothing.

    For a caller that installs its own chain around an invocation (a test's `capture_logs`); when the
    block ends, the next `configure` puts our chain back.
    """
    global _held  # noqa: PLW0603 - structlog's configuration is process-wide by design
    _held += 1
    try:
        yield
    finally:
        _held -= 1


def configure(stream: str = "stdout", level: str = "info", *, console: bool | None = None) -> None:
    """Configure structlog once per process: JSON lines, or a console view when the stream is a TTY.

    `stream` is "stdout" (FunctionGraph sends it to LTS) or "stderr" (the CLI keeps stdout for the
    result). Inside `held()` it is left alone; any configuration found outside one (a test's capture_logs
    restores the defaults as "configured") is replaced by ours, so redaction is never lost.
    """
    global _configured  # noqa: PLW0603 - structlog's configuration is process-wide by design
    if _held:
        return  # someone holds the configuration in place (a test capturing log entries)
    if _configured == (stream, level) and redact_secrets in structlog.get_config()["processors"]:
        return
    use_console = getattr(sys, stream).isatty() if console is None else console
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=use_console)
        if use_console
        else structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            *([console_view] if use_console else []),
            _RedactingRenderer(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stream_logger_factory(stream),
        cache_logger_on_first_use=False,
    )
    _configured = (stream, level)


def logger() -> Any:
    """The logger for this invocation (context comes from contextvars, never from module state).

    Built now from the current configuration, not on each call: structlog's lazy proxy, with caching
    off (the configuration changes between a CLI run and a test), would build a logger per line, and
    a line below the level would still cost that build.
    """
    return structlog.get_logger("elb-master-watch").bind()


def start_invocation(request_id: str) -> None:
    """Reset per-invocation log context and bind the platform's request id."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def bound(**values: Any) -> Any:
    """Bind context (pool id, job id) for the lines logged inside a `with` block."""
    return structlog.contextvars.bound_contextvars(**values)
