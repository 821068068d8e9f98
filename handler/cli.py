"""`elb-master-watch`: run the function locally, exactly as FunctionGraph would, and operate it.

stdout carries only the result (`--output text` as people read it, `json` the result itself: the
default when stdout is not a terminal); logs go to stderr.
Exit status of `invoke`: 0 all assessed and delivered, 1 some target could not be assessed, 2 invalid
event, 3 assessed but some delivery failed, 64 usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

EXIT_OK = 0
EXIT_NOT_ASSESSED = 1
EXIT_INVALID_EVENT = 2
EXIT_DELIVERY_FAILED = 3
EXIT_USAGE = 64  # EX_USAGE of sysexits.h


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 64 (EX_USAGE), not 2 (which means "invalid event")."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the problem; exit 64."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type): 0 or less could only report a spent budget."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415
    from importlib.metadata import version as installed  # noqa: PLC0415

    try:
        return installed("elb-master-watch")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


class CliContext:
    """A FunctionGraph-like context: a time budget and a request id; credentials come from the env."""

    def __init__(self, timeout: float) -> None:
        """Start the clock for an invocation of `timeout` seconds."""
        self._deadline = time.monotonic() + timeout
        self._request_id = str(uuid.uuid4())

    def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802 - FunctionGraph's method name
        """Milliseconds left before the platform would stop the invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def getRequestID(self) -> str:  # noqa: N802 - FunctionGraph's method name
        """The id of this invocation, for the logs."""
        return self._request_id


def _read_event(path: str) -> Any:
    """The event as JSON if it parses, else the raw text, so the handler reports what is wrong."""
    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # e.g. nested 100,000 deep: the handler says EVENT.INVALID
        return raw


def _simulate(scenario: str, stack: ExitStack) -> None:
    """Start the embedded ELB simulator and point the SDK (and only the SDK) at it."""
    from elb_simulator import ElbSimulator, find_scenario, load_scenario  # noqa: PLC0415 - only when asked

    data = load_scenario(find_scenario(scenario))
    simulator = stack.enter_context(ElbSimulator(data))
    credentials = data["credentials"][0]
    os.environ.update(simulator.env())
    os.environ.setdefault("ELB_WATCH_REGION", data["region"])
    # Sign with the simulator's keys: real credentials are never sent to a local endpoint.
    os.environ["HUAWEICLOUD_SDK_AK"] = credentials["ak"]
    os.environ["HUAWEICLOUD_SDK_SK"] = credentials["sk"]
    os.environ["HUAWEICLOUD_SDK_PROJECT_ID"] = data["project_id"]
    os.environ.pop("HUAWEICLOUD_SDK_SECURITY_TOKEN", None)
    # A fresh temp directory per simulated run: its default state store (ELB_WATCH_STATE unset) starts
    # empty, so a demo is never silenced by an earlier one.
    previous = tempfile.tempdir
    tempfile.tempdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="elb-master-watch-demo-"))
    stack.callback(setattr, tempfile, "tempdir", previous)
    print(f"elb-master-watch: ELB simulator for {scenario} on {simulator.endpoint}", file=sys.stderr)


def exit_status(result: dict[str, Any]) -> int:
    """The exit status of `invoke` for a result (see the module docstring).

    0 all assessed and delivered, 1 something could not be assessed, 2 the event itself was invalid,
    3 assessed but some delivery failed (failed, throttled or deferred: not sent this run).
    """
    from handler.textview import NOT_DELIVERED  # noqa: PLC0415

    if "statusCode" in result and isinstance(result.get("body"), str):
        result = json.loads(result["body"])
    errors = result.get("errors", [])
    if errors and not result.get("targets") and any(e["code"] == "EVENT.INVALID" for e in errors):
        return EXIT_INVALID_EVENT
    if errors:
        return EXIT_NOT_ASSESSED
    if any(d.get("status") in NOT_DELIVERED for d in result.get("deliveries", [])):
        return EXIT_DELIVERY_FAILED
    return EXIT_OK


def _output(value: str | None) -> str:
    """`--output`: as asked, else text on a terminal and JSON when piped."""
    if value:
        return value
    return "text" if sys.stdout.isatty() else "json"


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        help="text (default on a terminal) or json (default when piped)",
    )


# What `add_subparsers` returns: each command adds its own parser to it.
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _invoke_parser(commands: _Commands) -> None:
    invoke = commands.add_parser("invoke", help="run the handler on an event file ('-' for stdin)")
    invoke.add_argument("event", help="path to a trigger event (JSON), e.g. events/direct.json")
    invoke.add_argument(
        "--timeout", type=_seconds, default=30.0, help="function timeout in seconds (default 30)"
    )
    invoke.add_argument(
        "--simulate",
        metavar="SCENARIO",
        help="run against the embedded ELB simulator: demo, outage, recovered, storm, "
        "broken-credentials, or a scenario file",
    )
    _add_output(invoke)
    invoke.add_argument(
        "--dry-run", action="store_true", help="assess and render, but send nothing and write no state"
    )


def _operator_parsers(commands: _Commands) -> None:
    channels = commands.add_parser("channels", help="the notification channels").add_subparsers(
        dest="action", required=True
    )
    test = channels.add_parser("test", help="send a clearly-marked test notification through each channel")
    test.add_argument("--channel", metavar="NAME", help="only this channel type (smn, feishu, dingtalk, ...)")
    test.add_argument("--receiver", metavar="NAME", help="only this receiver (config check lists them)")
    test.add_argument("--timeout", type=_seconds, default=30.0, help="seconds for all sends (default 30)")
    _add_output(test)
    alerts = commands.add_parser("alerts", help="the alerts the state store holds").add_subparsers(
        dest="action", required=True
    )
    listing = alerts.add_parser("list", help="firing and pending alerts (ELB_WATCH_STATE)")
    listing.add_argument("--all", action="store_true", help="resolved alerts too")
    _add_output(listing)


def _silence_parser(commands: _Commands) -> None:
    silence = commands.add_parser("silence", help="hold a pool's notifications, e.g. during maintenance")
    actions = silence.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="silence a pool or one finding for a while; prints the id")
    matcher = add.add_mutually_exclusive_group(required=True)
    matcher.add_argument("--pool", metavar="ID", help="the pool id")
    matcher.add_argument("--fingerprint", metavar="FP", help="one finding's fingerprint (alerts list)")
    add.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 2h, 1h30m")
    add.add_argument("--comment", default="", metavar="TEXT", help="why (shown by silence list)")
    _add_output(add)
    silences = actions.add_parser("list", help="the active silences")
    silences.add_argument("--all", action="store_true", help="ended silences too")
    _add_output(silences)
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id", help="the silence id")


def _package_parser(commands: _Commands) -> None:
    package = commands.add_parser(
        "package", help="build the FunctionGraph code zip (handler string index.handler)"
    )
    package.add_argument("--output", default="dist/function.zip", help="where to write the zip")
    package.add_argument("--python", default="3.10", help="the runtime's Python version (default 3.10)")
    package.add_argument(
        "--platform", default="manylinux2014_x86_64", help="wheel platform tag (default manylinux2014_x86_64)"
    )
    package.add_argument(
        "--interpreter",
        metavar="PYTHON",
        help="a CPython of the target version (found on PATH/pyenv when omitted): resolves markers, compiles",
    )
    package.add_argument(
        "--no-bytecode", action="store_true", help="ship sources only (when no target interpreter exists)"
    )
    package.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="FILE",
        help="ship FILE at the zip's root, e.g. the routing file (ELB_WATCH_ROUTES=routes.yaml)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="elb-master-watch", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_invoke_parser, _operator_parsers, _silence_parser, _routes_parsers, _package_parser):
        add(commands)
    return parser


def _routes_parsers(commands: _Commands) -> None:
    config = commands.add_parser("config", help="the configuration as the function reads it")
    check = config.add_subparsers(dest="action", required=True).add_parser(
        "check", help="print the receivers and routes (secrets redacted); exit 2 listing every problem"
    )
    _add_output(check)
    routes = commands.add_parser("routes", help="the routing file (ELB_WATCH_ROUTES)")
    test = routes.add_subparsers(dest="action", required=True).add_parser(
        "test", help="which receivers an alert about this pool would reach, and the route that matched"
    )
    for flag in ROUTE_FLAGS:
        test.add_argument(f"--{flag.replace('_', '-')}", dest=flag, metavar="VALUE")
    test.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a load balancer tag")
    _add_output(test)


ROUTE_FLAGS = (
    "pool_name",
    "pool_id",
    "loadbalancer_id",
    "listener_id",
    "enterprise_project_id",
    "region",
    "project_id",
    "kind",
    "severity",
)


def _routes(args: argparse.Namespace) -> int:
    """Run `config check` or `routes test`."""
    from handler import routes_cli  # noqa: PLC0415

    if args.command == "config":
        return routes_cli.config_check(output=_output(args.output))
    values = {flag: getattr(args, flag) for flag in ROUTE_FLAGS}
    return routes_cli.routes_test(values=values, tags=args.tag, output=_output(args.output))


def _operate(args: argparse.Namespace) -> int:
    """Run `channels test`, `alerts list` or `silence add|list|expire`."""
    from handler import commands  # noqa: PLC0415

    if args.command == "channels":
        return commands.channels_test(
            only=args.channel, output=_output(args.output), timeout=args.timeout, receiver=args.receiver
        )
    if args.command == "alerts":
        return commands.alerts(output=_output(args.output), include_resolved=args.all)
    if args.action == "add":
        return commands.silence_add(
            pool=args.pool,
            fingerprint=args.fingerprint,
            duration=args.duration,
            comment=args.comment,
            output=args.output or "text",  # the id alone, also when piped: ID=$(... silence add ...)
        )
    if args.action == "list":
        return commands.silence_list(output=_output(args.output), include_ended=args.all)
    return commands.silence_expire(args.id)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.command in {"channels", "alerts", "silence"}:
        return _operate(args)
    if args.command in {"config", "routes"}:
        return _routes(args)
    if args.command == "package":
        from elb_tools.packaging import run  # noqa: PLC0415 - build tooling, never loaded by the function

        return run(
            Path(args.output),
            python=args.python,
            platform=args.platform,
            interpreter=args.interpreter,
            bytecode=not args.no_bytecode,
            include=[Path(name) for name in args.include],
        )
    from handler.app import invoke  # noqa: PLC0415 - keep `--help` fast

    try:
        event = _read_event(args.event)
    except OSError as exc:
        print(f"elb-master-watch: cannot read {args.event}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID_EVENT
    output = _output(args.output)
    with ExitStack() as stack:
        if args.simulate:
            from elb_simulator import ScenarioError  # noqa: PLC0415 - only when asked

            try:
                _simulate(args.simulate, stack)
            except ScenarioError as exc:
                print(f"elb-master-watch: {exc}", file=sys.stderr)
                return EXIT_USAGE
            except (OSError, ValueError) as exc:
                print(f"elb-master-watch: cannot start the simulator: {exc}", file=sys.stderr)
                return EXIT_NOT_ASSESSED
        result = invoke(event, CliContext(args.timeout), log_to="stderr", dry_run=args.dry_run)
    if output == "text":
        from handler.textview import emit, render_result  # noqa: PLC0415

        emit(render_result(result))
        return exit_status(result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return exit_status(result)
