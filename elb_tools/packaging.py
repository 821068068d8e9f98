"""Build the FunctionGraph code zip (`elb-master-watch package`): reproducible, trimmed, byte-compiled.

The zip holds the `handler` package (without the simulator and this build module), the runtime
dependencies from pyproject.toml (and its `redis` extra, so every documented store works)
installed as manylinux wheels for the target Python and cut down to the SDK operations the function
calls (elb_tools.sdk_reach), `.pyc` files
for that Python (the code directory is read-only at run time, so nothing could cache them there),
and a root `index.py`, so the FunctionGraph handler string is `index.handler`.

Only the `package` command imports this module: `import handler` never pays for it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elb_tools.sdk_reach import SDK_OPERATIONS, ReachError, cut_sdk

DEFAULT_OUTPUT = Path("dist") / "function.zip"
DEFAULT_PYTHON = "3.10"
DEFAULT_PLATFORM = "manylinux2014_x86_64"
HANDLER_STRING = "index.handler"
INDEX_PY = "from handler import handler\n"
# Bytes: the zip is at most this (issue 24). It was raised to 5.75 MB for redis (issue 12) and routing
# (issue 21) while the zip shipped every SDK model; cutting each SDK service down to the operations the
# function calls (elb_tools.sdk_reach) brought it back under 5 MB with COC and Cloud Eye in.
SIZE_TARGET = 5_000_000
DEFLATE_LEVEL = 9
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
DIR_MODE = 0o040755
ZIP_UNIX = 3

# Optional extras of pyproject.toml the zip ships too: every store the docs recommend works from the zip.
PACKAGED_EXTRAS = ("redis",)

# What the zip leaves out of the source tree: test double, build tooling, type-checker marker.

# SDK packages whose `__init__` imports every model (about 490 modules for ELB v3, 60 ms of a cold start)
# although an invocation uses a dozen: each service's two, for every service the function calls. The zip
# replaces each with a lazy one (PEP 562 `__getattr__`) that imports a class when it is first looked up:
# the SDK finds models by name (`getattr(client.model_package, "ShowMasterSlavePoolResponse")`), so it
# sees no difference.
LAZY_INITS = tuple(f"{service}/{inner}__init__.py" for service in SDK_OPERATIONS for inner in ("", "model/"))
_LAZY_IMPORT = re.compile(r"from ([A-Za-z_][\w.]*) import ([A-Za-z_]\w*)")
_LAZY_SKIPPED = re.compile(r"(#.*|from __future__ import absolute_import)?")
_LAZY_TEMPLATE = """\
# Written by elb-master-watch's packager in place of the SDK's eager __init__ (LAZY_INITS in its
# packaging module): each name below is imported from its module on first lookup (PEP 562).
_WHERE = {table}
__all__ = list(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
"""

# Dead weight in the installed dependencies, with the reason each is safe to drop.
TRIMMED_TREES: tuple[tuple[str, str], ...] = (
    ("pymongo", "MongoDB driver: the SDK imports only `bson`, which ships in the same wheel"),
    ("gridfs", "MongoDB GridFS: part of the pymongo wheel, never imported"),
    ("dns", "dnspython: pymongo's SRV resolver, not used without pymongo"),
    ("_yaml", "libyaml bindings shim: the SDK calls yaml.safe_load, the pure-Python loader"),
    ("bin", "console scripts, built for the build machine and never run by FunctionGraph"),
    *(
        (f"redis/commands/{module}", f"Redis module commands ({module}): loaded only by r.{module}() calls")
        for module in ("bf", "json", "search", "timeseries", "vectorset")
    ),
    (
        "urllib3/contrib/emscripten",
        "urllib3 for Pyodide in a browser: imported only on sys.platform emscripten",
    ),
)
TRIMMED_FILES: tuple[tuple[str, str], ...] = (
    (r"yaml/_yaml\..*\.so", "libyaml C extension (2.5 MB): yaml.safe_load never uses it"),
    (
        r"bson/_cbson\..*\.so",
        "bson's C speedups: bson serves only application/bson bodies; ELB and SMN send JSON",
    ),
    (r"charset_normalizer/(md|cd)\..*\.so", "mypyc builds of charset_normalizer's md/cd: the .py twins stay"),
    (r".*\.(c|h)", "C sources of extensions that ship compiled"),
    (r"dnspython-[^/]*\.dist-info/.*", "metadata of dnspython, whose code is dropped"),
    (r"[^/]+\.dist-info/(RECORD|INSTALLER|REQUESTED|WHEEL|direct_url\.json)", "pip's install records"),
    (r"(.*/)?__pycache__/.*", "bytecode of the build machine's Python"),
    (r"(.*/)?tests?/.*", "test suites shipped inside dependencies"),
    (r".*\.pyi|(.*/)?py\.typed", "type information: nothing reads it at run time"),
)
# Modules whose code is dropped: a kept dependency importing one of them fails the build.
DROPPED_MODULES = ("pymongo", "gridfs", "dns", "_yaml")

# Code whose bytecode leaves out docstrings: they are a third of these SDKs' bytecode (and redis's
# command docs), and none of them reads __doc__ (the build checks). The .py files keep them; line
# numbers are unchanged.
DOCSTRING_FREE = (*sorted({service.split("/")[0] + "/" for service in SDK_OPERATIONS}), "redis/")

# Run by the target interpreter. Writes PEP 552 unchecked-hash pycs (what py_compile's UNCHECKED_HASH
# writes): no timestamp, and the read-only source is never looked at again. co_filename is the path
# inside the zip, so the build directory leaves no trace; the import system fixes it up on load.
_COMPILE_SCRIPT = """
import ast, importlib.util, json, marshal, os, sys
root, strip, failed = sys.argv[1], tuple(json.loads(sys.argv[2])), []
def without_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:] or [ast.copy_location(ast.Pass(), first)]
    return tree
for rel in json.load(sys.stdin):
    path = os.path.join(root, rel)
    with open(path, "rb") as handle:
        source = handle.read()
    try:
        tree = without_docstrings(ast.parse(source, rel)) if rel.startswith(strip) else source
        code = compile(tree, rel, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        failed.append([rel, type(exc).__name__ + ": " + str(exc)])
        continue
    header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(source)
    cache = importlib.util.cache_from_source(path)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache, "wb") as handle:
        handle.write(header + marshal.dumps(code))
json.dump(failed, sys.stdout)
"""
_PROBE_SCRIPT = "import sys; print(sys.implementation.cache_tag); print(sys.executable)"
_NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
    r"Failed to establish a new connection|ConnectTimeout|ProxyError|Max retries exceeded"
)


class PackagingError(RuntimeError):
    """The package could not be built; the message says why and what to do."""

    def __init__(self, message: str, *, network: bool = False) -> None:
        """Keep whether the cause was an unreachable package index (tests skip on that alone)."""
        super().__init__(message)
        self.network = network


@dataclass(frozen=True, slots=True)
class Part:
    """One top-level entry of the zip (a package, a module, or all dist-info metadata)."""

    name: str
    files: int
    compressed: int
    uncompressed: int


@dataclass(frozen=True, slots=True)
class PackageReport:
    """What `build_package` produced: where, how big, what is inside, what was left out."""

    path: Path
    size: int
    sha256: str
    files: int
    python: str
    platform: str
    compiled_with: str | None
    pyc_files: int
    not_compiled: tuple[tuple[str, str], ...]
    distributions: tuple[tuple[str, str], ...]
    parts: tuple[Part, ...]
    trimmed: tuple[tuple[str, int, int], ...]
    seconds: float
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the `package` command prints it on stdout)."""
        return {
            "path": str(self.path),
            "size": self.size,
            "size_target": SIZE_TARGET,
            "sha256": self.sha256,
            "files": self.files,
            "handler": HANDLER_STRING,
            "python": self.python,
            "platform": self.platform,
            "compiled_with": self.compiled_with,
            "pyc_files": self.pyc_files,
            "not_compiled": [{"file": name, "error": error} for name, error in self.not_compiled],
            "distributions": dict(self.distributions),
            "largest_parts": [
                {"name": p.name, "files": p.files, "compressed": p.compressed, "uncompressed": p.uncompressed}
                for p in self.parts[:10]
            ],
            "trimmed": [{"what": what, "files": n, "bytes": size} for what, n, size in self.trimmed],
            "seconds": round(self.seconds, 2),
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """A human-readable summary: size against the target, the ten largest parts, what was trimmed."""
        verdict = "within" if self.size <= SIZE_TARGET else "OVER"
        lines = [
            f"{self.path}: {_mb(self.size)} ({self.size} bytes), {verdict} the {_mb(SIZE_TARGET)} limit",
            f"{self.files} files, sha256 {self.sha256}",
            f"target: CPython {self.python} on {self.platform}; handler string {HANDLER_STRING}",
            f"bytecode: {self.pyc_files} .pyc files compiled by {self.compiled_with}"
            if self.compiled_with
            else "bytecode: NONE (sources only): every cold start compiles what it imports",
            "ten largest parts (compressed / uncompressed):",
        ]
        lines += [
            f"  {p.name:<32} {_mb(p.compressed):>9} / {_mb(p.uncompressed):>9}  ({p.files} files)"
            for p in self.parts[:10]
        ]
        lines.append("trimmed:")
        lines += [f"  {what}: {n} files, {_mb(size)}" for what, n, size in self.trimmed if n]
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _mb(size: int) -> str:
    """Bytes as decimal megabytes with two decimals."""
    return f"{size / 1_000_000:.2f} MB"


def source_root() -> Path:
    """The checkout this module lives in (the directory holding pyproject.toml and handler/)."""
    return Path(__file__).resolve().parent.parent


def runtime_requirements(pyproject: Path) -> list[str]:
    """What the function needs at run time: [project].dependencies plus the PACKAGED_EXTRAS, nothing else."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"cannot read {pyproject}: {exc.strerror}") from None
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415 - standard library from 3.11 on

        project = tomllib.loads(text).get("project", {})
        dependencies = list(project.get("dependencies", []))
        extras = project.get("optional-dependencies", {})
        for extra in PACKAGED_EXTRAS:
            dependencies += extras.get(extra, [])
    else:  # pragma: no cover - exercised only by a 3.10 build machine
        dependencies = _dependencies_without_toml(text)
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise PackagingError(f"{pyproject}: [project].dependencies is not a list of strings")
    return [str(d) for d in dependencies]


def _quoted(body: str) -> list[str]:
    """The quoted strings of a TOML array body, comments left out."""
    return re.findall(r"\"([^\"]+)\"", "\n".join(line.split("#", 1)[0] for line in body.splitlines()))


def _dependencies_without_toml(text: str) -> list[str]:
    """Python 3.10 has no tomllib: read `dependencies = [...]` and the PACKAGED_EXTRAS arrays."""
    match = re.search(r"^\[project\][^\[]*?^dependencies\s*=\s*\[(.*?)^\]", text, re.M | re.S)
    if match is None:
        raise PackagingError("pyproject.toml has no [project].dependencies array")
    found = _quoted(match.group(1))
    section = re.search(r"^\[project\.optional-dependencies\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    for extra in PACKAGED_EXTRAS:
        array = re.search(
            rf"^{re.escape(extra)}\s*=\s*\[(.*?)\]", section.group(1) if section else "", re.M | re.S
        )
        if array is not None:
            found += _quoted(array.group(1))
    return found


def find_interpreter(version: str, explicit: str | None = None) -> str | None:
    """A CPython executable of exactly `version` (e.g. "3.10") to run pip and compile with, or None.

    Looks at `explicit`, the running interpreter, `pythonX.Y` on PATH, pyenv's versions and
    /usr/bin; each candidate is asked for its cache tag, so a shim or a wrong version is never used.
    """
    wanted = "cpython-" + version.replace(".", "")
    candidates: list[str] = [explicit] if explicit else []
    if not explicit:
        candidates.append(sys.executable)
        candidates.append(shutil.which(f"python{version}") or "")
        pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
        candidates += sorted(
            glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True
        )
        candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            probe = subprocess.run(  # noqa: S603 - a fixed probe of a local interpreter
                [candidate, "-I", "-c", _PROBE_SCRIPT],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        lines = probe.stdout.splitlines()
        if probe.returncode == 0 and len(lines) == 2 and lines[0] == wanted:
            return lines[1]
    if explicit:
        raise PackagingError(f"--interpreter {explicit} is not a working CPython {version}")
    return None


def build_package(
    output: Path = DEFAULT_OUTPUT,
    *,
    python: str = DEFAULT_PYTHON,
    platform: str = DEFAULT_PLATFORM,
    interpreter: str | None = None,
    bytecode: bool = True,
    root: Path | None = None,
    lazy_sdk: bool = True,
    include: Sequence[Path] = (),
) -> PackageReport:
    """Build the FunctionGraph zip at `output` and return what it holds; raise PackagingError on failure.

    `lazy_sdk=False` ships the SDK's service packages as pip installs them, every model and operation,
    with their eager `__init__` files (the bench's hand-written-script floor); True cuts each service
    down to the operations in SDK_OPERATIONS and the models they reach (elb_tools.sdk_reach).
    `include`: files shipped at the zip's root beside index.py (a routing file: ELB_WATCH_ROUTES=routes.yaml).
    """
    extras = _included(include)
    started = time.monotonic()
    root = root or source_root()
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise PackagingError(f"--python {python!r} must look like 3.10")
    target = find_interpreter(python, interpreter)
    warnings = []
    if target is None:
        if bytecode:
            raise PackagingError(
                f"no CPython {python} interpreter found for the target runtime (looked at python{python} on "
                f"PATH, pyenv and /usr/bin). Install one, pass --interpreter, or pass --no-bytecode to ship "
                f"sources only (every cold start then compiles what it imports)."
            )
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        if running != python:
            warnings.append(
                f"no CPython {python} found: dependency markers were evaluated for {running}, so a "
                f"dependency needed only on {python} may be missing"
            )
    requirements = runtime_requirements(root / "pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="elb-master-watch-package-") as tmp:
        stage = Path(tmp) / "function"
        _install_dependencies(stage, requirements, python, platform, target)
        trimmed = _trim(stage)
        bundled = _bundle_zones(stage)
        if bundled is not None:
            trimmed.append(bundled)
        _check_trim_is_safe(stage)
        if lazy_sdk:
            try:
                trimmed += cut_sdk(stage, root / "handler")[1]
            except ReachError as exc:
                raise PackagingError(f"cutting the SDK down to what the function reaches: {exc}") from None
            _make_lazy_inits(stage)
        _copy_handler(root / "handler", stage / "handler")
        (stage / "index.py").write_text(INDEX_PY, encoding="utf-8")
        for name, data in extras:
            (stage / name).write_bytes(data)
        not_compiled: list[tuple[str, str]] = []
        if bytecode and target is not None:
            not_compiled = _byte_compile(stage, target)
        distributions = _distributions(stage)
        _write_zip(stage, output)
    data = output.read_bytes()
    parts, files, pycs = _parts(output)
    if len(data) > SIZE_TARGET:
        warnings.append(f"the zip is {_mb(len(data))}, over the {_mb(SIZE_TARGET)} limit")
    if not_compiled:
        warnings.append(f"{len(not_compiled)} files do not compile for {python} and ship as source only")
    return PackageReport(
        path=output,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        files=files,
        python=python,
        platform=platform,
        compiled_with=target if bytecode else None,
        pyc_files=pycs,
        not_compiled=tuple(not_compiled),
        distributions=tuple(distributions),
        parts=tuple(parts),
        trimmed=tuple(trimmed),
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
    )


def _install_dependencies(
    stage: Path, requirements: Sequence[str], python: str, platform: str, interpreter: str | None
) -> None:
    """pip-install the runtime dependencies as binary wheels for the target, without compiling them.

    With a target interpreter, pip runs under it (`pip --python`): `--python-version` only picks
    wheels, while markers such as `python_version < "3.11"` are evaluated by the Python running pip.
    """
    command = [sys.executable, "-m", "pip"]
    if interpreter is not None:
        command += ["--python", interpreter]
    command += [
        "install",
        "--target",
        str(stage),
        "--only-binary=:all:",
        "--platform",
        platform,
        "--python-version",
        python,
        "--implementation",
        "cp",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--root-user-action=ignore",
        "--quiet",
        *requirements,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        raise PackagingError(f"pip could not run: {exc}") from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "Error" in line]
        detail = "\n".join(errors[-10:] or done.stderr.splitlines()[-10:])
        raise PackagingError(
            f"pip could not install the runtime dependencies for CPython {python} on {platform}:\n{detail}",
            network=bool(_NETWORK_ERRORS.search(done.stderr)),
        )


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under `root` as (posix path relative to root, path), in sorted order."""
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            yield path.relative_to(root).as_posix(), path


def _trim(stage: Path) -> list[tuple[str, int, int]]:
    """Remove the dead weight listed in TRIMMED_TREES and TRIMMED_FILES; return (reason, files, bytes)."""
    report: list[tuple[str, int, int]] = []
    for tree, reason in TRIMMED_TREES:
        path = stage / tree
        if path.is_dir():
            sizes = [p.stat().st_size for _, p in _files(path)]
            shutil.rmtree(path)
            report.append((f"{tree}/ ({reason})", len(sizes), sum(sizes)))
    patterns = [(re.compile(pattern), reason) for pattern, reason in TRIMMED_FILES]
    counts = {reason: [0, 0] for _, reason in TRIMMED_FILES}
    for rel, path in list(_files(stage)):
        for pattern, reason in patterns:
            if pattern.fullmatch(rel):
                counts[reason][0] += 1
                counts[reason][1] += path.stat().st_size
                path.unlink()
                break
    for raw, reason in TRIMMED_FILES:
        report.append((f"{raw} ({reason})", counts[reason][0], counts[reason][1]))
    for directory in sorted((p for p in stage.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()
    report.append(_slim_metadata(stage))
    return report


ZONE_BUNDLE = "tzdata/zoneinfo.tar.gz"


def _bundle_zones(stage: Path) -> tuple[str, int, int] | None:
    """Pack tzdata's ~600 zone files into one archive (handler/zones.py reads it): 265 kB of zip -> 100 kB.

    Compressed one by one the small files share nothing and each pays its zip headers; in one
    stream they compress against each other. The tzdata package itself stays (its version is known).
    """
    import gzip  # noqa: PLC0415 - only for a build
    import tarfile  # noqa: PLC0415 - only for a build

    zones = stage / "tzdata" / "zoneinfo"
    if not zones.is_dir():
        return None
    # The zone files only: not the package's __init__.py files, tables, tzdata.zi or leapseconds.
    files = [
        (rel, path)
        for rel, path in _files(zones)
        if not rel.endswith((".py", ".pyc", ".tab", ".zi", "leapseconds")) and "__pycache__" not in rel
    ]
    size = sum(path.stat().st_size for _, path in files)
    # Reproducible: gzip's header time is 0 and each entry's owner and time are blank.
    with (
        (stage / ZONE_BUNDLE).open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.USTAR_FORMAT) as archive,
    ):
        for rel, path in files:
            info = archive.gettarinfo(str(path), arcname=f"zoneinfo/{rel}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as data:
                archive.addfile(info, data)
    shutil.rmtree(zones)
    return (
        f"tzdata/zoneinfo/ (packed into {ZONE_BUNDLE}: one stream, read by handler/zones.py)",
        len(files),
        size,
    )


def _slim_metadata(stage: Path) -> tuple[str, int, int]:
    """Cut each METADATA to its header fields: importlib.metadata reads those, never the long description."""
    files = saved = 0
    for metadata in sorted(stage.glob("*.dist-info/METADATA")):
        text = metadata.read_text(encoding="utf-8", errors="replace")
        headers, blank, _ = text.partition("\n\n")
        if blank:
            metadata.write_text(headers + "\n", encoding="utf-8")
            files += 1
            saved += len(text.encode()) - len(headers.encode()) - 1
    return ("*.dist-info/METADATA long descriptions (README text; the header fields stay)", files, saved)


def _check_trim_is_safe(stage: Path) -> None:
    """Fail the build if a kept module imports a dropped one, or a docstring-free package reads __doc__."""
    names = "|".join(DROPPED_MODULES)
    statement = re.compile(rf"^[ \t]*(?:from|import)[ \t]+(?:{names})\b", re.M)
    offenders = [
        rel
        for rel, path in _files(stage)
        if rel.endswith(".py") and statement.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    readers = [
        rel
        for rel, path in _files(stage)
        if rel.startswith(DOCSTRING_FREE)
        and rel.endswith(".py")
        and "__doc__" in path.read_text(encoding="utf-8", errors="replace")
    ]
    if readers:
        raise PackagingError(
            f"these files read __doc__, so their bytecode must keep docstrings: {readers[:10]}"
        )
    if offenders:
        raise PackagingError(
            "trimming would break imports: these kept files import a dropped module "
            f"({', '.join(DROPPED_MODULES)}): {', '.join(offenders[:10])}"
        )


def lazy_init(source: str, path: str) -> str:
    """The lazy replacement of an SDK `__init__` that is nothing but `from module import Name` lines.

    Any other statement fails the build: a changed SDK must be looked at, not silently half-loaded.
    """
    table: dict[str, str] = {}
    for number, raw in enumerate(source.splitlines(), 1):
        line = raw.strip()
        found = _LAZY_IMPORT.fullmatch(line)
        if found is not None and found.group(1) != "__future__":
            table[found.group(2)] = found.group(1)
        elif not _LAZY_SKIPPED.fullmatch(line):
            raise PackagingError(
                f"{path}:{number}: not a plain `from module import Name` line: {line[:80]!r}"
            )
    if not table:
        raise PackagingError(f"{path}: no `from module import Name` lines to make lazy")
    rows = "".join(f"    {name!r}: {module!r},\n" for name, module in table.items())
    return _LAZY_TEMPLATE.format(table="{\n" + rows + "}")


def _make_lazy_inits(stage: Path) -> None:
    """Replace each of LAZY_INITS in the staged dependencies with its lazy version."""
    for rel in LAZY_INITS:
        path = stage / rel
        if not path.is_file():
            raise PackagingError(f"{rel} is missing from the installed SDK: cannot make it lazy")
        path.write_text(lazy_init(path.read_text(encoding="utf-8"), rel), encoding="utf-8")


def _copy_handler(source: Path, target: Path) -> None:
    """Copy the handler package from the source tree, exactly as it is, without bytecode caches."""
    for rel, path in _files(source):
        parts = rel.split("/")
        if "__pycache__" in parts or rel.endswith((".pyc", ".pyo")):
            continue
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def _byte_compile(stage: Path, interpreter: str) -> list[tuple[str, str]]:
    """Write __pycache__/*.<tag>.pyc for every .py with the target interpreter; return what failed."""
    sources = [rel for rel, _ in _files(stage) if rel.endswith(".py")]
    # A fixed hash seed: frozenset constants are marshalled in hash order.
    env = {"PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    try:
        done = subprocess.run(  # noqa: S603 - the verified target interpreter with a fixed script
            [interpreter, "-s", "-S", "-c", _COMPILE_SCRIPT, str(stage), json.dumps(DOCSTRING_FREE)],
            input=json.dumps(sources),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PackagingError(f"byte-compiling with {interpreter} failed: {exc}") from None
    if done.returncode != 0:
        raise PackagingError(f"byte-compiling with {interpreter} failed:\n{done.stderr[-2000:]}")
    return [(str(rel), str(error)) for rel, error in json.loads(done.stdout)]


def _distributions(stage: Path) -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, from the dist-info directory names."""
    found = []
    for path in sorted(stage.glob("*.dist-info")):
        name, _, version = path.name.removesuffix(".dist-info").partition("-")
        found.append((name, version))
    return found


def _zip_time() -> tuple[int, int, int, int, int, int]:
    """The timestamp of every entry: SOURCE_DATE_EPOCH when set (not before 1980), else 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return ZIP_EPOCH
    stamp = time.gmtime(int(raw))
    if stamp.tm_year < 1980:
        return ZIP_EPOCH
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)


def _entries(stage: Path) -> list[tuple[str, Path | None]]:
    """Zip entries in sorted order: every directory ("name/", None) and every file (name, path)."""
    entries: dict[str, Path | None] = {}
    for rel, path in _files(stage):
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            entries["/".join(parts[:depth]) + "/"] = None
        entries[rel] = path
    return sorted(entries.items())


def _write_zip(stage: Path, output: Path) -> None:
    """Write the zip: sorted entries, fixed time, fixed modes, deflate at a fixed level; atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    date_time = _zip_time()
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in _entries(stage):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = ZIP_UNIX
            if path is None:
                info.external_attr = (DIR_MODE << 16) | 0x10  # 0x10: the MS-DOS directory flag
                archive.writestr(info, b"")
                continue
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=DEFLATE_LEVEL)
    partial.replace(output)


def _parts(output: Path) -> tuple[list[Part], int, int]:
    """Group the zip's files by top-level name (all *.dist-info as one), largest compressed first."""
    totals: dict[str, list[int]] = {}
    files = pycs = 0
    with zipfile.ZipFile(output) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            files += 1
            pycs += info.filename.endswith(".pyc")
            top = info.filename.split("/", 1)[0]
            key = "*.dist-info (metadata, licences)" if top.endswith(".dist-info") else top
            total = totals.setdefault(key, [0, 0, 0])
            total[0] += 1
            total[1] += info.compress_size
            total[2] += info.file_size
    parts = [Part(name, n, packed, size) for name, (n, packed, size) in totals.items()]
    parts.sort(key=lambda p: (-p.compressed, p.name))
    return parts, files, pycs


def zip_names(path: Path) -> list[str]:
    """The entry names of a zip, in archive order (for checks and tests)."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _included(files: Sequence[Path]) -> list[tuple[str, bytes]]:
    """The files `--include` ships at the zip's root: readable, and never in place of the function's own.

    A YAML routing file also ships compiled (`<name>.json`, handler.routing_file.compile_yaml), so a
    cold start reads JSON instead of importing PyYAML; a YAML file that does not parse stops the build.
    """
    taken = {"index.py", "handler"}
    found = []
    for path in files:
        name = path.name
        if name in taken or name.endswith((".py", ".pyc", ".pth")) or name.startswith("."):
            raise PackagingError(
                f"--include {path}: {name!r} cannot sit at the zip's root (it would shadow code)"
            )
        try:
            found.append((name, path.read_bytes()))
        except OSError as exc:
            raise PackagingError(f"--include {path}: {exc.strerror}") from None
        taken.add(name)
        if name.lower().endswith((".yaml", ".yml")):
            found.append(_compiled_copy(path, found[-1][1], taken))
    return found


def _compiled_copy(path: Path, raw: bytes, taken: set[str]) -> tuple[str, bytes]:
    """The compiled copy of an included YAML routing file, shipped beside it."""
    from handler.routes import RoutesError  # noqa: PLC0415
    from handler.routing_file import compile_yaml, compiled_path  # noqa: PLC0415

    name = compiled_path(path).name
    if name in taken:
        raise PackagingError(f"--include {path}: {name!r} is also included; it is written from {path.name}")
    try:
        text = raw.decode("utf-8")
        copy = compile_yaml(text, f"--include {path}")
    except UnicodeDecodeError:
        raise PackagingError(f"--include {path}: not UTF-8 text") from None
    except RoutesError as exc:
        raise PackagingError(f"--include {path}: {exc}") from None
    taken.add(name)
    return name, copy.encode("utf-8")


def run(
    output: Path = DEFAULT_OUTPUT,
    *,
    python: str = DEFAULT_PYTHON,
    platform: str = DEFAULT_PLATFORM,
    interpreter: str | None = None,
    bytecode: bool = True,
    include: Sequence[Path] = (),
) -> int:
    """The `package` command: build, print the JSON report on stdout and a summary on stderr; 0 or 1."""
    try:
        report = build_package(
            output,
            python=python,
            platform=platform,
            interpreter=interpreter,
            bytecode=bytecode,
            include=include,
        )
    except (PackagingError, OSError) as exc:
        print(f"elb-master-watch package: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's error line
        return 1
    print(report.summary(), file=sys.stderr)  # noqa: T201 - the human summary goes with the logs
    print(json.dumps(report.as_dict(), indent=2))  # noqa: T201 - stdout carries only the JSON result
    return 0
