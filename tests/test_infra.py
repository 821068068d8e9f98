"""infra/: Terraform that is formatted and agrees with the code (handler string, env vars, IAM actions).

Nothing here needs a cloud account or the provider: `terraform fmt` and python-hcl2 work offline, and
the timer's user_event expression is evaluated by Terraform itself in a provider-less scratch module.
The checks read the code as it is when they run, so they stay true as calls and settings land.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from elb_tools import packaging
from handler.events import parse_event
from tests.support import ROOT

INFRA = ROOT / "infra"
HANDLER = ROOT / "handler"

# The SDK call in the code -> the IAM action it needs (ELB and SMN API references, "actions" tables).
ACTION_BY_SDK_CALL = {
    "show_master_slave_pool": "elb:pools:get",
    "list_master_slave_pools": "elb:pools:list",
    "show_member_health_check_job": "elb:members:get",
    "create_member_health_check_job": "elb:members:create",
    "list_load_balancers": "elb:loadbalancers:list",
    "publish_message": "smn:topic:publish",
    "create_metric_data": "ces:metricData:create",
}
# Settings the issues plan that the code may not read yet; Terraform wires them already. A name in
# infra/ outside the code and this list is a typo.
PLANNED_SETTINGS = {
    "ELB_WATCH_STATE",
    "ELB_WATCH_SMN_TOPIC_URN",
    "ELB_WATCH_FEISHU_WEBHOOK",
    "ELB_WATCH_FEISHU_SECRET",
    "ELB_WATCH_DINGTALK_WEBHOOK",
    "ELB_WATCH_DINGTALK_SECRET",
    "ELB_WATCH_WECOM_WEBHOOK",
    "ELB_WATCH_SLACK_WEBHOOK",
    "ELB_WATCH_WEBHOOK_URL",
    "ELB_WATCH_WEBHOOK_SECRET",
    "ELB_WATCH_LOCALE",
    "ELB_WATCH_REPEAT_INTERVAL",
    "ELB_WATCH_FIRE_AFTER",
    "ELB_WATCH_RESOLVE_AFTER",
    "ELB_WATCH_DIAGNOSE",
    "ELB_WATCH_DIAGNOSE_TTL",
    "ELB_WATCH_CONCURRENCY",
    "ELB_WATCH_API_RATE",
}
# A webhook URL holds its token; a state URL may hold a password.
SECRET_SETTING = re.compile(
    r"ELB_WATCH_(\w+_WEBHOOK|\w+_SECRET|WEBHOOK_URL|STATE|COC_INTEGRATION_KEY|ACTIONS_KEY)"
)
# SDK calls that need no IAM action: COC's custom-alarm intake is authorized by its integration key
# (its API reference: "no identity policy-based permission required").
CALLS_WITHOUT_ACTION = {"create_report_custom_event"}
ENV_NAME = re.compile(r"ELB_WATCH_[A-Z][A-Z0-9_]*[A-Z0-9]")


# ---- reading the code --------------------------------------------------------------------------------


def _function_sources() -> list[Path]:
    """The function's own modules: handler/ without the simulator (a fake ELB, not shipped)."""
    return [
        path for path in sorted(HANDLER.rglob("*.py")) if "simulator" not in path.relative_to(HANDLER).parts
    ]


def _literals_and_names() -> set[str]:
    """Every string constant, attribute name and name in the function's code (not comments)."""
    found: set[str] = set()
    for path in _function_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
            elif isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Name):
                found.add(node.id)
    return found


def code_env_vars() -> set[str]:
    """The ELB_WATCH_* variables the code reads (string literals that are exactly such a name)."""
    return {value for value in _literals_and_names() if ENV_NAME.fullmatch(value)}


def code_iam_actions() -> set[str]:
    """The IAM actions the code needs, from the SDK calls it makes."""
    used = _literals_and_names()
    return {action for call, action in ACTION_BY_SDK_CALL.items() if call in used}


# ---- reading the Terraform ---------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """An HCL string as text: python-hcl2 (>= 7) keeps the quotes of literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    return value


def _expression(value: Any) -> str:
    """The inside of a "${...}" expression, whitespace-normalised."""
    assert isinstance(value, str), value
    assert value.startswith("${"), value
    assert value.endswith("}"), value
    return " ".join(value[2:-1].split())


@pytest.fixture(scope="module")
def tf() -> dict[str, Any]:
    """All of infra/*.tf merged: resources by (type, name), variables and locals by name."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(INFRA.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for key, blocks in hcl2.load(handle).items():
                if not key.startswith("__"):
                    merged.setdefault(key, []).extend(blocks)
    resources = {
        (_text(kind), _text(name)): body
        for block in merged.get("resource", [])
        for kind, named in block.items()
        for name, body in named.items()
    }
    variables = {_text(name): body for block in merged.get("variable", []) for name, body in block.items()}
    local_values = {name: value for block in merged.get("locals", []) for name, value in block.items()}
    return {"resource": resources, "variable": variables, "locals": local_values, "raw": merged}


def _resolve(tf: dict[str, Any], value: Any) -> Any:
    """A literal, or the literal a `local.x` reference stands for."""
    if isinstance(value, str) and value.startswith("${local."):
        return _resolve(tf, tf["locals"][_expression(value).removeprefix("local.")])
    if isinstance(value, list):
        return [_resolve(tf, item) for item in value]
    return _text(value)


def _function(tf: dict[str, Any]) -> dict[str, Any]:
    functions = [body for (kind, _), body in tf["resource"].items() if kind == "huaweicloud_fgs_function"]
    assert len(functions) == 1, "infra/ must define exactly one huaweicloud_fgs_function"
    return functions[0]


def _terraform() -> str:
    """The terraform binary, or a loud skip where it is not installed."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed: the Terraform checks that need it were NOT run")
    return binary


# ---- the tests ---------------------------------------------------------------------------------------


def test_terraform_files_are_formatted():
    done = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff", "infra"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"terraform fmt would change infra/:\n{done.stdout}{done.stderr}"


def test_provider_is_the_registry_huaweicloud_provider(tf):
    providers = tf["raw"]["terraform"][0]["required_providers"][0]
    assert _text(providers["huaweicloud"]["source"]) == "huaweicloud/huaweicloud"


def test_function_handler_string_names_the_zip_entry(tf):
    function = _function(tf)
    module, _, attribute = _resolve(tf, function["handler"]).partition(".")
    assert f"{module}.{attribute}" == packaging.HANDLER_STRING
    # index.py at the zip's root must bind `handler` to the package's entry point.
    tree = ast.parse(packaging.INDEX_PY)
    assert module == "index"
    assert [(node.module, [alias.name for alias in node.names]) for node in tree.body] == [
        ("handler", [attribute])
    ]
    assert _text(function["code_type"]) == "zip"
    assert _text(function["runtime"]) == f"Python{packaging.DEFAULT_PYTHON}"
    assert "filebase64(local.package_path)" in _expression(function["func_code"])


def test_every_env_var_the_code_reads_is_wired_into_the_function(tf):
    read = code_env_vars()
    assert "ELB_WATCH_REGION" in read, "the scan of handler/ found nothing: the test itself is broken"
    plain, secret = tf["locals"]["settings"], tf["locals"]["secret_settings"]
    wired = set(plain) | set(secret)
    assert sorted(read - wired) == [], "read by the code but not set by infra/"
    assert sorted(wired - read - PLANNED_SETTINGS) == [], "set by infra/ but read nowhere (a typo?)"
    function = _function(tf)
    assert _expression(function["user_data"]) == "jsonencode(local.user_data)"
    assert _expression(function["encrypted_user_data"]) == "jsonencode(local.encrypted_user_data)"
    assert "in local.settings" in _expression(tf["locals"]["user_data"])
    assert "in local.secret_settings" in _expression(tf["locals"]["encrypted_user_data"])


def test_secrets_travel_only_as_sensitive_encrypted_user_data(tf):
    plain, secret = tf["locals"]["settings"], tf["locals"]["secret_settings"]
    assert [name for name in plain if SECRET_SETTING.fullmatch(name)] == []
    for name, value in secret.items():
        assert SECRET_SETTING.fullmatch(name), f"{name} is not a secret: put it in local.settings"
        variable = _expression(value).removeprefix("var.")
        assert tf["variable"][variable].get("sensitive") in (True, "true"), (
            f"var.{variable} must be sensitive"
        )


def test_policy_allows_exactly_the_actions_the_code_calls(tf):
    local_values = tf["locals"]
    granted = {
        action
        for name in (
            "iam_read_actions",
            "iam_diagnosis_actions",
            "iam_publish_actions",
            "iam_metrics_actions",
        )
        for action in _resolve(tf, local_values[name])
    }
    needed = code_iam_actions()
    assert "elb:pools:get" in needed, "the scan of handler/ found no SDK call: the test itself is broken"
    assert sorted(needed - granted) == [], "the code calls these, the policy does not allow them"
    # Nothing beyond the calls the function makes (or is planned to make: the same table).
    assert granted == set(ACTION_BY_SDK_CALL.values())
    assert not any("*" in action for action in granted)
    assert _expression(local_values["iam_policy"]["Statement"]) == (
        "concat(local.policy_statements, local.metrics_statements)"
    )
    statements = local_values["policy_statements"]
    assert [_expression(statement["Action"]) for statement in statements] == [
        "local.elb_actions",
        "local.iam_publish_actions",
    ]
    assert "Resource" not in statements[0]
    # SMN publish is scoped to the function's own topic.
    assert _resolve(tf, statements[1]["Resource"]) == [
        "smn:${var.region}:*:topic:${huaweicloud_smn_topic.alerts.name}"
    ]
    role = tf["resource"][("huaweicloud_identity_role", "watch")]
    assert _expression(role["policy"]) == "jsonencode(local.iam_policy)"
    assert _text(role["type"]) == "XA"


def test_members_create_is_granted_only_with_auto_diagnosis(tf):
    local_values = tf["locals"]
    assert _resolve(tf, local_values["iam_diagnosis_actions"]) == ["elb:members:create"]
    assert "elb:members:create" not in _resolve(tf, local_values["iam_read_actions"])
    assert _expression(local_values["elb_actions"]) == (
        "var.auto_diagnosis ? concat(local.iam_read_actions, local.iam_diagnosis_actions)"
        " : local.iam_read_actions"
    )
    # The same switch turns the code's diagnosis on or off, and both default to on.
    assert _expression(local_values["settings"]["ELB_WATCH_DIAGNOSE"]) == 'var.auto_diagnosis ? "on" : "off"'
    assert tf["variable"]["auto_diagnosis"]["default"] in (True, "true")


def test_agency_is_delegated_to_functiongraph_with_the_custom_policy_only(tf):
    agency = tf["resource"][("huaweicloud_identity_agency", "watch")]
    assert _text(agency["delegated_service_name"]) == "op_svc_cff"
    # One project_role per project the function reads: its own region's and each scope's.
    ((roles,),) = [block.values() for block in agency["dynamic"]]
    assert _expression(roles["for_each"]) == "local.agency_projects"
    (content,) = roles["content"]
    assert [_expression(role) for role in content["roles"]] == ["huaweicloud_identity_role.watch.name"]
    assert _expression(_function(tf)["app_agency"]) == "huaweicloud_identity_agency.watch.name"


def test_timer_fires_every_minute_with_the_watch_request(tf):
    trigger = tf["resource"][("huaweicloud_fgs_function_trigger", "timer")]
    assert _text(trigger["type"]) == "TIMER"
    event_data = _expression(trigger["event_data"])
    assert "user_event = local.watch_request" in event_data
    assert "schedule_type = var.schedule_type" in event_data
    assert _text(tf["variable"]["schedule_type"]["default"]) == "Rate"
    assert _text(tf["variable"]["schedule"]["default"]) == "1m"
    assert tf["variable"]["memory_size"]["default"] in (128, "128")


@pytest.mark.parametrize(
    ("assignments", "targets", "sweeps"),
    [
        (['pools=[{pool_id="pool-a"},{pool_id="pool-b",listener_id="lsn-1"}]'], 2, 0),
        (["sweep={}"], 0, 1),
        (['sweep={name=["web"],loadbalancer_id=["lb-1"]}'], 0, 1),
        (
            [
                (
                    'scopes=[{region="cn-north-4",project_id="0123abcd"},'
                    '{region="ap-southeast-1",project_id="4567ef01",sweep={name=["pay-api"]}}]'
                )
            ],
            0,
            2,
        ),
    ],
    ids=["pools", "sweep-all", "sweep-filtered", "scopes"],
)
def test_timer_user_event_is_an_event_the_handler_accepts(tf, tmp_path, assignments, targets, sweeps):
    binary = _terraform()
    # variables.tf declares no provider, so Terraform can evaluate the real expression offline.
    shutil.copy(INFRA / "variables.tf", tmp_path / "variables.tf")
    expression = _expression(tf["locals"]["watch_request"])
    (tmp_path / "main.tf").write_text(
        f'output "watch_request" {{\n  value = {expression}\n}}\n', encoding="utf-8"
    )
    variables = ["-var", "region=cn-north-4"] + [part for a in assignments for part in ("-var", a)]
    for command in (
        ["init", "-input=false", "-no-color"],
        ["apply", "-auto-approve", "-input=false", "-no-color", *variables],
    ):
        done = subprocess.run(
            [binary, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    user_event = subprocess.run(
        [binary, "output", "-raw", "watch_request"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    event = {"version": "v1.0", "trigger_type": "TIMER", "trigger_name": "t", "user_event": user_event}
    parsed = parse_event(event)
    assert parsed.errors == ()
    assert parsed.source == "timer"
    assert (len(parsed.targets), len(parsed.sweeps)) == (targets, sweeps)


# ---- the event path (infra/events.tf) -----------------------------------------------------------------


def test_alarm_rule_watches_unhealthy_servers_of_each_listed_load_balancer(tf):
    rule = tf["resource"][("huaweicloud_ces_alarmrule", "unhealthy_servers")]
    assert _expression(rule["for_each"]) == "toset(var.alarm_loadbalancer_ids)"
    assert [_text(metric["namespace"]) for metric in rule["metric"]] == ["SYS.ELB"]
    [resources] = rule["resources"]
    [dimension] = resources["dimensions"]
    assert _text(dimension["name"]) == "lbaas_instance_id"
    assert _expression(dimension["value"]) == "each.value"
    [condition] = rule["condition"]
    assert _text(condition["metric_name"]) == "m9_abnormal_servers"
    assert (_text(condition["comparison_operator"]), condition["value"]) == (">=", 1)
    assert _text(rule["alarm_type"]) == "MULTI_INSTANCE"
    # Alarm and recovery both reach the function, through the same topic (the provider requires it).
    for actions in ("alarm_actions", "ok_actions"):
        [action] = rule[actions]
        assert _text(action["type"]) == "notification"
        assert [_expression(urn) for urn in action["notification_list"]] == [
            "huaweicloud_smn_topic.alarms[0].topic_urn"
        ]


def test_the_alarm_topic_triggers_the_function(tf):
    trigger = tf["resource"][("huaweicloud_fgs_function_trigger", "alarms")]
    assert _text(trigger["type"]) == "SMN"
    assert "status" not in trigger, "SMN triggers take no status"
    assert _expression(trigger["function_urn"]) == "huaweicloud_fgs_function.watch.urn"
    assert (
        _expression(trigger["event_data"])
        == "jsonencode({topic_urn = huaweicloud_smn_topic.alarms[0].topic_urn})"
    )
    for name in (("huaweicloud_smn_topic", "alarms"), ("huaweicloud_fgs_function_trigger", "alarms")):
        assert _expression(tf["resource"][name]["count"]) == "local.alarm_path ? 1 : 0"
    assert _expression(tf["locals"]["alarm_path"]) == "length(var.alarm_loadbalancer_ids) > 0"
    assert tf["variable"]["alarm_loadbalancer_ids"]["default"] == []


def test_alarm_rule_names_fit_the_provider_rule(tf, tmp_path):
    """Evaluated by Terraform: 1-128 letters, digits, '_' or '-', even for the longest function name."""
    binary = _terraform()
    rule = tf["resource"][("huaweicloud_ces_alarmrule", "unhealthy_servers")]
    template = _text(rule["alarm_name"]).replace("each.value", "id")
    (tmp_path / "main.tf").write_text(
        'variable "function_name" {}\nvariable "ids" { type = list(string) }\n'
        f'output "names" {{\n  value = [for id in var.ids : "{template}"]\n}}\n',
        encoding="utf-8",
    )
    ids = '["098b2f68-af1c-41a9-8efd-69958722af62", "lb_1"]'
    for command in (
        ["init", "-input=false", "-no-color"],
        [
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            "function_name=" + "f" * 52,
            "-var",
            f"ids={ids}",
        ],
    ):
        done = subprocess.run(
            [binary, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    names = json.loads(
        subprocess.run(
            [binary, "output", "-json", "names"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert names == ["f" * 52 + "-unhealthy-098b2f68af1c", "f" * 52 + "-unhealthy-lb_1"]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name) for name in names)


# ---- issue 12: provider floor, user_event size, function-name rule, the error alarm ------------------


def test_provider_floor_has_the_timer_trigger_resource(tf):
    # huaweicloud_fgs_function_trigger first appears in v1.62.1 (the provider's CHANGELOG.md).
    providers = tf["raw"]["terraform"][0]["required_providers"][0]
    constraint = _text(providers["huaweicloud"]["version"])
    assert constraint.startswith(">= 1.62.1,"), constraint


def _apply_scratch(tmp_path: Path, main_tf: str, assignments: list[str]) -> subprocess.CompletedProcess[str]:
    """`terraform apply` of a provider-less module: variables.tf plus `main_tf`."""
    binary = _terraform()
    shutil.copy(INFRA / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "main.tf").write_text(main_tf, encoding="utf-8")
    variables = ["-var", "region=cn-north-4"] + [part for a in assignments for part in ("-var", a)]
    done = subprocess.run(
        [binary, "init", "-input=false", "-no-color"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return subprocess.run(
        [binary, "apply", "-auto-approve", "-input=false", "-no-color", *variables],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("pools", "fits"), [(39, True), (41, False)])
def test_timer_user_event_must_stay_under_2_kb(tf, tmp_path, pools, fits):
    trigger = tf["resource"][("huaweicloud_fgs_function_trigger", "timer")]
    (lifecycle,) = trigger["lifecycle"]
    (precondition,) = lifecycle["precondition"]
    assert _expression(precondition["condition"]) == "length(local.watch_request) < local.user_event_limit"
    assert tf["locals"]["user_event_limit"] in (2048, "2048")
    # The same condition and message, evaluated by Terraform on a real watch request.
    module = (
        "locals {\n"
        f"  watch_request    = {_expression(tf['locals']['watch_request'])}\n"
        "  user_event_limit = 2048\n"
        "}\n"
        'resource "terraform_data" "timer" {\n'
        "  lifecycle {\n"
        "    precondition {\n"
        f"      condition     = {_expression(precondition['condition'])}\n"
        f'      error_message = "{_text(precondition["error_message"])}"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    ids = ",".join(f'{{pool_id="36ce7086-a496-4666-9064-{index:012d}"}}' for index in range(pools))
    done = _apply_scratch(tmp_path, module, [f"pools=[{ids}]"])
    if fits:
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert done.returncode != 0
        message = " ".join(done.stderr.split())
        assert "FunctionGraph takes under 2048 (about 40 pools)" in message


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("elb-master-watch", True),
        ("w1", True),
        ("a" * 52, True),
        ("a" * 53, False),
        ("w", False),
        ("1watch", False),
        ("watch-", False),
        ("watch_", False),
        ("watch.v2", False),
    ],
)
def test_function_name_follows_the_providers_rule(tmp_path, name, ok):
    done = _apply_scratch(tmp_path, "", [f"function_name={name}"])
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    if not ok:
        assert "ending with a letter or digit" in " ".join(done.stderr.split())


def test_function_errors_raise_a_cloud_eye_alarm_on_the_smn_topic(tf):
    alarm = tf["resource"][("huaweicloud_ces_alarmrule", "function_errors")]
    assert _expression(alarm["count"]) == "var.error_alarm ? 1 : 0"
    assert _text(tf["variable"]["error_alarm"]["default"]) in (True, "true")
    (metric,) = alarm["metric"]
    assert _text(metric["namespace"]) == "SYS.FunctionGraph"
    (resources,) = alarm["resources"]
    (dimension,) = resources["dimensions"]
    assert _text(dimension["name"]) == "package-functionname"
    value = str(dimension["value"])
    assert "huaweicloud_fgs_function.watch.app" in value
    assert "huaweicloud_fgs_function.watch.name" in value
    (condition,) = alarm["condition"]
    assert _text(condition["metric_name"]) == "failcount"
    assert _text(condition["comparison_operator"]) == ">="
    assert condition["value"] in (1, "1")
    for actions in ("alarm_actions", "ok_actions"):
        (action,) = alarm[actions]
        assert _text(action["type"]) == "notification"
        assert [_expression(u) for u in action["notification_list"]] == [
            "huaweicloud_smn_topic.alerts.topic_urn"
        ]


def test_tfvars_example_is_valid_and_sets_a_store(tmp_path):
    example = (INFRA / "terraform.tfvars.example").read_text(encoding="utf-8")
    with (INFRA / "terraform.tfvars.example").open(encoding="utf-8") as handle:
        values = hcl2.load(handle)
    assert _text(values["state_url"]) == "instance"
    assert open_store_kind(_text(values["state_url"])) == "SqliteStore"
    # Terraform itself reads the example against variables.tf (types and validations).
    (tmp_path / "terraform.tfvars").write_text(example, encoding="utf-8")
    done = _apply_scratch(tmp_path, "", [])
    assert done.returncode == 0, done.stdout + done.stderr


def open_store_kind(url: str) -> str:
    """The class of store the function opens for a state URL."""
    from handler.state import open_store  # noqa: PLC0415

    return type(open_store(url)).__name__


# ---- issue 20: a disabled timer on the first apply; enterprise-project sweeps -------------------------


def _timer(tf: dict[str, Any]) -> dict[str, Any]:
    trigger: dict[str, Any] = tf["resource"][("huaweicloud_fgs_function_trigger", "timer")]
    return trigger


def _run(binary: str, cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *command, "-no-color"], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_timer_enabled_false_creates_no_timer_on_any_provider_version(tf):
    # From provider v1.75.2 the create call sends no trigger_status and FunctionGraph creates a TIMER
    # ACTIVE: `status = "DISABLED"` would fire every minute after the first apply. No trigger instead.
    timer = _timer(tf)
    assert _expression(timer["count"]) == "var.timer_enabled ? 1 : 0"
    assert _text(timer["status"]) == "ACTIVE"  # a literal: never a DISABLED that create would drop
    assert "DISABLED" not in json.dumps(timer)
    # Old state (no count) moves onto instance 0 instead of being destroyed and recreated.
    moved = [(_expression(block["from"]), _expression(block["to"])) for block in tf["raw"].get("moved", [])]
    assert moved == [("huaweicloud_fgs_function_trigger.timer", "huaweicloud_fgs_function_trigger.timer[0]")]


@pytest.mark.parametrize(("enabled", "instances"), [("false", 0), ("true", 1)])
def test_terraform_plans_the_timer_only_when_enabled(tf, tmp_path, enabled, instances):
    # The same count expression, evaluated by Terraform on a provider-less stand-in.
    module = f'resource "terraform_data" "timer" {{\n  count = {_expression(_timer(tf)["count"])}\n}}\n'
    done = _apply_scratch(tmp_path, module, [f"timer_enabled={enabled}"])
    assert done.returncode == 0, done.stdout + done.stderr
    listed = _run(_terraform(), tmp_path, "state", "list").stdout.split()
    assert listed == [f"terraform_data.timer[{index}]" for index in range(instances)]


def test_existing_timer_state_moves_to_instance_zero(tf, tmp_path):
    binary = _terraform()
    ((old, new),) = [
        (
            _expression(block[end]).replace("huaweicloud_fgs_function_trigger", "terraform_data")
            for end in ("from", "to")
        )
        for block in tf["raw"]["moved"]
    ]
    (tmp_path / "main.tf").write_text('resource "terraform_data" "timer" {}\n', encoding="utf-8")
    for command in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        assert _run(binary, tmp_path, *command).returncode == 0
    (tmp_path / "main.tf").write_text(
        'resource "terraform_data" "timer" {\n  count = 1\n}\n'
        f"moved {{\n  from = {old}\n  to   = {new}\n}}\n",
        encoding="utf-8",
    )
    plan = _run(binary, tmp_path, "plan", "-input=false")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "terraform_data.timer has moved to terraform_data.timer[0]" in plan.stdout
    assert "0 to add, 0 to change, 0 to destroy" in plan.stdout


def _enterprise_project_fix() -> dict[str, Any]:
    """The HCL block infra/README.md gives for sweeps filtered by enterprise project."""
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Sweeps filtered by enterprise project", 1)[1]
    block = section.split("```hcl\n", 1)[1].split("```", 1)[0]
    fix: dict[str, Any] = hcl2.loads(block)
    return fix


def test_enterprise_project_sweep_limitation_is_documented_with_the_fix(tf):
    # The agency here holds its policy per region project only; granting it per enterprise project
    # needs `enterprise_project_roles`, which the provider has only from v1.80.1 (above this floor).
    agency = tf["resource"][("huaweicloud_identity_agency", "watch")]
    assert "enterprise_project_roles" not in agency
    assert all("enterprise_project_roles" not in block for block in agency.get("dynamic", []))
    assert _text(tf["raw"]["terraform"][0]["required_providers"][0]["huaweicloud"]["version"]).startswith(
        ">= 1.62.1,"
    )
    fix = _enterprise_project_fix()
    ((data,),) = [body.values() for block in fix["data"] for body in block.values()]
    assert _expression(data["id"]) == "each.value"
    ((agency_fix,),) = [body.values() for block in fix["resource"] for body in block.values()]
    ((roles,),) = [block.values() for block in agency_fix["dynamic"]]
    (content,) = roles["content"]
    assert _expression(content["enterprise_project"]) == "enterprise_project_roles.value.name"
    assert [_expression(role) for role in content["roles"]] == ["huaweicloud_identity_role.watch.name"]
    readme = " ".join((INFRA / "README.md").read_text(encoding="utf-8").split())
    assert 'version = ">= 1.80.1, < 2.0.0"' in readme
    reference = " ".join((ROOT / "docs" / "reference.md").read_text(encoding="utf-8").split())
    assert "A sweep filtered by `enterprise_project_id` makes ELB authorize" in reference
    assert "Sweeps filtered by enterprise project" in reference


@pytest.mark.parametrize(
    ("sweep", "names"),
    [
        ("null", []),
        ("{}", []),
        ('{name=["web"]}', []),
        ('{enterprise_project_id=["ep-2","ep-1"]}', ["ep-1", "ep-2"]),
    ],
)
def test_enterprise_project_fix_grants_exactly_the_filtered_projects(tmp_path, sweep, names):
    # The fix's for_each, evaluated by Terraform for each shape of `sweep` (null included).
    fix = _enterprise_project_fix()
    ((data,),) = [body.values() for block in fix["data"] for body in block.values()]
    module = f'output "granted" {{\n  value = {_expression(data["for_each"])}\n}}\n'
    assignments = ['pools=[{pool_id="p"}]'] if sweep == "null" else [f"sweep={sweep}"]
    done = _apply_scratch(tmp_path, module, assignments)
    assert done.returncode == 0, done.stdout + done.stderr
    granted = _run(_terraform(), tmp_path, "output", "-json", "granted").stdout
    assert sorted(json.loads(granted)) == names


@pytest.mark.parametrize(
    ("scopes", "projects"),
    [
        ("[]", ["cn-north-4"]),
        (
            (
                '[{region="cn-north-4",project_id="0123abcd"},{region="ap-southeast-1",project_id="4567ef01"},'
                '{region="cn-north-4",project_id="89ab",project_name="cn-north-4_payments"}]'
            ),
            ["cn-north-4", "ap-southeast-1", "cn-north-4_payments"],
        ),
    ],
)
def test_the_agency_holds_its_policy_in_every_scopes_project(tf, tmp_path, scopes, projects):
    expression = _expression(tf["locals"]["agency_projects"])
    module = f'output "projects" {{\n  value = {expression}\n}}\n'
    assignments = ['pools=[{pool_id="p"}]'] if scopes == "[]" else [f"scopes={scopes}"]
    done = _apply_scratch(tmp_path, module, assignments)
    assert done.returncode == 0, done.stdout + done.stderr
    granted = _run(_terraform(), tmp_path, "output", "-json", "projects").stdout
    assert json.loads(granted) == projects


def test_route_secrets_travel_encrypted_and_the_routing_file_as_a_setting(tf):
    assert tf["locals"]["settings"]["ELB_WATCH_ROUTES"] == "${var.routes}"
    assert "var.route_secrets" in _expression(tf["locals"]["encrypted_user_data"])
    assert tf["variable"]["route_secrets"]["sensitive"] in (True, "true")


# ---- issue 24: Cloud Eye metrics and the heartbeat ------------------------------------------------------


def test_heartbeat_alarm_watches_the_codes_watch_runs_metric_and_notifies_the_ops_topic(tf):
    from handler import config, metrics  # noqa: PLC0415

    alarm = tf["resource"][("huaweicloud_ces_alarmrule", "heartbeat")]
    assert _expression(alarm["count"]) == "local.heartbeat ? 1 : 0"
    # Only with metrics on (nothing to watch otherwise) and a timer (nothing to expect otherwise).
    assert _expression(tf["locals"]["heartbeat"]) == "var.metrics && var.heartbeat_alarm && var.timer_enabled"
    (metric,) = alarm["metric"]
    assert _expression(metric["namespace"]) == "var.metrics_namespace"
    assert _text(tf["variable"]["metrics_namespace"]["default"]) == config.DEFAULT_METRICS_NAMESPACE
    assert _text(tf["variable"]["metrics"]["default"]) in (False, "false")
    (resources,) = alarm["resources"]
    (dimension,) = resources["dimensions"]
    assert _text(dimension["name"]) == metrics.WATCHER_DIMENSION
    assert _expression(dimension["value"]) == "huaweicloud_fgs_function.watch.name"
    (condition,) = alarm["condition"]
    assert _text(condition["metric_name"]) == metrics.WATCH_RUNS
    assert (_text(condition["filter"]), _text(condition["comparison_operator"])) == ("sum", "<")
    assert _expression(condition["period"]) == "local.heartbeat_period"
    assert _expression(condition["value"]) == "local.heartbeat_min_runs"
    for actions in ("alarm_actions", "ok_actions"):
        (action,) = alarm[actions]
        assert [_expression(u) for u in action["notification_list"]] == [
            "huaweicloud_smn_topic.alerts.topic_urn"
        ]
    settings = tf["locals"]["settings"]
    assert _expression(settings["ELB_WATCH_METRICS"]) == 'var.metrics ? "on" : "off"'
    assert _expression(settings["ELB_WATCH_METRICS_NAMESPACE"]) == "var.metrics_namespace"


def _metrics_locals(tmp_path: Path, outputs: str, assignments: list[str]) -> dict[str, Any]:
    """infra/metrics.tf's locals evaluated by Terraform (provider-less), with these variables."""
    text = (INFRA / "metrics.tf").read_text(encoding="utf-8")
    start = text.index("locals {")
    block = text[start : text.index("\n}\n", start) + 3]
    done = _apply_scratch(tmp_path, block + outputs, assignments)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = _run(_terraform(), tmp_path, "output", "-json")
    return {name: value["value"] for name, value in json.loads(shown.stdout).items()}


@pytest.mark.parametrize(
    ("schedule", "period", "min_runs"),
    [("1m", 300, 3), ("5m", 1200, 2), ("7m", 3600, 4), ("1h", 14400, 2), ("6h", 86400, 2)],
)
def test_heartbeat_fires_below_half_the_runs_a_rate_schedule_makes_in_a_cloud_eye_period(
    tmp_path, schedule, period, min_runs
):
    outputs = (
        'output "period" { value = local.heartbeat_period }\n'
        'output "min_runs" { value = local.heartbeat_min_runs }\n'
        'output "heartbeat" { value = local.heartbeat }\n'
    )
    found = _metrics_locals(tmp_path, outputs, [f"schedule={schedule}", "metrics=true"])
    assert (found["period"], found["min_runs"], found["heartbeat"]) == (period, min_runs, True)
    assert period in (300, 1200, 3600, 14400, 86400)  # the periods the provider takes


@pytest.mark.parametrize(
    ("assignments", "heartbeat", "statements"),
    [
        ([], False, []),
        (["metrics=true"], True, [{"Effect": "Allow", "Action": ["ces:metricData:create"]}]),
        (
            ["metrics=true", "timer_enabled=false"],
            False,
            [{"Effect": "Allow", "Action": ["ces:metricData:create"]}],
        ),
        (
            ["metrics=true", "heartbeat_alarm=false"],
            False,
            [{"Effect": "Allow", "Action": ["ces:metricData:create"]}],
        ),
    ],
)
def test_metrics_grant_create_metric_data_and_the_heartbeat_exists_only_with_metrics_and_a_timer(
    tmp_path, assignments, heartbeat, statements
):
    outputs = (
        'output "heartbeat" { value = local.heartbeat }\n'
        'output "statements" { value = local.metrics_statements }\n'
    )
    found = _metrics_locals(tmp_path, outputs, assignments)
    assert (found["heartbeat"], found["statements"]) == (heartbeat, statements)


@pytest.mark.parametrize(
    ("namespace", "ok"),
    [("ELB.MasterWatch", True), ("Shop.watch_1", True), ("SYS.ELB", False), ("ELB", False)],
)
def test_the_namespace_variable_refuses_what_the_code_refuses(tmp_path, namespace, ok):
    from handler.config import namespace_problem  # noqa: PLC0415

    done = _apply_scratch(tmp_path, "", [f"metrics_namespace={namespace}"])
    assert (done.returncode == 0) is ok, done.stderr
    assert (namespace_problem(namespace) is None) is ok


def test_the_coc_key_travels_encrypted_and_its_intake_needs_no_iam_action(tf):
    plain, secret = tf["locals"]["settings"], tf["locals"]["secret_settings"]
    assert _expression(secret["ELB_WATCH_COC_INTEGRATION_KEY"]) == "var.coc_integration_key"
    assert tf["variable"]["coc_integration_key"].get("sensitive") in (True, "true")
    assert _expression(plain["ELB_WATCH_COC_REGION"]) == "var.coc_region"
    assert _expression(plain["ELB_WATCH_COC_APPLICATION_ID"]) == "var.coc_application_id"
    assert _literals_and_names() >= CALLS_WITHOUT_ACTION, "the function reports to COC"
    assert not set(CALLS_WITHOUT_ACTION) & set(ACTION_BY_SDK_CALL)
    statements = tf["locals"]["policy_statements"]
    assert not any("coc:" in _expression(statement["Action"]) for statement in statements)
    assert "coc:" not in _expression(tf["locals"]["metrics_statements"])


# ---- issue 24: the weekly report timer -----------------------------------------------------------------


def test_a_second_weekly_cron_timer_asks_for_the_weekly_report(tf):
    timers = sorted(
        name
        for (kind, name), body in tf["resource"].items()
        if kind == "huaweicloud_fgs_function_trigger" and _text(body["type"]) == "TIMER"
    )
    assert timers == ["timer", "weekly_report"]
    report = tf["resource"][("huaweicloud_fgs_function_trigger", "weekly_report")]
    assert _expression(report["count"]) == "var.report_enabled ? 1 : 0"
    event_data = _expression(report["event_data"])
    assert 'schedule_type = "Cron"' in event_data
    assert (
        "schedule      = var.report_schedule" in event_data or "schedule = var.report_schedule" in event_data
    )
    assert 'user_event = jsonencode({report = "weekly"})' in event_data
    assert _text(tf["variable"]["report_schedule"]["default"]) == "0 0 9 * * Mon"


def test_the_weekly_report_user_event_is_the_sample_event_the_handler_reads(tf, tmp_path):
    binary = _terraform()
    (tmp_path / "main.tf").write_text(
        'output "user_event" {\n  value = jsonencode({ report = "weekly" })\n}\n', encoding="utf-8"
    )
    for command in (
        ["init", "-input=false", "-no-color"],
        ["apply", "-auto-approve", "-input=false", "-no-color"],
    ):
        done = subprocess.run(
            [binary, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    user_event = subprocess.run(
        [binary, "output", "-raw", "user_event"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    sample = json.loads((ROOT / "events" / "report_weekly.json").read_text(encoding="utf-8"))
    assert json.loads(user_event) == json.loads(sample["user_event"])
    parsed = parse_event({**sample, "user_event": user_event})
    assert parsed.errors == ()
    assert parsed.report is not None
    assert parsed.report.kind == "weekly"


# ---- issue 23: the action links' API ----------------------------------------------------------------


def test_the_action_api_is_any_a_token_without_apig_auth_backed_by_the_function(tf):
    api = tf["resource"][("huaweicloud_apig_api", "actions")]
    assert _text(api["request_method"]) == "ANY"
    assert _text(api["request_path"]) == "/a/{token}"
    assert _text(api["security_authentication"]) == "NONE"
    [backend] = api["func_graph"]
    assert _expression(backend["function_urn"]) == "huaweicloud_fgs_function.watch.urn"
    for name in ("apig_group", "apig_api", "apig_api_publishment", "apig_throttling_policy"):
        assert (
            _expression(tf["resource"][(f"huaweicloud_{name}", "actions")]["count"])
            == "local.actions_on ? 1 : 0"
        )
    associate = tf["resource"][("huaweicloud_apig_throttling_policy_associate", "actions")]
    assert (
        _expression(associate["publish_ids"][0]) == "huaweicloud_apig_api_publishment.actions[0].publish_id"
    )
    assert _expression(associate["policy_id"]) == "huaweicloud_apig_throttling_policy.actions[0].id"


def test_the_action_url_and_key_reach_the_function_the_key_encrypted(tf):
    assert tf["locals"]["settings"]["ELB_WATCH_ACTIONS_URL"] == "${local.actions_url}"
    assert tf["locals"]["secret_settings"]["ELB_WATCH_ACTIONS_KEY"] == "${var.actions_key}"
    assert tf["variable"]["actions_key"].get("sensitive") in (True, "true")
    assert "sl_domain" in _expression(tf["locals"]["actions_url"])


@pytest.mark.parametrize(("key", "ok"), [("k" * 31, False), ("k" * 32, True)])
def test_an_action_key_under_32_bytes_is_refused(tmp_path, key, ok):
    done = _apply_scratch(tmp_path, "", [f"actions_key={key}"])
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    if not ok:
        assert "at least 32 bytes" in " ".join(done.stderr.split())
