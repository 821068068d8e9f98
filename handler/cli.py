"""`elb-master-watch`: run the function locally, exactly as FunctionGraph would.

stdout carries only the JSON result; logs go to stderr.
Exit status: 0 every target assessed, 1 some target could not be assessed, 2 invalid event.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_NOT_ASSESSED = 1
EXIT_INVALID_EVENT = 2


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
    from handler.simulator import ElbSimulator, load_scenario  # noqa: PLC0415 - only when asked

    data = load_scenario(_scenario_path(scenario))
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


def _scenario_path(name: str) -> str:
    """A scenario file, given as a path or as a name under events/scenarios/."""
    if Path(name).is_file():
        return name
    candidate = Path("events") / "scenarios" / f"{name}.json"
    return str(candidate) if candidate.is_file() else name


def exit_status(result: dict[str, Any]) -> int:
    """0 all assessed, 1 something could not be assessed, 2 the event itself was invalid."""
    if "statusCode" in result and isinstance(result.get("body"), str):
        result = json.loads(result["body"])
    errors = result.get("errors", [])
    if errors and not result.get("targets") and any(e["code"] == "EVENT.INVALID" for e in errors):
        return EXIT_INVALID_EVENT
    return EXIT_NOT_ASSESSED if errors else EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="elb-master-watch", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="run the handler on an event file ('-' for stdin)")
    invoke.add_argument("event", help="path to a trigger event (JSON), e.g. events/direct.json")
    invoke.add_argument(
        "--timeout", type=float, default=30.0, help="function timeout in seconds (default 30)"
    )
    invoke.add_argument(
        "--simulate",
        metavar="SCENARIO",
        help="run against the embedded ELB simulator with this scenario "
        "(a path, or a name in events/scenarios)",
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "package":
        from handler.packaging import run  # noqa: PLC0415 - build tooling, never loaded by the function

        return run(
            Path(args.output),
            python=args.python,
            platform=args.platform,
            interpreter=args.interpreter,
            bytecode=not args.no_bytecode,
        )
    from handler.app import invoke  # noqa: PLC0415 - keep `--help` fast

    try:
        event = _read_event(args.event)
    except OSError as exc:
        print(f"elb-master-watch: cannot read {args.event}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID_EVENT
    with ExitStack() as stack:
        if args.simulate:
            try:
                _simulate(args.simulate, stack)
            except (OSError, ValueError) as exc:
                print(f"elb-master-watch: cannot start the simulator: {exc}", file=sys.stderr)
                return EXIT_NOT_ASSESSED
        result = invoke(event, CliContext(args.timeout), log_to="stderr")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return exit_status(result)
