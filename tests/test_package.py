"""The FunctionGraph zip (`elb-master-watch package`): reproducible, small, trimmed, and complete.

The zip is built twice per session (pip needs the package index; wheels come from pip's cache after
the first run). The decisive test unpacks it into a fresh directory and runs one invocation in a
clean interpreter that sees only that directory and the standard library, against the simulator.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from elb_simulator import ElbSimulator
from elb_simulator.faults import Fault
from elb_simulator.signature import verify_request
from elb_tools import packaging, sdk_reach
from handler.cli import main
from tests.coc_receiver import CocReceiver
from tests.receivers import CesReceiver, Received, Receiver, Reply, running_receivers
from tests.support import DEMO_POOL, EVENTS, ROOT, demo_scenario

pytest_plugins = ("tests.redis_server",)

# Runs inside the unpacked zip: `-I -S` leaves only the standard library on sys.path, then the code
# directory goes first, as FunctionGraph puts it. Reports where every loaded module came from.
CHILD = """
import importlib.metadata, json, sys
code_dir, event_path, result_path = sys.argv[1:4]
# Run deeper than a handler is ever called: a lazily loaded module must work from any stack depth.
depth = int(sys.argv[4]) if len(sys.argv) > 4 else 0
sys.path.insert(0, code_dir)
import index

class Context:
    def getRemainingTimeInMilliSeconds(self):
        return 20000
    def getRequestID(self):
        return "req-package-test"

with open(event_path, encoding="utf-8") as handle:
    event = json.load(handle)
def nested(level):
    return index.handler(event, Context()) if level <= 0 else nested(level - 1)
result = nested(depth)
import huaweicloudsdkcore
from handler import sdk
from handler.wiring import WARM
trims = {name: sorted({",".join(sdk.trimmed(kept[0])) for kept in clients.kept()})
         for name, clients in (("elb", WARM.elb_clients), ("smn", WARM.smn_clients))}
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
with open(result_path, "w", encoding="utf-8") as handle:
    json.dump({"result": result, "sdk": huaweicloudsdkcore.__file__, "files": files,
               "no_site": sys.flags.no_site, "isolated": sys.flags.isolated,
               "tag": sys.implementation.cache_tag,
               "models": sorted(name for name in sys.modules if ".model." in name),
               "trims": trims,
               "structlog_version": importlib.metadata.version("structlog")}, handle)
"""


@pytest.fixture(scope="session")
def target() -> tuple[str, str]:
    """(version, interpreter): the runtime's 3.10 where this machine has it, else the running Python."""
    interpreter = packaging.find_interpreter(packaging.DEFAULT_PYTHON)
    if interpreter is not None:
        return packaging.DEFAULT_PYTHON, interpreter
    return f"{sys.version_info.major}.{sys.version_info.minor}", sys.executable


@pytest.fixture(scope="session")
def builds(
    tmp_path_factory: pytest.TempPathFactory, target: tuple[str, str]
) -> list[packaging.PackageReport]:
    """The zip built twice from the same inputs, into two different directories."""
    version, interpreter = target
    reports = []
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        for name in ("first", "second"):
            output = tmp_path_factory.mktemp(f"package-{name}") / "function.zip"
            try:
                reports.append(packaging.build_package(output, python=version, interpreter=interpreter))
            except packaging.PackagingError as exc:
                if exc.network:
                    pytest.skip(f"PACKAGE INDEX UNREACHABLE, the zip was NOT built or tested: {exc}")
                raise
    return reports


@pytest.fixture(scope="session")
def report(builds: list[packaging.PackageReport]) -> packaging.PackageReport:
    """The first build."""
    return builds[0]


@pytest.fixture(scope="session")
def names(report: packaging.PackageReport) -> list[str]:
    """The zip's entry names, in archive order."""
    return packaging.zip_names(report.path)


def test_same_inputs_build_a_byte_identical_zip(builds):
    first, second = builds
    assert first.path != second.path
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256


def test_zip_is_under_the_size_target(report):
    assert report.size == report.path.stat().st_size
    assert report.size <= packaging.SIZE_TARGET == 5_000_000, report.summary()
    assert report.warnings == ()


def test_entries_are_sorted_with_fixed_times_and_modes(report, names):
    assert names == sorted(names)
    with zipfile.ZipFile(report.path) as archive:
        for info in archive.infolist():
            assert info.date_time == packaging.ZIP_EPOCH
            assert info.create_system == packaging.ZIP_UNIX
            mode = packaging.DIR_MODE if info.is_dir() else packaging.FILE_MODE
            assert info.external_attr >> 16 == mode
            if not info.is_dir():
                assert info.compress_type == zipfile.ZIP_DEFLATED


def test_index_py_only_imports_the_handler(report):
    with zipfile.ZipFile(report.path) as archive:
        index = archive.read("index.py").decode()
    assert index == "from handler import handler\n"
    assert packaging.HANDLER_STRING == "index.handler"


def test_zip_leaves_out_the_simulator_tests_and_build_tooling(names):
    assert not [name for name in names if name.startswith(("elb_simulator", "elb_tools"))]
    assert not [name for name in names if {"tests", "test"} & set(name.split("/")[:-1])]
    assert "handler/__init__.py" in names
    assert "handler/app.py" in names


def test_the_zip_holds_handler_exactly_as_in_the_repo(names):
    # No exclusion list for our own code: every source file of handler/ ships, and nothing else of ours.
    root = packaging.source_root() / "handler"
    in_repo = {
        "handler/" + path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    shipped = {
        name
        for name in names
        if name.startswith("handler/") and "__pycache__" not in name and not name.endswith("/")
    }
    assert shipped == in_repo


def test_dead_weight_is_trimmed_and_metadata_kept(names):
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & {"pymongo", "gridfs", "dns", "_yaml", "bin"}
    assert not [
        name for name in names if name.startswith(("huaweicloudsdkelb/v2/", "urllib3/contrib/emscripten/"))
    ]
    assert not [name for name in names if name.endswith((".pyi", "/RECORD", "/INSTALLER", ".c", ".h"))]
    # bson (the SDK imports it) stays; importlib.metadata still finds structlog's version.
    assert "bson/__init__.py" in names
    assert any(name.startswith("structlog-") and name.endswith(".dist-info/METADATA") for name in names)


def _cached(source: str, tag: str) -> str:
    """Where the target interpreter looks for a module's bytecode: dir/__pycache__/name.<tag>.pyc."""
    directory, _, name = source.rpartition("/")
    return f"{directory}/__pycache__/{name.removesuffix('.py')}.{tag}.pyc".lstrip("/")


def test_every_module_has_bytecode_for_the_target_only(report, names, target):
    tag = "cpython-" + target[0].replace(".", "")
    sources = [name for name in names if name.endswith(".py")]
    pycs = {name for name in names if name.endswith(".pyc")}
    missing = [source for source in sources if _cached(source, tag) not in pycs]
    assert report.not_compiled == ()
    assert missing == []
    assert all(name.endswith(f".{tag}.pyc") for name in pycs)
    assert report.pyc_files == len(pycs) == len(sources)


def test_pycs_are_unchecked_hash_based(report, names):
    # PEP 552 flags word: bit 0 hash-based, bit 1 check_source; 0b01 is "unchecked".
    with zipfile.ZipFile(report.path) as archive:
        flags = {int.from_bytes(archive.read(name)[4:8], "little") for name in names if name.endswith(".pyc")}
    assert flags == {0b01}


@pytest.fixture(scope="session")
def unpacked(report: packaging.PackageReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip extracted into a fresh directory, as FunctionGraph extracts it."""
    directory = tmp_path_factory.mktemp("code")
    with zipfile.ZipFile(report.path) as archive:
        archive.extractall(directory)
    return directory


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` with its sha256."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in directory.rglob("*")
        if path.is_file()
    }


def _run_unpacked(
    unpacked: Path,
    interpreter: str,
    work: Path,
    simulator: ElbSimulator,
    extra: dict[str, str] | None = None,
    *,
    event: dict[str, Any] | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """One invocation of index.handler from the unpacked zip in a clean interpreter; the child's report.

    Only what FunctionGraph would give the function: nothing from this process's environment, and
    TMPDIR set to `work` (FunctionGraph's writable /tmp), where the default state store lives.
    """
    result_path = work / f"result-{uuid.uuid4().hex}.json"
    event_path = EVENTS / "direct.json"
    if event is not None:
        event_path = work / f"event-{uuid.uuid4().hex}.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
    env = {
        **simulator.env(),
        "HUAWEICLOUD_SDK_AK": simulator.credentials.ak,
        "HUAWEICLOUD_SDK_SK": simulator.credentials.sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": simulator.project_id,
        "ELB_WATCH_REGION": simulator.region,
        "TMPDIR": str(work),
        **(extra or {}),
    }
    done = subprocess.run(
        [interpreter, "-I", "-S", "-c", CHILD, str(unpacked), str(event_path), str(result_path), str(depth)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    child: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return child


@pytest.fixture(scope="session")
def invocation(
    unpacked: Path, target: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One invocation of index.handler from the unpacked zip, against the simulator in this process."""
    work = tmp_path_factory.mktemp("invocation")
    before = _snapshot(unpacked)
    with ElbSimulator(demo_scenario()) as simulator:
        child = _run_unpacked(unpacked, target[1], work, simulator)
    return {"child": child, "before": before, "after": _snapshot(unpacked)}


def _notified(child: dict[str, Any]) -> list[str]:
    return [n["kind"] for n in child["result"]["notifications"]]


def test_two_runs_of_the_unpacked_zip_without_a_store_setting_notify_once(unpacked, target, tmp_path):
    with ElbSimulator(demo_scenario()) as simulator:
        first = _run_unpacked(unpacked, target[1], tmp_path, simulator)
        second = _run_unpacked(unpacked, target[1], tmp_path, simulator)
    assert _notified(first) == ["master_failed"]
    assert _notified(second) == []
    assert second["result"]["held"][0]["why"] == "already notified"
    assert first["result"]["deduplication"] == second["result"]["deduplication"] == "instance"
    assert (tmp_path / f"elb-master-watch-state-{os.getuid()}.db").is_file()


def test_two_runs_of_the_unpacked_zip_against_redis_notify_once(unpacked, target, tmp_path, redis_url):
    with ElbSimulator(demo_scenario()) as simulator:
        runs = []
        for name in ("a", "b"):  # two instances: separate temp directories, one Redis
            (tmp_path / name).mkdir()
            store = {"ELB_WATCH_STATE": redis_url}
            runs.append(_run_unpacked(unpacked, target[1], tmp_path / name, simulator, store))
    assert [_notified(run) for run in runs] == [["master_failed"], []]
    assert [run["result"]["deduplication"] for run in runs] == ["on", "on"]
    assert all(run["result"]["ok"] for run in runs), runs[1]["result"]["errors"]
    # redis came from the zip, not from this machine's site-packages.
    assert any(f.startswith(str(unpacked / "redis")) for f in runs[0]["files"])


def test_the_zips_sdk_takes_every_trim(invocation):
    """handler.sdk trims through attributes of the SDK's own: the SDK the zip ships still has them all."""
    assert invocation["child"]["trims"] == {"elb": ["signing,environment,models"], "smn": []}


def test_unpacked_zip_runs_an_invocation_in_a_clean_interpreter(invocation):
    result = invocation["child"]["result"]
    assert result["ok"] is True, result["errors"]
    assert [(n["kind"], n["severity"]) for n in result["notifications"]] == [("master_failed", "major")]
    assert len(result["notifications"][0]["check"]["failed_items"]) == 2


def test_the_invocation_used_only_the_zip_and_the_standard_library(invocation, unpacked, target):
    child = invocation["child"]
    assert child["isolated"] == 1
    assert child["tag"] == "cpython-" + target[0].replace(".", "")
    assert child["no_site"] == 1
    assert Path(child["sdk"]).is_relative_to(unpacked)
    paths = subprocess.run(
        [target[1], "-I", "-S", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    stdlib = json.loads(paths.stdout)
    allowed = (str(unpacked), stdlib["stdlib"], stdlib["platstdlib"])
    outside = [f for f in child["files"] if not f.startswith(allowed) or "site-packages" in f]
    assert outside == []


def test_trimmed_metadata_still_answers_importlib_metadata(invocation, report):
    assert invocation["child"]["structlog_version"] == dict(report.distributions)["structlog"]


def test_the_invocation_used_the_shipped_bytecode(invocation):
    # Python rewrites a pyc it rejects (wrong version, bad header) and writes one that is missing:
    # an unchanged directory means every imported module ran from the zip's bytecode.
    assert invocation["after"] == invocation["before"]


def test_package_command_refuses_without_a_target_interpreter(tmp_path, capsys):
    output = tmp_path / "function.zip"
    assert main(["package", "--python", "3.99", "--output", str(output)]) == 1
    error = capsys.readouterr().err
    assert "no CPython 3.99 interpreter found" in error
    assert "--no-bytecode" in error
    assert not output.exists()


def test_runtime_requirements_are_the_project_dependencies():
    pyproject = ROOT / "pyproject.toml"
    requirements = packaging.runtime_requirements(pyproject)
    names = [requirement.split(">")[0].split("<")[0].split("=")[0].strip() for requirement in requirements]
    # redis ships too, so every store the docs recommend (Redis/DCS) works from the zip.
    assert {"huaweicloudsdkcore", "huaweicloudsdkelb", "structlog", "redis"} <= set(names)
    assert not {"pytest", "ruff", "mypy", "hypothesis", "python-hcl2"} & set(names)
    # The Python 3.10 reader (no tomllib there) sees the same list.
    assert packaging._dependencies_without_toml(pyproject.read_text(encoding="utf-8")) == requirements


def test_importing_the_handler_or_the_cli_does_not_load_the_build_module():
    code = "import sys, handler, handler.cli; print('elb_tools.packaging' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_report_prints_size_and_the_ten_largest_parts(report):
    summary = report.summary()
    assert "within the" in summary
    assert len(report.parts) > 10
    for part in report.parts[:10]:
        assert part.name in summary
    data = report.as_dict()
    assert len(data["largest_parts"]) == 10
    compressed = [part["compressed"] for part in data["largest_parts"]]
    assert compressed == sorted(compressed, reverse=True)
    assert data["handler"] == "index.handler"
    assert json.loads(json.dumps(data)) == data
    assert os.fspath(report.path) == data["path"]


def test_zip_timestamps_follow_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    assert packaging._zip_time() == (2023, 11, 14, 22, 13, 20)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # before 1980: zip cannot store it
    assert packaging._zip_time() == packaging.ZIP_EPOCH
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert packaging._zip_time() == packaging.ZIP_EPOCH


def test_the_sdk_model_packages_in_the_zip_resolve_lazily(report):
    with zipfile.ZipFile(report.path) as archive:
        for name in packaging.LAZY_INITS:
            text = archive.read(name).decode()
            assert "def __getattr__(name):" in text
            assert "\nfrom " not in text  # nothing imported eagerly
            assert "\nimport " not in text
    with zipfile.ZipFile(report.path) as archive:
        models = archive.read("huaweicloudsdkelb/v3/model/__init__.py").decode()
    assert (
        "'ShowMasterSlavePoolResponse': 'huaweicloudsdkelb.v3.model.show_master_slave_pool_response'"
        in models
    )


def test_a_lazy_init_refuses_an_sdk_init_it_does_not_understand():
    assert "'Pool': 'sdk.model.pool'" in packaging.lazy_init(
        "# coding: utf-8\nfrom sdk.model.pool import Pool\n", "x"
    )
    with pytest.raises(packaging.PackagingError, match="not a plain"):
        packaging.lazy_init("from sdk.model.pool import Pool\nPool.extra = 1\n", "x/__init__.py")
    with pytest.raises(packaging.PackagingError, match="no `from module import Name`"):
        packaging.lazy_init("# coding: utf-8\n", "x/__init__.py")


def test_the_invocation_loaded_only_the_models_it_used(invocation):
    models = invocation["child"]["models"]
    elb = [name for name in models if name.startswith("huaweicloudsdkelb.v3.model.")]
    # ShowMasterSlavePool and ShowMemberHealthCheckJob: requests and responses (the SDK builds no
    # nested models for the trimmed client: handler.sdk).
    assert "huaweicloudsdkelb.v3.model.show_master_slave_pool_response" in elb
    assert "huaweicloudsdkelb.v3.model.show_member_health_check_job_response" in elb
    assert 4 <= len(elb) < 40, elb  # the SDK's eager __init__ loads about 490
    assert "huaweicloudsdkelb.v3.model.master_slave_member" not in elb
    assert not [name for name in models if name.startswith("huaweicloudsdksmn.")]


def test_unpacked_zip_lists_pools_in_a_sweep(unpacked, target, tmp_path):
    with ElbSimulator(demo_scenario()) as simulator:
        child = _run_unpacked(unpacked, target[1], tmp_path, simulator, event={"sweep": {}}, depth=40)
        listed = simulator.count("master-slave-pools", "GET")
    result = child["result"]
    assert result["ok"] is True, result["errors"]
    assert [n["pool"]["id"] for n in result["notifications"]] == [DEMO_POOL]
    assert result["sweeps"][0]["pools"] >= 1
    assert listed >= 1
    assert "huaweicloudsdkelb.v3.model.list_master_slave_pools_response" in child["models"]


def test_unpacked_zip_starts_a_check_job_when_none_is_given(unpacked, target, tmp_path):
    with ElbSimulator(demo_scenario()) as simulator:
        child = _run_unpacked(
            unpacked,
            target[1],
            tmp_path,
            simulator,
            {"ELB_WATCH_DIAGNOSE": "on"},
            event={"pool_id": DEMO_POOL},
        )
        started = simulator.count("health-check", "POST")
    result = child["result"]
    assert result["ok"] is True, result["errors"]
    assert started == 1
    [notification] = result["notifications"]
    assert notification["check"]["job_id"]
    assert "huaweicloudsdkelb.v3.model.create_member_health_check_job_response" in child["models"]


def test_unpacked_zip_publishes_to_smn(unpacked, target, tmp_path):
    with (
        ElbSimulator(demo_scenario()) as simulator,
        running_receivers(smn_ak=simulator.credentials.ak, smn_sk=simulator.credentials.sk) as receivers,
    ):
        smn = {**receivers.smn.env(), "ELB_WATCH_SMN_TOPIC_URN": receivers.smn.topic_urn}
        child = _run_unpacked(unpacked, target[1], tmp_path, simulator, smn)
        accepted = len(receivers.smn.accepted)
    result = child["result"]
    assert result["ok"] is True, result["errors"]
    assert [(d["channel"], d["status"]) for d in result["deliveries"]] == [("smn", "sent")]
    assert accepted == 1
    assert "huaweicloudsdksmn.v2.model.publish_message_response" in child["models"]
    assert child["trims"]["smn"] == ["signing,environment"]


def test_unpacked_zip_reports_an_alarm_to_coc(unpacked, target, tmp_path):
    key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    with ElbSimulator(demo_scenario()) as simulator:
        coc = CocReceiver(ak=simulator.credentials.ak, sk=simulator.credentials.sk, integration_key=key)
        with coc:
            env = {**coc.env(), "ELB_WATCH_COC_INTEGRATION_KEY": key}
            child = _run_unpacked(unpacked, target[1], tmp_path, simulator, env)
            events = list(coc.accepted)
    result = child["result"]
    assert result["ok"] is True, result["errors"]
    assert [(d["channel"], d["status"]) for d in result["deliveries"]] == [("coc", "sent")]
    [event] = events  # signed and checked by the intake, sent by the handler's own COC sender
    assert (event["alarmStatus"], event["alarmId"]) == ("alarm", result["notifications"][0]["fingerprint"])
    assert "huaweicloudsdkcoc.v1.model.create_report_custom_event_response" in child["models"]
    assert key not in json.dumps(result)


ERROR_CASES = {
    404: (None, {}, "ELB.8907"),
    401: (None, {"HUAWEICLOUD_SDK_SK": "not-the-right-secret"}, "APIGW.0301"),
    429: ({"path": "master-slave-pools", "status": 429}, {"ELB_WATCH_MAX_ATTEMPTS": "2"}, None),
}


@pytest.mark.parametrize("status", sorted(ERROR_CASES))
def test_unpacked_zip_reports_error_responses(unpacked, target, tmp_path, status):
    fault, extra, code = ERROR_CASES[status]
    pool = "00000000-0000-0000-0000-000000000000" if status == 404 else DEMO_POOL
    with ElbSimulator(demo_scenario()) as simulator:
        if fault is not None:
            simulator.add_fault(Fault(**fault))
        child = _run_unpacked(unpacked, target[1], tmp_path, simulator, extra, event={"pool_id": pool})
    result = child["result"]
    assert result["ok"] is False
    [error] = result["errors"]
    assert error["status"] == status
    if code is not None:
        assert error["code"] == code
    assert "not-the-right-secret" not in json.dumps(result)


def test_unpacked_zip_retries_throttling_then_succeeds(unpacked, target, tmp_path):
    with ElbSimulator(demo_scenario()) as simulator:
        simulator.add_fault(Fault(path="master-slave-pools", status=429, times=1))
        child = _run_unpacked(unpacked, target[1], tmp_path, simulator)
        reads = simulator.count("master-slave-pools", "GET")
    assert child["result"]["ok"] is True, child["result"]["errors"]
    assert reads == 2


def test_an_invocation_that_names_its_job_imports_no_diagnosis(invocation):
    files = invocation["child"]["files"]
    assert any(f.endswith("handler/elb.py") for f in files)
    assert not [f for f in files if f.endswith("handler/diagnose.py")]


ZIP_ROUTES = (
    "receivers:\n"
    "  - name: ops-hook\n"
    '    webhook: {url: "${OPS_HOOK_URL}", secret: "${OPS_HOOK_SECRET}"}\n'
    "routes:\n"
    '  - match: {pool_name: "web*"}\n'
    "    receivers: [ops-hook]\n"
    '    runbook_url: "https://wiki.example.com/elb?pool={pool_id}"\n'
)


@pytest.mark.parametrize("compiled", [False, True], ids=["yaml-only", "with-compiled-copy"])
def test_unpacked_zip_routes_with_a_yaml_file_read_from_the_code_root(unpacked, target, tmp_path, compiled):
    # FunctionGraph sets RUNTIME_CODE_ROOT to where it unpacked the code: a relative ELB_WATCH_ROUTES is
    # read from there. PyYAML comes from the zip (the SDK's region provider imports it), never from this
    # machine. With the compiled copy `package --include` writes beside it, the copy is what is read: here
    # its runbook says so (a real copy is the same document as the YAML; this one is marked to be seen).
    code_root = tmp_path / "code"
    code_root.mkdir()
    (code_root / "routes.yaml").write_text(ZIP_ROUTES, encoding="utf-8")
    if compiled:
        [_, (name, copy)] = packaging._included([code_root / "routes.yaml"])
        body = json.loads(copy)
        body["document"]["routes"][0]["runbook_url"] += "&from=copy"
        (code_root / name).write_text(json.dumps(body), encoding="utf-8")
    with (
        ElbSimulator(demo_scenario()) as simulator,
        running_receivers(secret="zip-route-secret-01") as receivers,
    ):
        routing = {
            "ELB_WATCH_ROUTES": "routes.yaml",
            "RUNTIME_CODE_ROOT": str(code_root),
            "OPS_HOOK_URL": receivers.webhook.url,
            "OPS_HOOK_SECRET": "zip-route-secret-01",
        }
        child = _run_unpacked(unpacked, target[1], tmp_path, simulator, routing)
        accepted = list(receivers.webhook.accepted)
    result = child["result"]
    assert result["ok"] is True, result["errors"]
    assert [(d["receiver"], d["channel"], d["status"]) for d in result["deliveries"]] == [
        ("ops-hook", "webhook", "sent")
    ]
    [notification] = result["notifications"]
    assert notification["route"]["matched"] == ["routes[0]"]
    assert len(accepted) == 1
    assert notification["route"]["runbook_url"].endswith("&from=copy") is compiled
    assert any(f.startswith(str(unpacked / "yaml")) for f in child["files"])
    assert "zip-route-secret-01" not in json.dumps(result)


def test_package_include_ships_a_file_at_the_root_but_never_in_place_of_code(tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes: []\n", encoding="utf-8")
    [shipped, (name, copy)] = packaging._included([routes])
    assert shipped == ("routes.yaml", b"routes: []\n")
    assert name == "routes.yaml.json"
    body = json.loads(copy)
    assert body["document"] == {"routes": []}
    assert body["source_sha256"] == hashlib.sha256(b"routes: []\n").hexdigest()
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [\n", encoding="utf-8")
    with pytest.raises(packaging.PackagingError, match=r"broken\.yaml.*not valid YAML"):
        packaging._included([broken])
    plain = tmp_path / "routes.json"
    plain.write_text("{}", encoding="utf-8")
    assert packaging._included([plain]) == [("routes.json", b"{}")]
    for name in ("index.py", "handler", "sitecustomize.py", ".pth"):
        bad = tmp_path / name
        bad.write_text("x", encoding="utf-8")
        with pytest.raises(packaging.PackagingError, match="cannot sit at the zip's root"):
            packaging._included([bad])
    with pytest.raises(packaging.PackagingError, match="--include"):
        packaging._included([tmp_path / "missing.yaml"])


# Runs inside the unpacked zip like CHILD: the Cloud Eye and COC calls of issue 24 through the SDK the
# zip ships (lazy package __init__, cut clients, kept models), one signed with the wrong secret key.
SDK_CHILD = """
import json, sys
code_dir, result_path, ak, sk, project_id = sys.argv[1:6]
sys.path.insert(0, code_dir)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkces.v1 import (CesClient, CreateMetricDataRequest, CreateMetricDataRequestBody,
                                  MetricInfo, MetricsDimension)
from huaweicloudsdkces.v1.region.ces_region import CesRegion
from huaweicloudsdkcoc.v1 import CocClient, CreateReportCustomEventRequest, ReportCustomEventRequestBody
from huaweicloudsdkcoc.v1.region.coc_region import CocRegion

def client(kind, region, secret):
    builder = kind.new_builder().with_credentials(BasicCredentials(ak, secret, project_id))
    return builder.with_region(region.value_of("cn-north-4")).build()

dimensions = [MetricsDimension(name="pool_id", value="pool-1"),
              MetricsDimension(name="loadbalancer_id", value="lb-1")]
metric = MetricInfo(namespace="ELB.MasterWatch", metric_name="master_up", dimensions=dimensions)
item = CreateMetricDataRequestBody(metric=metric, ttl=172800, collect_time=1700000000000, value=0,
                                   unit="count")
ces = client(CesClient, CesRegion, sk).create_metric_data(CreateMetricDataRequest(body=[item]))
event = ReportCustomEventRequestBody(
    alarm_id="fp-1", alarm_name="master_failed", alarm_level="Major", time=1700000000000,
    name_space="ELB.MasterWatch", region_id="cn-north-4", resource_name="web", resource_id="pool-1",
    alarm_desc="master down", url="https://console.example.com", alarm_status="alarm",
    additional={"pool_id": "pool-1"})
coc = client(CocClient, CocRegion, sk).create_report_custom_event(
    CreateReportCustomEventRequest(integration_key="coc-key-01", body=event))
try:
    client(CocClient, CocRegion, "not-the-right-secret").create_report_custom_event(
        CreateReportCustomEventRequest(integration_key="coc-key-01", body=event))
    refused = None
except ClientRequestException as exc:
    refused = {"status": exc.status_code, "code": exc.error_code}
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
with open(result_path, "w", encoding="utf-8") as handle:
    json.dump({"ces": ces.status_code, "coc": coc.to_dict(), "refused": refused, "files": files,
               "models": sorted(name for name in sys.modules if ".model." in name)}, handle)
"""


class _SignedIntake(Receiver):
    """A loopback Cloud Eye or COC API: checks the SDK signature, keeps the body, answers like the service."""

    def __init__(self, path: str, reply: Reply, *, ak: str, sk: str) -> None:
        super().__init__()
        self.path, self.reply, self.ak, self.sk = path, reply, ak, sk

    def answer(self, request: Received) -> Reply:
        rejection = verify_request(
            method=request.method,
            target=request.target,
            headers=request.headers,
            body=request.body,
            credentials=[{"ak": self.ak, "sk": self.sk}],
            now=datetime.now(timezone.utc),
        )
        if rejection is not None:
            return Reply(401, {"error_code": "APIGW.0301", "error_msg": rejection})
        if request.path != self.path:
            return Reply(404, {"error_code": "APIGW.0101", "error_msg": "no such API"})
        self.accepted.append(request.json())
        return self.reply


def test_unpacked_zip_pushes_cloud_eye_metrics_and_reports_a_coc_event_through_the_sdk(
    unpacked, target, tmp_path
):
    ak, sk, project = (
        "CESCOCTESTKEY0001",
        "ces-coc-test-secret-0123456789",
        "0123456789abcdef0123456789abcdef",
    )
    ces = _SignedIntake(f"/V1.0/{project}/metric-data", Reply(201, b""), ak=ak, sk=sk)
    coc_answer = {"provider_code": "200", "error_code": "", "error_msg": ""}
    coc = _SignedIntake("/v1/event/huawei/custom/coc-key-01", Reply(200, coc_answer), ak=ak, sk=sk)
    result_path = tmp_path / "sdk-result.json"
    with ces, coc:
        env = {
            "HUAWEICLOUD_SDK_REGION_CES_CN_NORTH_4": ces.base,
            "HUAWEICLOUD_SDK_REGION_COC_CN_NORTH_4": coc.base,
            "TMPDIR": str(tmp_path),
        }
        done = subprocess.run(
            [target[1], "-I", "-S", "-c", SDK_CHILD, str(unpacked), str(result_path), ak, sk, project],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        metrics, events = list(ces.accepted), list(coc.accepted)
    child = json.loads(result_path.read_text(encoding="utf-8"))
    assert metrics == [
        [
            {
                "metric": {
                    "namespace": "ELB.MasterWatch",
                    "metric_name": "master_up",
                    "dimensions": [
                        {"name": "pool_id", "value": "pool-1"},
                        {"name": "loadbalancer_id", "value": "lb-1"},
                    ],
                },
                "ttl": 172800,
                "collect_time": 1700000000000,
                "value": 0,
                "unit": "count",
            }
        ]
    ]
    [event] = events  # the wrongly signed one was refused
    assert (event["alarmId"], event["alarmStatus"], event["alarmLevel"]) == ("fp-1", "alarm", "Major")
    assert (event["resourceId"], event["URL"], event["additional"]) == (
        "pool-1",
        "https://console.example.com",
        {"pool_id": "pool-1"},
    )
    assert child["ces"] == 201
    assert child["coc"] == coc_answer
    assert child["refused"] == {"status": 401, "code": "APIGW.0301"}
    assert all(f.startswith(str(unpacked)) for f in child["files"] if "huaweicloudsdk" in f)
    assert "huaweicloudsdkcoc.v1.model.create_report_custom_event_response" in child["models"]


def test_the_zip_ships_only_the_sdk_operations_the_function_calls(report, names):
    clients = [name for name in names if name.endswith("_client.py") and "sdkcore/" not in name]
    assert not [name for name in clients if name.endswith("_async_client.py")]
    assert {name.split("/")[0] + "/" + name.split("/")[1] for name in clients} == set(
        sdk_reach.SDK_OPERATIONS
    )
    tops = {"/".join(name.split("/")[:2]) for name in names if name.startswith("huaweicloudsdk")}
    assert not tops & {"huaweicloudsdkelb/v2", "huaweicloudsdkces/v2", "huaweicloudsdkces/v3"}
    elb = [name for name in names if name.startswith("huaweicloudsdkelb/v3/model/") and name.endswith(".py")]
    assert "huaweicloudsdkelb/v3/model/show_master_slave_pool_response.py" in elb
    assert "huaweicloudsdkelb/v3/model/master_slave_member.py" in elb  # named by the response's types
    assert "huaweicloudsdkelb/v3/model/create_certificate_request.py" not in elb
    assert len(elb) < 60  # of about 490
    with zipfile.ZipFile(report.path) as archive:
        client = archive.read("huaweicloudsdkelb/v3/elb_client.py").decode()
    assert "    def show_master_slave_pool(self, request):" in client
    assert "    def _show_master_slave_pool_http_info(cls, request):" in client
    assert "def create_certificate(" not in client


# --- cutting the SDK down to what the function reaches (elb_tools.sdk_reach), on the installed SDK --


@pytest.fixture
def ces_stage(tmp_path: Path) -> Path:
    """A stage holding a copy of the installed Cloud Eye v1 SDK (and the core it imports)."""
    import huaweicloudsdkces  # noqa: PLC0415 - a runtime dependency, installed with the project

    stage = tmp_path / "stage"
    source = Path(huaweicloudsdkces.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(source / "v1", stage / "huaweicloudsdkces" / "v1", ignore=ignore)
    shutil.copyfile(source / "__init__.py", stage / "huaweicloudsdkces" / "__init__.py")
    return stage


def _handler_importing(tmp_path: Path, *lines: str) -> Path:
    handler = tmp_path / "handler"
    handler.mkdir()
    (handler / "metrics.py").write_text("\n".join(("def push():", *(f"    {line}" for line in lines))) + "\n")
    return handler


def test_a_service_keeps_the_models_its_operations_reach_and_their_client_methods(ces_stage, tmp_path):
    handler = _handler_importing(tmp_path, "from huaweicloudsdkces.v1 import CesClient, MetricInfo")
    cut, (files, size) = sdk_reach.cut_service(
        ces_stage, "huaweicloudsdkces/v1", sdk_reach.handler_imports(handler)
    )
    directory = ces_stage / "huaweicloudsdkces" / "v1"
    assert sorted(path.stem for path in (directory / "model").glob("*.py")) == [
        "__init__",
        "create_metric_data_request",
        "create_metric_data_request_body",
        "create_metric_data_response",
        "metric_info",
        "metrics_dimension",
    ]
    assert (cut.models_kept, files > 100, size > 0) == (5, True, True)
    assert not (directory / "ces_async_client.py").exists()
    client = (directory / "ces_client.py").read_text(encoding="utf-8")
    assert "def create_metric_data(self, request):" in client
    assert "def list_alarms(" not in client
    compile(client, "ces_client.py", "exec")
    init = (directory / "__init__.py").read_text(encoding="utf-8")
    assert "import MetricsDimension" in init
    assert "ListAlarmsRequest" not in init
    assert "CesAsyncClient" not in init
    assert sdk_reach.resolve(ces_stage, "huaweicloudsdkces.v1:MetricInfo") is not None
    assert sdk_reach.resolve(ces_stage, "huaweicloudsdkces.v1:ListAlarmsRequest") is None


def test_a_request_of_an_operation_not_in_sdk_operations_fails_the_cut(ces_stage, tmp_path):
    handler = _handler_importing(
        tmp_path, "from huaweicloudsdkces.v1.model.list_alarms_request import ListAlarmsRequest"
    )
    with pytest.raises(sdk_reach.ReachError, match="ListAlarmsRequest, whose operation"):
        sdk_reach.cut_service(ces_stage, "huaweicloudsdkces/v1", sdk_reach.handler_imports(handler))


def test_the_handlers_sdk_imports_are_read_from_its_source():
    refs = sdk_reach.handler_imports(ROOT / "handler")
    # The string tuple handler.elb imports from, and a lazy import inside a function.
    assert "huaweicloudsdkelb.v3.elb_client" in refs
    assert "huaweicloudsdkelb.v3.model.show_master_slave_pool_request:ShowMasterSlavePoolRequest" in refs
    assert "huaweicloudsdksmn.v2.model.publish_message_request:PublishMessageRequest" in refs


def test_cutting_a_client_refuses_an_operation_the_sdk_lacks():
    source = (
        "class C:\n"
        "    def ping(self, request):\n        return self._ping_http_info(request)\n"
        "    @classmethod\n    def _ping_http_info(cls, request):\n"
        '        return {"response_type": "PingResponse"}\n'
        "    def pong(self, request):\n        return self._pong_http_info(request)\n"
        "    @classmethod\n    def _pong_http_info(cls, request):\n"
        '        return {"response_type": "PongResponse"}\n'
    )
    kept, dropped = sdk_reach.cut_client(source, ["Ping"], "c.py")
    assert dropped == 2
    assert "def ping(" in kept
    assert "pong" not in kept
    assert "@classmethod" in kept
    with pytest.raises(sdk_reach.ReachError, match="no operation Pang"):
        sdk_reach.cut_client(source, ["Pang"], "c.py")


def test_the_unpacked_zip_with_metrics_on_pushes_the_run_to_a_loopback_cloud_eye(unpacked, target, tmp_path):
    """handler.ces's whole call path (client, region, trims, the request) through the SDK the zip ships."""
    with ElbSimulator(demo_scenario()) as simulator:
        ces = CesReceiver(
            ak=simulator.credentials.ak,
            sk=simulator.credentials.sk,
            project_id=simulator.project_id,
            region=simulator.region,
        )
        with ces:
            extra = {"ELB_WATCH_METRICS": "on", "ELB_WATCH_STATE": "off", **ces.env()}
            child = _run_unpacked(unpacked, target[1], tmp_path, simulator, extra)
    assert child["result"]["ok"] is True, child["result"]["errors"]
    values = {(p["metric"], p["dimensions"].get("pool_id")): p["value"] for p in ces.points()}
    assert values == {
        ("watch_runs", None): 1,
        ("watch_errors", None): 0,
        ("notifications_sent", None): 0,  # no channel configured in the child
        ("master_up", DEMO_POOL): 0,
        ("failover_active", DEMO_POOL): 1,
        ("failed_check_items", DEMO_POOL): 2,
    }
    assert any(f.startswith(str(unpacked / "huaweicloudsdkces")) for f in child["files"])
