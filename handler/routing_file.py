"""Reading `ELB_WATCH_ROUTES`: inline JSON, or a YAML or JSON file (relative paths from the code root).

Read and parsed once per warm instance: the cache key is the variable's value, the file's size and
modification time, and the values of the `${NAME}` variables it refers to. A file larger than
MAX_BYTES, nested deeper than MAX_DEPTH or with more than MAX_NODES values (YAML aliases count every
time they are used) is refused before it can cost the function its memory.

A YAML file may sit beside its compiled copy, `<name>.json` (`elb-master-watch package --include`
writes it): the same document as JSON with the SHA-256 of the YAML text it came from. When that hash is
the file's, the copy is read instead and a cold start never imports PyYAML (18 ms) nor runs its
pure-Python parser (30 ms for 50 routes); a copy of another text is ignored, so an edited file wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from handler.channels.config import Channel
from handler.routes import RouteConfig, RoutesError, parse

VARIABLE = "ELB_WATCH_ROUTES"
MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 32
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")
_CACHE: dict[tuple[Any, ...], RouteConfig] = {}
COMPILED_FORMAT = "elb-master-watch/routes-compiled-v1"
"""The `format` of a compiled copy: a copy of another format is ignored."""


def compiled_path(path: Path) -> Path:
    """Where a YAML routing file's compiled copy sits: beside it, `<name>.json`."""
    return path.with_name(path.name + ".json")


def compile_yaml(text: str, source: str = "the routing file") -> str:
    """The compiled copy of a YAML routing file's text (RoutesError when it is not valid or too big)."""
    document = _decode(text, source)
    _check_size(document, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    body = {"format": COMPILED_FORMAT, "source_sha256": digest, "document": document}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"


def _compiled(path: Path | None, text: str) -> Any:
    """The document of `path`'s compiled copy when it was compiled from exactly `text`, else None."""
    if path is None or path.suffix.lower() not in {".yaml", ".yml"}:
        return None
    try:
        raw = compiled_path(path).read_bytes()
    except OSError:
        return None
    if len(raw) > 2 * MAX_BYTES:
        return None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if not isinstance(body, dict) or body.get("format") != COMPILED_FORMAT:
        return None
    return body.get("document") if body.get("source_sha256") == digest else None


def code_root(env: Mapping[str, str]) -> Path:
    """Where a relative routing file is read from: FunctionGraph's code root, else the package's parent."""
    root = env.get("RUNTIME_CODE_ROOT", "").strip()
    return Path(root) if root else Path(__file__).resolve().parent.parent


def _path(value: str, env: Mapping[str, str]) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else code_root(env) / path


def _text(value: str, env: Mapping[str, str]) -> tuple[str, str, tuple[Any, ...], Path | None]:
    """(the document's text, where it came from, what identifies this version of it, its file)."""
    if value.startswith("{"):
        return value, f"{VARIABLE} (inline JSON)", ("inline", value), None
    path = _path(value, env)
    try:
        stat = path.stat()
        if stat.st_size > MAX_BYTES:
            raise RoutesError([f"is {stat.st_size} bytes; at most {MAX_BYTES}"], f"{VARIABLE}={value}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutesError(
            [f"cannot be read ({exc.strerror or type(exc).__name__})"], f"{VARIABLE}={value}"
        ) from None
    except UnicodeDecodeError:
        raise RoutesError(["is not UTF-8 text"], f"{VARIABLE}={value}") from None
    return text, f"{VARIABLE}={value}", ("file", str(path), stat.st_size, stat.st_mtime_ns), path


def _decode(text: str, source: str) -> Any:
    """JSON when it looks like JSON (or the file says .json), else YAML (safe_load: no tags, no objects)."""
    if len(text) > MAX_BYTES:
        raise RoutesError([f"is {len(text)} characters; at most {MAX_BYTES}"], source)
    if text.lstrip().startswith(("{", "[")) or source.endswith(".json"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RoutesError([f"is not valid JSON: {exc}"[:300]], source) from None
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - comes with the SDK; only for a YAML file

    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise RoutesError([f"is not valid YAML{where}: {problem}"], source) from None


def _check_size(document: Any, source: str) -> None:
    """Refuse a document with more than MAX_NODES values or deeper than MAX_DEPTH (iteratively)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise RoutesError([f"has more than {MAX_NODES} values"], source)
        if depth > MAX_DEPTH:
            raise RoutesError([f"is nested deeper than {MAX_DEPTH} levels"], source)
        if isinstance(value, Mapping):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def load(value: str, env: Mapping[str, str], known: Sequence[Channel] = ()) -> RouteConfig:
    """The routing file `value` names, parsed and checked; RoutesError lists every problem.

    Cached per warm instance (see the module docstring).
    """
    text, source, version, path = _text(value.strip(), env)
    names = sorted(set(_REFERENCE.findall(text)))
    key = (*version, tuple((name, env.get(name)) for name in names), known)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    document = _compiled(path, text)
    if document is None:
        document = _decode(text, source)
    _check_size(document, source)
    config = parse(document, env, known, source)
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[key] = config
    return config


def configured(env: Mapping[str, str]) -> str:
    """The value of ELB_WATCH_ROUTES ("" when routing is off)."""
    return env.get(VARIABLE, "").strip()
