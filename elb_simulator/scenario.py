"""Scenario files: the state the simulator serves (pools, check jobs, credentials, faults)."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .faults import Fault
from .fleet import FLEET_KEYS

DEFAULT_REGION = "cn-north-4"
DEFAULT_AK = "SIMULATORAK0000000001"
DEFAULT_SK = "simulator-secret-key-do-not-use"

RESULT_GROUPS = ("config", "acl", "security_group")
FINAL_JOB_STATUSES = ("processed", "failed")
PROCESSING_FOREVER = -1

_SCENARIO_KEYS = (
    "region",
    "project_id",
    "credentials",
    "pools",
    "jobs",
    "faults",
    "description",
    "latency_ms",
    "fleet",
    "diagnoses",
    "paging",
    "huge_field_bytes",
    "loadbalancers",
)
# Hostile ListMasterSlavePools pagination a scenario may ask for ("paging"):
# "repeat": every call, whatever its marker, answers the first page with the same next_marker;
# "cycle": the marker handed out second (B) is answered with the first one (A) again: A -> B -> A.
PAGING_MODES = ("normal", "repeat", "cycle")
# "huge_field_bytes": N makes one text field of every 200 pool or check-job answer N bytes long
# (the first member's name, or the first check item's name), streamed: the simulator never builds it.
MAX_HUGE_FIELD_BYTES = 1 << 32
_CREDENTIAL_KEYS = ("ak", "sk", "security_token")
_JOB_KEYS = ("processing_reads", "member_check")
# A load balancer ListLoadBalancers serves: its tags as {key: value} (the wire sends [{key, value}]).
_LOADBALANCER_KEYS = ("id", "name", "description", "enterprise_project_id", "tags")
_REGION_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ScenarioError(ValueError):
    """A scenario (or a pool or job entry) that does not have the expected shape."""


SCENARIOS = Path(__file__).resolve().parent / "scenarios"
"""The named scenarios shipped inside the package (found from any directory)."""


def scenario_names() -> list[str]:
    """The names `--simulate` accepts besides a path: demo, outage, recovered, storm, ..."""
    return sorted(path.stem for path in SCENARIOS.glob("*.json"))


def find_scenario(name: str) -> Path:
    """A scenario file: an existing path as given, else a shipped scenario of that name.

    Raises ScenarioError listing the shipped names when it is neither.
    """
    path = Path(name)
    if path.is_file():
        return path
    shipped = SCENARIOS / f"{name}.json"
    if name in scenario_names() and shipped.is_file():
        return shipped
    raise ScenarioError(f"no scenario {name!r}: use a scenario file or one of {', '.join(scenario_names())}")


def load_scenario(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read (a JSON file) or copy (a dict) a scenario, validate it and fill in the defaults.

    The result has "region", "project_id", "credentials" (list of {"ak", "sk"[, "security_token"]}),
    "pools" keyed by pool id, "jobs" keyed by member_check.job_id (each {"processing_reads",
    "member_check"}), "faults" (list of complete fault dicts) and "loadbalancers" keyed by id (each
    {"id", "name", "description", "enterprise_project_id", "tags": {key: value}}). Loading a result
    again is a no-op.
    Raises ScenarioError (a ValueError) naming the first thing that is wrong.
    """
    if isinstance(source, Mapping):
        raw: Any = copy.deepcopy(dict(source))
        origin = "scenario"
    else:
        path = Path(source)
        origin = f"scenario {path}"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{origin}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{origin}: must be a JSON object, not {type(raw).__name__}")
    try:
        return _normalise(raw)
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}: {exc}") from exc


def validate_pool(pool: Any, where: str = "pool") -> dict[str, Any]:
    """Check a MasterSlavePool object (as in the ShowMasterSlavePool "pool" field); return a copy."""
    if not isinstance(pool, dict):
        raise ScenarioError(f"{where} must be an object, not {type(pool).__name__}")
    _require_text(pool.get("id"), f"{where}.id")
    members = pool.get("members", [])
    if not isinstance(members, list):
        raise ScenarioError(f"{where}.members must be a list")
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            raise ScenarioError(f"{where}.members[{index}] must be an object")
        _require_text(member.get("id"), f"{where}.members[{index}].id")
    for key in ("listeners", "loadbalancers"):
        refs = pool.get(key, [])
        if not isinstance(refs, list) or not all(isinstance(ref, dict) for ref in refs):
            raise ScenarioError(f"{where}.{key} must be a list of objects")
    return copy.deepcopy(pool)


def validate_loadbalancer(lb: Any, where: str = "loadbalancer") -> dict[str, Any]:
    """Check a load balancer entry {"id", "name"?, "description"?, "enterprise_project_id"?, "tags"?}.

    `tags` is an object of tag keys to values (both strings); the copy returned has every key filled.
    """
    if not isinstance(lb, dict):
        raise ScenarioError(f"{where} must be an object, not {type(lb).__name__}")
    _reject_unknown_keys(lb, _LOADBALANCER_KEYS, where)
    _require_text(lb.get("id"), f"{where}.id")
    for key in ("name", "description", "enterprise_project_id"):
        if not isinstance(lb.get(key, ""), str):
            raise ScenarioError(f"{where}.{key} must be a string")
    tags = lb.get("tags", {})
    if not isinstance(tags, dict) or not all(
        isinstance(key, str) and key and isinstance(value, str) for key, value in tags.items()
    ):
        raise ScenarioError(
            f'{where}.tags must be an object of tag keys to string values, e.g. {{"team": "search"}}'
        )
    return {
        "id": lb["id"],
        "name": lb.get("name", ""),
        "description": lb.get("description", ""),
        "enterprise_project_id": lb.get("enterprise_project_id", "0"),
        "tags": dict(tags),
    }


def validate_job(job: Any, where: str = "job") -> dict[str, Any]:
    """Check a job entry {"processing_reads": N, "member_check": {...}}; return it with defaults filled."""
    if not isinstance(job, dict):
        raise ScenarioError(f"{where} must be an object, not {type(job).__name__}")
    _reject_unknown_keys(job, _JOB_KEYS, where)
    reads = job.get("processing_reads", 0)
    if isinstance(reads, bool) or not isinstance(reads, int) or reads < PROCESSING_FOREVER:
        raise ScenarioError(f"{where}.processing_reads must be an integer >= -1 (-1: forever), not {reads!r}")
    check = job.get("member_check")
    if not isinstance(check, dict):
        raise ScenarioError(f"{where}.member_check must be an object (a MemberCheckJobInfo)")
    _require_text(check.get("job_id"), f"{where}.member_check.job_id")
    if check.get("status") not in FINAL_JOB_STATUSES:
        raise ScenarioError(
            f"{where}.member_check.status must be one of {list(FINAL_JOB_STATUSES)}, "
            f"not {check.get('status')!r} (use processing_reads for a job still processing)"
        )
    result = check.get("result", {})
    if not isinstance(result, dict):
        raise ScenarioError(f"{where}.member_check.result must be an object")
    for group_name in RESULT_GROUPS:
        group = result.get(group_name)
        if group is None:
            continue
        if not isinstance(group, dict):
            raise ScenarioError(f"{where}.member_check.result.{group_name} must be an object or null")
        items = group.get("check_items", [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ScenarioError(
                f"{where}.member_check.result.{group_name}.check_items must be a list of objects"
            )
    for counter in ("check_item_total_num", "check_item_finished_num"):
        value = check.get(counter)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ScenarioError(f"{where}.member_check.{counter} must be a non-negative integer or null")
    return {"processing_reads": reads, "member_check": copy.deepcopy(check)}


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a parsed scenario object and build the normalised scenario."""
    _reject_unknown_keys(raw, _SCENARIO_KEYS, "scenario")
    region = raw.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not _REGION_ID.match(region):
        raise ScenarioError(f"region must be a region id such as 'cn-north-4', not {region!r}")
    project_id = _require_text(raw.get("project_id"), "project_id")
    if "/" in project_id or "?" in project_id:
        raise ScenarioError("project_id must not contain '/' or '?'")
    scenario: dict[str, Any] = {
        "region": region,
        "project_id": project_id,
        "credentials": _credentials(raw.get("credentials")),
        "pools": _keyed(raw.get("pools", []), "pools", validate_pool, _pool_id),
        "jobs": _keyed(raw.get("jobs", []), "jobs", validate_job, _job_id),
        "faults": _faults(raw.get("faults", [])),
        "loadbalancers": _keyed(
            raw.get("loadbalancers", []), "loadbalancers", validate_loadbalancer, _pool_id
        ),
    }
    if "description" in raw:
        scenario["description"] = raw["description"]
    latency = raw.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise ScenarioError(f"latency_ms must be a non-negative number, not {latency!r}")
    scenario["latency_ms"] = latency
    scenario["fleet"] = _fleet(raw.get("fleet"))
    scenario["diagnoses"] = _diagnoses(raw.get("diagnoses", {}))
    paging = raw.get("paging", "normal")
    if paging not in PAGING_MODES:
        raise ScenarioError(f"paging must be one of {', '.join(PAGING_MODES)}, not {paging!r}")
    scenario["paging"] = paging
    huge = raw.get("huge_field_bytes", 0)
    if isinstance(huge, bool) or not isinstance(huge, int) or not 0 <= huge <= MAX_HUGE_FIELD_BYTES:
        raise ScenarioError(f"huge_field_bytes must be an integer 0..{MAX_HUGE_FIELD_BYTES}, not {huge!r}")
    scenario["huge_field_bytes"] = huge
    return scenario


def _fleet(raw: Any) -> dict[str, Any] | None:
    """Validate a fleet spec: {"pools": N, "failed_ratio": 0..1, "seed": int, "loadbalancers": int}."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ScenarioError('fleet must be an object such as {"pools": 10000, "failed_ratio": 0.01}')
    _reject_unknown_keys(raw, FLEET_KEYS, "fleet")
    count = raw.get("pools")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1_000_000:
        raise ScenarioError("fleet.pools must be an integer 0..1000000")
    ratio = raw.get("failed_ratio", 0.0)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ScenarioError("fleet.failed_ratio must be a number 0..1")
    return dict(raw)


def _diagnoses(raw: Any) -> dict[str, dict[str, Any]]:
    """Validate the check jobs CreateMemberHealthCheckJob starts, keyed by member id ("*": any member).

    Each is a job entry like those in "jobs" ({"processing_reads", "member_check"}); its job_id,
    member_id and listener_id are filled in when the job is created.
    """
    if not isinstance(raw, dict):
        raise ScenarioError("diagnoses must be an object keyed by member id (or '*')")
    templates: dict[str, dict[str, Any]] = {}
    for member_id, entry in raw.items():
        where = f"diagnoses[{member_id!r}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("member_check"), dict):
            raise ScenarioError(f"{where} must be a job entry with a member_check object")
        check = dict(entry["member_check"])
        check.setdefault("job_id", "template")
        templates[member_id] = validate_job({**entry, "member_check": check}, where)
    return templates


def _credentials(raw: Any) -> list[dict[str, str]]:
    """Validate the credentials list; default to the one simulator key pair."""
    if raw is None:
        return [{"ak": DEFAULT_AK, "sk": DEFAULT_SK}]
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("credentials must be a non-empty list of {'ak', 'sk'} objects")
    result: list[dict[str, str]] = []
    for index, entry in enumerate(raw):
        where = f"credentials[{index}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where} must be an object with 'ak' and 'sk'")
        _reject_unknown_keys(entry, _CREDENTIAL_KEYS, where)
        _require_text(entry.get("ak"), f"{where}.ak")
        _require_text(entry.get("sk"), f"{where}.sk")
        pair = {"ak": entry["ak"], "sk": entry["sk"]}
        if entry.get("security_token") is not None:
            _require_text(entry["security_token"], f"{where}.security_token")
            pair["security_token"] = entry["security_token"]
        result.append(pair)
    access_keys = [pair["ak"] for pair in result]
    if len(set(access_keys)) != len(access_keys):
        raise ScenarioError("credentials: each ak must appear once")
    return result


def _pool_id(pool: dict[str, Any]) -> str:
    """The key of a validated pool (or load balancer)."""
    return str(pool["id"])


def _job_id(job: dict[str, Any]) -> str:
    """The key of a validated job entry."""
    return str(job["member_check"]["job_id"])


def _keyed(
    raw: Any,
    name: str,
    validate: Callable[[Any, str], dict[str, Any]],
    key_of: Callable[[dict[str, Any]], str],
) -> dict[str, dict[str, Any]]:
    """Validate a list (or an already keyed object) of entries and key them by id."""
    if isinstance(raw, dict):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = [(None, entry) for entry in raw]
    else:
        raise ScenarioError(f"{name} must be a list, not {type(raw).__name__}")
    keyed: dict[str, dict[str, Any]] = {}
    for index, (given_key, entry) in enumerate(entries):
        where = f"{name}[{given_key!r}]" if given_key is not None else f"{name}[{index}]"
        checked = validate(entry, where)
        key = key_of(checked)
        if given_key is not None and given_key != key:
            raise ScenarioError(f"{where} is keyed {given_key!r} but its id is {key!r}")
        if key in keyed:
            raise ScenarioError(f"{where}: duplicate id {key!r}")
        keyed[key] = checked
    return keyed


def _faults(raw: Any) -> list[dict[str, Any]]:
    """Validate the faults list into complete fault dicts."""
    if not isinstance(raw, list):
        raise ScenarioError(f"faults must be a list, not {type(raw).__name__}")
    result: list[dict[str, Any]] = []
    for index, entry in enumerate(raw):
        try:
            fault = entry if isinstance(entry, Fault) else Fault.from_dict(entry)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"faults[{index}]: {exc}") from exc
        result.append(fault.as_dict())
    return result


def _require_text(value: Any, where: str) -> str:
    """Return value if it is a non-empty string, else raise."""
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _reject_unknown_keys(entry: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Raise on keys that are not part of the format (usually a typo)."""
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {unknown}; expected some of {list(allowed)}")
