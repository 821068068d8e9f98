"""What of the Huawei Cloud SDK the function can reach, and cutting the staged SDK down to it.

An SDK service package (`huaweicloudsdkelb/v3`) holds a client with every operation of the service and
a model module per request, response and nested object: about 490 models for ELB v3, all of them
shipped and compiled although an invocation makes five calls. The packager keeps, per service version:

- the client with only the operations in SDK_OPERATIONS (the others' methods are cut out of its source);
- the models those operations reach: `<Op>Request`, `<Op>Response` and every model their `openapi_types`
  name, transitively (the SDK finds a model by that name when it serializes or deserializes);
- the region module and the package `__init__` files, rewritten to name only what is kept.

Other versions of a service (ELB v2, CES v2 and v3) and the async clients go. The handler's own SDK
imports are read from its source (`handler_imports`): the build fails if one of them is not shipped,
or if the handler builds a request of an operation SDK_OPERATIONS does not name.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# The SDK operations the function calls, per service version (the IAM permissions in infra/ match).
SDK_OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "huaweicloudsdkelb/v3": (
        "ShowMasterSlavePool",
        "ShowMemberHealthCheckJob",
        "ListMasterSlavePools",
        "ListLoadBalancers",
        "CreateMemberHealthCheckJob",
    ),
    "huaweicloudsdksmn/v2": ("PublishMessage",),
    # Issue 24: Cloud Eye custom metrics and the COC receiver.
    "huaweicloudsdkces/v1": ("CreateMetricData",),
    "huaweicloudsdkcoc/v1": ("CreateReportCustomEvent",),
}
CORE = "huaweicloudsdkcore"
_IMPORT_LINE = re.compile(r"from ([A-Za-z_][\w.]*) import ([A-Za-z_]\w*)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_SDK_MODULE = re.compile(r"huaweicloudsdk\w*(\.\w+)+")


class ReachError(RuntimeError):
    """The SDK cannot be cut down safely: the message names what and why."""


@dataclass(frozen=True, slots=True)
class ServiceCut:
    """What was kept and dropped of one service version."""

    service: str
    operations: tuple[str, ...]
    models_kept: int
    models_dropped: int
    methods_dropped: int


def import_table(init: Path) -> dict[str, str]:
    """Name -> module of an SDK `__init__` made of `from module import Name` lines (empty if none)."""
    table: dict[str, str] = {}
    if init.is_file():
        for line in init.read_text(encoding="utf-8").splitlines():
            found = _IMPORT_LINE.fullmatch(line.strip())
            if found is not None and found.group(1) != "__future__":
                table[found.group(2)] = found.group(1)
    return table


def module_file(stage: Path, module: str) -> Path | None:
    """The staged file of a dotted module name (module.py or package/__init__.py), or None."""
    base = stage.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _model_names(path: Path) -> set[str]:
    """The identifiers in a model class's `openapi_types` values ('list[MasterSlaveMember]' -> ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "openapi_types" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.update(_NAME.findall(value.value))
    return names


def reached_models(stage: Path, models: Mapping[str, str], roots: Iterable[str]) -> set[str]:
    """The model names reachable from `roots` through `openapi_types`, roots included."""
    seen: set[str] = set()
    todo = [name for name in roots if name in models]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(stage, models[name])
        if path is None:
            raise ReachError(f"model {name} names module {models[name]}, which is not installed")
        todo += [found for found in _model_names(path) if found in models and found not in seen]
    return seen


def _operation_methods(client: ast.ClassDef) -> dict[str, tuple[str, ...]]:
    """Operation name (from its response type) -> the client's methods for it (call, invoker, http_info)."""
    methods = {node.name for node in client.body if isinstance(node, ast.FunctionDef)}
    found: dict[str, tuple[str, ...]] = {}
    for node in client.body:
        if not (isinstance(node, ast.FunctionDef) and node.name.endswith("_http_info")):
            continue
        base = node.name.removeprefix("_").removesuffix("_http_info")
        for sub in ast.walk(node):
            if isinstance(sub, ast.Dict):
                for key, value in zip(sub.keys, sub.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "response_type"
                        and isinstance(value, ast.Constant)
                        and str(value.value).endswith("Response")
                    ):
                        operation = str(value.value).removesuffix("Response")
                        found[operation] = tuple(
                            m for m in (base, base + "_invoker", node.name) if m in methods
                        )
    return found


def cut_client(source: str, keep: Iterable[str], path: str) -> tuple[str, int]:
    """The client source with only the methods of the `keep` operations; and how many methods went.

    The rest of the source (imports, the class, its builder) is kept line for line.
    """
    tree = ast.parse(source, path)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    if len(classes) != 1:
        raise ReachError(f"{path}: expected one client class, found {len(classes)}")
    operations = _operation_methods(classes[0])
    wanted = set(keep)
    missing = sorted(wanted - set(operations))
    if missing:
        raise ReachError(f"{path}: the SDK has no operation {', '.join(missing)} (SDK_OPERATIONS)")
    dropped = {m for operation, names in operations.items() if operation not in wanted for m in names}
    lines = source.splitlines(keepends=True)
    cut = [False] * len(lines)
    for node in classes[0].body:
        if isinstance(node, ast.FunctionDef) and node.name in dropped:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            for index in range(first - 1, end):
                cut[index] = True
    kept = "".join(line for line, gone in zip(lines, cut, strict=True) if not gone)
    return kept, len(dropped)


def handler_imports(handler: Path) -> set[str]:
    """Every SDK module the handler's source names: imports (at any depth) and dotted-name strings.

    `from pkg import Name` yields `pkg.Name` when that is a module, else `pkg` plus the name, written
    `pkg:Name` so the check can look the name up in the package's `__init__`.
    """
    found: set[str] = set()
    for path in sorted(handler.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("huaweicloudsdk"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("huaweicloudsdk"):
                found.update(f"{node.module}:{a.name}" for a in node.names)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _SDK_MODULE.fullmatch(node.value)
            ):
                found.add(node.value)
    return found


def resolve(stage: Path, reference: str) -> Path | None:
    """The staged file a `handler_imports` reference loads, or None when the zip would lack it."""
    module, _, name = reference.partition(":")
    if not name:
        return module_file(stage, module)
    submodule = module_file(stage, f"{module}.{name}")
    if submodule is not None:
        return submodule
    package = module_file(stage, module)
    if package is None:
        return None
    if package.name != "__init__.py":
        return package
    table = import_table(package)
    if name in table:
        return module_file(stage, table[name])
    return package if table == {} else None


def services(stage: Path) -> Iterator[Path]:
    """Every installed service version directory (huaweicloudsdk<service>/v<N>), core excluded."""
    for top in sorted(stage.glob("huaweicloudsdk*")):
        if top.is_dir() and top.name != CORE:
            yield from (p for p in sorted(top.iterdir()) if p.is_dir() and re.fullmatch(r"v\d+", p.name))


def _filter_init(init: Path, stage: Path) -> None:
    """Drop the `from module import Name` lines of an SDK `__init__` whose module is no longer staged."""
    if not init.is_file():
        return
    kept = []
    for line in init.read_text(encoding="utf-8").splitlines(keepends=True):
        found = _IMPORT_LINE.fullmatch(line.strip())
        if found is None or found.group(1) == "__future__" or module_file(stage, found.group(1)) is not None:
            kept.append(line)
    init.write_text("".join(kept), encoding="utf-8")


def _roots(service: str, operations: tuple[str, ...], models: Mapping[str, str], refs: set[str]) -> list[str]:
    """The models to start from: each operation's request and response, and every model the handler names."""
    roots = [f"{operation}{end}" for operation in operations for end in ("Request", "Response")]
    absent = [name for name in roots if name not in models]
    if absent:
        raise ReachError(f"{service}: the SDK has no model {', '.join(absent)} (SDK_OPERATIONS)")
    dotted = service.replace("/", ".")
    named = {ref.partition(":")[0] for ref in refs} | {ref.replace(":", ".") for ref in refs}
    named |= {ref.partition(":")[2] for ref in refs if ref.startswith((dotted + ":", dotted + ".model:"))}
    handler_models = sorted(n for n, module in models.items() if module in named or n in named)
    unknown = [
        n for n in handler_models if n.endswith("Request") and n.removesuffix("Request") not in operations
    ]
    if unknown:
        raise ReachError(
            f"the handler builds {', '.join(unknown)}, whose operation SDK_OPERATIONS[{service!r}] lacks"
        )
    return roots + handler_models


def _remove(paths: Iterable[Path]) -> tuple[int, int]:
    """Delete files; (how many, their bytes)."""
    files = size = 0
    for path in paths:
        files += 1
        size += path.stat().st_size
        path.unlink()
    return files, size


def cut_service(stage: Path, service: str, refs: set[str]) -> tuple[ServiceCut, tuple[int, int]]:
    """Cut one staged service version to SDK_OPERATIONS[service]: what was kept, and (files, bytes) gone."""
    directory = stage / service
    operations = SDK_OPERATIONS[service]
    models = import_table(directory / "model" / "__init__.py")
    kept = reached_models(stage, models, _roots(service, operations, models, refs))
    modules = {models[name] for name in kept}
    dotted = service.replace("/", ".")
    unused = [
        path
        for path in sorted((directory / "model").glob("*.py"))
        if path.name != "__init__.py" and f"{dotted}.model.{path.stem}" not in modules
    ]
    asyncs = [
        path
        for path in sorted(directory.glob("*_async_client.py"))
        if f"{dotted}.{path.stem}" not in {ref.partition(":")[0] for ref in refs}
    ]
    removed = _remove([*unused, *asyncs])
    cut_methods = 0
    for client in sorted(set(directory.glob("*_client.py")) - set(asyncs)):
        source, dropped = cut_client(client.read_text(encoding="utf-8"), operations, str(client))
        client.write_text(source, encoding="utf-8")
        cut_methods += dropped
    for init in (directory / "model" / "__init__.py", directory / "__init__.py"):
        _filter_init(init, stage)
    return ServiceCut(service, operations, len(kept), len(unused), cut_methods), removed


def cut_sdk(stage: Path, handler: Path) -> tuple[list[ServiceCut], list[tuple[str, int, int]]]:
    """Cut every staged SDK service to what the function reaches; fail if the handler would miss a module.

    Returns the per-service cuts and (what, files, bytes) rows for the packager's trimmed report.
    """
    refs = handler_imports(handler)
    installed = {path.relative_to(stage).as_posix() for path in services(stage)}
    absent = sorted(set(SDK_OPERATIONS) - installed)
    if absent:
        raise ReachError(f"SDK_OPERATIONS names {', '.join(absent)}, which the runtime dependencies lack")
    cuts, rows = [], []
    for service in sorted(installed):
        if service not in SDK_OPERATIONS:
            files = [path for path in (stage / service).rglob("*") if path.is_file()]
            size = sum(path.stat().st_size for path in files)
            shutil.rmtree(stage / service)
            rows.append((f"{service}/ (no operation of it in SDK_OPERATIONS)", len(files), size))
            continue
        cut, (files_gone, bytes_gone) = cut_service(stage, service, refs)
        cuts.append(cut)
        what = (
            f"{service}: models and clients no operation in SDK_OPERATIONS reaches "
            f"(kept {cut.models_kept} models, cut {cut.methods_dropped} client methods)"
        )
        rows.append((what, files_gone, bytes_gone))
    missing = sorted(ref.replace(":", " import ") for ref in refs if resolve(stage, ref) is None)
    if missing:
        raise ReachError(f"the handler imports what the trimmed SDK lacks: {'; '.join(missing[:10])}")
    return cuts, rows
