"""`elb-master-watch`: run the function locally, exactly as FunctionGraph would, and operate it.

stdout carries only the result (`--output text` as people read it, `json` the result itself: the
default when stdout is not a terminal); logs go to stderr. `-o/--output` and `-q/--quiet` are accepted
before the command and after it; `--quiet` leaves on stdout only errors (and JSON, when asked).
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
    """argparse, but a usage error exits 64 (EX_USAGE), not 2 (which means "invalid event").

    An option no command knows is named in the error (with the closest known one), whatever argparse
    would have complained about first: `--versoin` says so, not "arguments are required: command".
    """

    # The words being parsed and every option of the whole tree (set by the root's parse_args).
    _words: tuple[list[str], frozenset[str]] = ([], frozenset())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """An argparse parser whose epilog (example, variables, exit codes) keeps its line breaks."""
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse `args` (the process's arguments by default), remembering them for `error`."""
        words = list(sys.argv[1:] if args is None else args)
        _Parser._words = (words, frozenset(_options_of(self)))
        return super().parse_args(words, namespace)

    def error(self, message: str) -> NoReturn:
        """Print the usage and the problem (an unknown option first); exit 64."""
        unknown = _unknown_options(*_Parser._words)
        if unknown:
            message = "; ".join(unknown)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _options_of(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of a parser and of all its subcommands."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _options_of(child)
    return found


def _unknown_options(words: list[str], known: frozenset[str]) -> list[str]:
    """An error (`unknown option --versoin (did you mean --version?)`) per option word no command knows."""
    from difflib import get_close_matches  # noqa: PLC0415 - only on a usage error

    problems = []
    for word in words[: words.index("--")] if "--" in words else words:
        if len(word) < 2 or not word.startswith("-") or word[1].isdigit():
            continue
        name = word.split("=", 1)[0]
        if name in known or (not word.startswith("--") and word[:2] in known):
            continue  # --output=json, or -ojson
        if word.startswith("--") and any(option.startswith(name) for option in known):
            continue  # argparse's abbreviations: --sim for --simulate
        close = get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        problems.append(f"unknown option {name}" + (f" (did you mean {close[0]}?)" if close else ""))
    return problems


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


QUIET_HELP = (
    "no text on stdout but errors (JSON, when asked, and `silence add`'s id still print); "
    "exit status unchanged"
)


def _add_globals(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    """`-o/--output` and `-q/--quiet`, accepted before the command and after it alike.

    SUPPRESS as the default: a subcommand that was not given the flag leaves the value the words before
    it set (`elb-master-watch -o json alerts list`) instead of resetting it.
    """
    if output:
        parser.add_argument(
            "--output",
            "-o",
            choices=("text", "json"),
            default=argparse.SUPPRESS,
            help="text (default on a terminal) or json (default when piped)",
        )
    parser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)


STORE_VARIABLES = "ELB_WATCH_STATE (the function's store; unset: the instance store in the temp directory)"
STORE_EXITS = ("0 done", "1 no store configured, or the store is unavailable", "64 usage error")


def epilog(example: str | tuple[str, ...], variables: str | tuple[str, ...], exits: tuple[str, ...]) -> str:
    """The end of a command's --help: an example, the variables it reads, its exit codes."""

    def block(title: str, lines: str | tuple[str, ...]) -> str:
        return (
            title + "\n" + "\n".join(f"  {line}" for line in ((lines,) if isinstance(lines, str) else lines))
        )

    return "\n\n".join(
        (block("example:", example), block("environment:", variables), block("exit status:", exits))
    )


# What `add_subparsers` returns: each command adds its own parser to it.
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _invoke_parser(commands: _Commands) -> None:
    invoke = commands.add_parser(
        "invoke",
        help="run the handler on an event file ('-' for stdin)",
        epilog=epilog(
            (
                "elb-master-watch invoke events/direct.json --simulate demo -o text",
                "elb-master-watch invoke - < event.json",
            ),
            (
                "ELB_WATCH_* (every setting of docs/reference.md), HUAWEICLOUD_SDK_AK/_SK/_SECURITY_TOKEN,",
                "HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_REGION_ELB_<REGION>, the channel variables",
            ),
            (
                "0 all assessed and delivered",
                "1 some target could not be assessed, or a setting is unusable",
                "2 invalid event (or unreadable event file)",
                "3 assessed, but some delivery failed, was throttled or deferred",
                "64 usage error",
            ),
        ),
    )
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
    _add_globals(invoke)
    invoke.add_argument(
        "--dry-run",
        action="store_true",
        help="assess and render, but send nothing, start no check job and write no state",
    )


CHANNEL_VARIABLES = (
    "ELB_WATCH_SMN_TOPIC_URN, ELB_WATCH_FEISHU_WEBHOOK, ELB_WATCH_DINGTALK_WEBHOOK, ELB_WATCH_WECOM_WEBHOOK,",
    "ELB_WATCH_SLACK_WEBHOOK, ELB_WATCH_WEBHOOK_URL, ELB_WATCH_WELINK_WEBHOOK, ELB_WATCH_TEAMS_WEBHOOK",
    "(and their _SECRET), ELB_WATCH_LOCALE, HUAWEICLOUD_SDK_AK/_SK for SMN",
)


def _channels_parser(commands: _Commands) -> None:
    exits = (
        "0 every tested channel got its message",
        "1 no channel configured, or a channel's settings are unusable",
        "3 a channel did not get it",
        "64 usage error (unknown channel name)",
    )
    group = commands.add_parser(
        "channels",
        help="the notification channels",
        epilog=epilog("elb-master-watch channels test --channel slack", CHANNEL_VARIABLES, exits),
    )
    _add_globals(group)
    channels = group.add_subparsers(dest="action", required=True)
    test = channels.add_parser(
        "test",
        help="send a clearly-marked test notification through each channel",
        epilog=epilog("elb-master-watch channels test --channel slack", CHANNEL_VARIABLES, exits),
    )
    test.add_argument("--channel", metavar="NAME", help="only this channel type (smn, feishu, dingtalk, ...)")
    test.add_argument("--receiver", metavar="NAME", help="only this receiver (config check lists them)")
    test.add_argument("--timeout", type=_seconds, default=30.0, help="seconds for all sends (default 30)")
    _add_globals(test)


MATCH_HELP = (
    "KEY=VALUE, KEY!=VALUE, KEY=~REGEX or KEY!~REGEX over pool_name (= is a glob there), pool_id, "
    "loadbalancer_id, listener_id, enterprise_project_id, region, project_id, kind, severity; "
    "repeat to AND them"
)
ALERTS_VARIABLES = (
    STORE_VARIABLES,
    "ELB_WATCH_REPEAT_INTERVAL, ELB_WATCH_FIRE_AFTER/_RESOLVE_AFTER, channels",
)
MATCHER_EXITS = (
    "0 done",
    "1 no store configured, the store is unavailable, or no such alert / acknowledgement",
    "2 a bad --match (named in the message)",
    "64 usage error",
)


def _alerts_parser(commands: _Commands) -> None:
    example = (
        "elb-master-watch alerts list --match 'pool_name=pay-*' --receiver oncall",
        "elb-master-watch alerts list --severity critical -o json",
    )
    exits = (
        "0 done",
        "1 no store configured, or the store is unavailable",
        "2 a bad --match",
        "64 usage error",
    )
    group = commands.add_parser(
        "alerts",
        help="the alerts the state store holds, and their history",
        epilog=epilog((*example, "elb-master-watch alerts history --since 30d"), ALERTS_VARIABLES, exits),
    )
    _add_globals(group)
    alerts = group.add_subparsers(dest="action", required=True)
    listing = alerts.add_parser(
        "list",
        help="firing and pending alerts (ELB_WATCH_STATE)",
        epilog=epilog(example, ALERTS_VARIABLES, exits),
    )
    listing.add_argument("--all", action="store_true", help="resolved alerts too")
    listing.add_argument(
        "--severity",
        action="append",
        choices=("critical", "major", "warning", "info"),
        help="only alerts of this severity (repeat for several)",
    )
    listing.add_argument(
        "--match", action="append", metavar="MATCHER", help=f"only matching alerts: {MATCH_HELP}"
    )
    listing.add_argument(
        "--receiver", action="append", metavar="NAME", help="only alerts routed to (or owed to) this receiver"
    )
    _add_globals(listing)
    _ack_parsers(alerts)


def _ack_parsers(alerts: _Commands) -> None:
    ack = alerts.add_parser(
        "ack",
        help="acknowledge a firing alert: no repeat until it changes or resolves",
        epilog=epilog(
            (
                'elb-master-watch alerts ack FINGERPRINT --comment "on it" --by alice',
                "elb-master-watch alerts ack --match 'pool_name=pay-*' --match severity=critical",
            ),
            STORE_VARIABLES,
            MATCHER_EXITS,
        ),
    )
    ack.add_argument("fingerprint", nargs="?", metavar="FINGERPRINT", help="the alert (alerts list shows it)")
    ack.add_argument(
        "--match", action="append", metavar="MATCHER", help=f"every firing alert matching: {MATCH_HELP}"
    )
    ack.add_argument("--comment", default="", metavar="TEXT", help="why (shown by alerts list and in held)")
    ack.add_argument("--by", metavar="NAME", help="who acknowledges (default: the OS user, else cli)")
    _add_globals(ack)
    unack = alerts.add_parser(
        "unack",
        help="drop an acknowledgement: the alert's repeats resume",
        epilog=epilog("elb-master-watch alerts unack FINGERPRINT", STORE_VARIABLES, MATCHER_EXITS),
    )
    unack.add_argument("fingerprint", nargs="?", metavar="FINGERPRINT", help="the alert")
    unack.add_argument(
        "--match", action="append", metavar="MATCHER", help=f"every alert matching: {MATCH_HELP}"
    )
    _add_globals(unack)
    _history_parser(alerts)


def _history_parser(alerts: Any) -> None:
    example = (
        "elb-master-watch alerts history --since 30d",
        "elb-master-watch alerts history --match pool_name=pay-* -o json",
    )
    variables = (STORE_VARIABLES, "ELB_WATCH_HISTORY_DAYS, ELB_WATCH_HISTORY_MAX (what the store keeps)")
    history = alerts.add_parser(
        "history",
        help="past episodes, and per pool: failovers, outages, MTTR, top cause",
        epilog=epilog(example, variables, STORE_EXITS),
    )
    history.add_argument(
        "--since", default="7d", metavar="AGE", help="episodes open in the last AGE (7d, 2w, 36h; default 7d)"
    )
    history.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only episodes whose route match key fits (a glob: pool_name=pay-*); repeat to AND",
    )
    _add_globals(history)


def _silence_parser(commands: _Commands) -> None:
    expire_exits = (
        "0 the silence was active and is now ended",
        "1 no such silence, it had already ended, or the store is unavailable",
        "64 usage error",
    )
    add_example = (
        "elb-master-watch silence add --match 'pool_name=pay-*' --match severity=critical --for 1d12h",
        'ID=$(elb-master-watch silence add --pool ID --for 2h --comment "maintenance")',
    )
    group = commands.add_parser(
        "silence",
        help="hold matching notifications for a while, e.g. during maintenance",
        epilog=epilog(add_example, STORE_VARIABLES, expire_exits),
    )
    _add_globals(group)
    actions = group.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="silence matching alerts (or a pool, or one finding) for a while; prints the id",
        epilog=epilog(add_example, STORE_VARIABLES, (*STORE_EXITS[:2], "2 a bad --match", STORE_EXITS[2])),
    )
    matcher = add.add_mutually_exclusive_group(required=True)
    matcher.add_argument("--match", action="append", metavar="MATCHER", help=MATCH_HELP)
    matcher.add_argument("--pool", metavar="ID", help="the pool id")
    matcher.add_argument("--fingerprint", metavar="FP", help="one finding's fingerprint (alerts list)")
    add.add_argument(
        "--for",
        dest="duration",
        required=True,
        metavar="DURATION",
        help="e.g. 30m, 2h, 1d, 1w, 1d12h (max 90d)",
    )
    add.add_argument("--comment", default="", metavar="TEXT", help="why (shown by silence list)")
    add.add_argument("--by", metavar="NAME", help="who silences (default: the OS user, else cli)")
    _add_globals(add)
    _silence_list_parser(actions)
    _silence_update_parser(actions)
    expire = actions.add_parser(
        "expire",
        help="end a silence now",
        epilog=epilog('elb-master-watch silence expire "$ID"', STORE_VARIABLES, expire_exits),
    )
    expire.add_argument("id", help="the silence id")
    _add_globals(expire, output=False)


def _silence_list_parser(actions: _Commands) -> None:
    silences = actions.add_parser(
        "list",
        help="the active silences",
        epilog=epilog(
            (
                "elb-master-watch silence list --all",
                "elb-master-watch silence list --match 'pool_name=pay-*'",
            ),
            STORE_VARIABLES,
            (*STORE_EXITS[:2], "2 a bad --match", STORE_EXITS[2]),
        ),
    )
    silences.add_argument("--all", action="store_true", help="ended silences too")
    silences.add_argument(
        "--match",
        action="append",
        metavar="MATCHER",
        help="only silences whose matchers name a value it accepts",
    )
    _add_globals(silences)


def _silence_update_parser(actions: _Commands) -> None:
    update = actions.add_parser(
        "update",
        help="extend, shorten or re-comment an active silence; prints its id",
        epilog=epilog(
            (
                'elb-master-watch silence update "$ID" --for 4h',
                'elb-master-watch silence update "$ID" --comment "longer"',
            ),
            STORE_VARIABLES,
            (
                "0 updated",
                "1 no such silence, it has ended, or the store is unavailable",
                "64 usage error (nothing to update, a bad --for or --until)",
            ),
        ),
    )
    update.add_argument("id", help="the silence id")
    end = update.add_mutually_exclusive_group()
    end.add_argument(
        "--for", dest="duration", metavar="DURATION", help="a new end, counted from now (e.g. 4h, 1d)"
    )
    end.add_argument(
        "--until", metavar="TIME", help="a new end: ISO 8601, e.g. 2026-12-07T02:00:00Z (UTC if no zone)"
    )
    update.add_argument("--comment", metavar="TEXT", help="a new comment")
    _add_globals(update)


def _package_parser(commands: _Commands) -> None:
    package = commands.add_parser(
        "package",
        help="build the FunctionGraph code zip (handler string index.handler)",
        epilog=epilog(
            "elb-master-watch package --output dist/function.zip --python 3.10",
            "PIP_INDEX_URL and the other pip variables (pip downloads the wheels)",
            ("0 the zip was written", "1 it could not be built", "64 usage error"),
        ),
    )
    # Here --output is the zip's path, not the text/json choice of the other commands.
    package.add_argument("--output", dest="zip", default="dist/function.zip", help="where to write the zip")
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
    _add_globals(package, output=False)


def _serve_parser(commands: _Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="development only: serve HTTP on 127.0.0.1 as API Gateway events (the action links' pages)",
        epilog=epilog(
            "ELB_WATCH_ACTIONS_URL=http://127.0.0.1:8080 elb-master-watch serve --port 8080",
            (
                "every variable of invoke; ELB_WATCH_ACTIONS_URL/_KEY and ELB_WATCH_STATE (redis://, sqlite://)",
            ),
            ("0 stopped with Ctrl-C", "1 the port cannot be bound", "64 usage error"),
        ),
    )
    serve.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 any free)")
    serve.add_argument(
        "--simulate", metavar="SCENARIO", help="watch requests read the embedded ELB simulator"
    )
    serve.add_argument("--timeout", type=_seconds, default=30.0, help="each request's budget (default 30)")


def _serve(args: argparse.Namespace) -> int:
    """`serve`: the development server (elb_tools.serve, never shipped) in front of the handler."""
    from elb_tools.serve import run  # noqa: PLC0415 - development only, not in the zip
    from handler import handler  # noqa: PLC0415

    if not 0 <= args.port <= 65535:
        print(f"elb-master-watch: --port {args.port} is not a port number", file=sys.stderr)
        return EXIT_USAGE
    with ExitStack() as stack:
        if args.simulate:
            _simulate(args.simulate, stack)
        return run(args.port, lambda event: handler(event, CliContext(args.timeout)))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="elb-master-watch",
        description=__doc__.split("\n")[0],
        epilog=epilog(
            ("elb-master-watch -o json alerts list", "elb-master-watch COMMAND --help"),
            "see each command's --help; every setting is in docs/reference.md",
            ("as each command's --help says; 64 usage error",),
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _add_globals(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _invoke_parser,
        _channels_parser,
        _alerts_parser,
        _silence_parser,
        _routes_parsers,
        _package_parser,
        _serve_parser,
    ):
        add(commands)
    return parser


ROUTES_VARIABLES = (
    "ELB_WATCH_ROUTES (the routing file: a path from the code root, or inline JSON), the ${NAME}s it uses",
    "the ELB_WATCH_* channel variables, and every other ELB_WATCH_* setting (config check)",
)


def _routes_parsers(commands: _Commands) -> None:
    exits = ("0 no problem", "2 some problem (all listed)", "64 usage error")
    example = "ELB_WATCH_ROUTES=examples/routes.yaml elb-master-watch config check"
    config = commands.add_parser(
        "config",
        help="the configuration as the function reads it",
        epilog=epilog(example, ROUTES_VARIABLES, exits),
    )
    _add_globals(config)
    check = config.add_subparsers(dest="action", required=True).add_parser(
        "check",
        help="print the receivers and routes (secrets redacted); exit 2 listing every problem",
        epilog=epilog(example, ROUTES_VARIABLES, exits),
    )
    _add_globals(check)
    example = "elb-master-watch routes test --pool-name pay-api --severity critical --tag team=payments"
    exits = ("0 answered", "2 the routing file has problems (every receiver would get it)", "64 usage error")
    routes = commands.add_parser(
        "routes", help="the routing file (ELB_WATCH_ROUTES)", epilog=epilog(example, ROUTES_VARIABLES, exits)
    )
    _add_globals(routes)
    test = routes.add_subparsers(dest="action", required=True).add_parser(
        "test",
        help="which receivers an alert about this pool would reach, and the route that matched",
        epilog=epilog(example, ROUTES_VARIABLES, exits),
    )
    for flag in ROUTE_FLAGS:
        test.add_argument(f"--{flag.replace('_', '-')}", dest=flag, metavar="VALUE")
    test.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a load balancer tag")
    _add_globals(test)


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


def _routes(args: argparse.Namespace, output: str | None) -> int:
    """Run `config check` or `routes test`."""
    from handler import routes_cli  # noqa: PLC0415

    if args.command == "config":
        return routes_cli.config_check(output=_output(output))
    values = {flag: getattr(args, flag) for flag in ROUTE_FLAGS}
    return routes_cli.routes_test(values=values, tags=args.tag, output=_output(output))


def _operate(args: argparse.Namespace, output: str | None, *, quiet: bool) -> int:
    """Run `channels test`, `alerts list|ack|unack` or `silence add|list|update|expire`."""
    from handler import commands  # noqa: PLC0415

    if args.command == "channels":
        return commands.channels_test(
            only=args.channel, output=_output(output), timeout=args.timeout, receiver=args.receiver
        )
    if args.command == "alerts" and args.action == "history":
        return commands.alerts_history(output=_output(output), since=args.since, match=args.match)
    if args.command == "alerts":
        return _alerts(args, output, quiet=quiet)
    if args.action == "add":
        return commands.silence_add(
            pool=args.pool,
            fingerprint=args.fingerprint,
            match=args.match,
            duration=args.duration,
            comment=args.comment,
            by=args.by,
            output=output or "text",  # the id alone, also when piped: ID=$(... silence add ...)
            quiet=quiet,
        )
    if args.action == "update":
        return commands.silence_update(
            args.id,
            duration=args.duration,
            until=args.until,
            comment=args.comment,
            output=output or "text",
            quiet=quiet,
        )
    if args.action == "list":
        return commands.silence_list(output=_output(output), include_ended=args.all, match=args.match)
    return commands.silence_expire(args.id, quiet=quiet)


def _alerts(args: argparse.Namespace, output: str | None, *, quiet: bool) -> int:
    """Run `alerts list`, `alerts ack` or `alerts unack`."""
    if args.action == "list":
        from handler import commands  # noqa: PLC0415

        return commands.alerts(
            output=_output(output),
            include_resolved=args.all,
            severities=args.severity,
            match=args.match,
            receivers=args.receiver,
        )
    from handler import acking  # noqa: PLC0415

    if args.action == "ack":
        return acking.alerts_ack(
            fingerprint=args.fingerprint,
            match=args.match,
            comment=args.comment,
            by=args.by,
            output=output or "text",
            quiet=quiet,
        )
    return acking.alerts_unack(
        fingerprint=args.fingerprint, match=args.match, output=output or "text", quiet=quiet
    )


def _quietly(output: str | None, stack: ExitStack, *, quiet: bool) -> None:
    """`--quiet` with text output: what the command prints on stdout goes nowhere (stderr is kept)."""
    if quiet and _output(output) == "text":
        import io  # noqa: PLC0415
        from contextlib import redirect_stdout  # noqa: PLC0415

        stack.enter_context(redirect_stdout(io.StringIO()))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    args = _parser().parse_args(argv)
    output: str | None = getattr(args, "output", None)
    quiet: bool = getattr(args, "quiet", False)
    if args.command in {"channels", "alerts", "silence"}:
        with ExitStack() as stack:
            if not (args.command == "silence" and args.action in {"add", "update"}):  # the id is the answer
                _quietly(output, stack, quiet=quiet)
            return _operate(args, output, quiet=quiet)
    if args.command in {"config", "routes"}:
        with ExitStack() as stack:
            _quietly(output, stack, quiet=quiet)
            return _routes(args, output)
    if args.command == "serve":
        return _serve(args)
    if args.command == "package":
        from elb_tools.packaging import run  # noqa: PLC0415 - build tooling, never loaded by the function

        return run(
            Path(args.zip),
            python=args.python,
            platform=args.platform,
            interpreter=args.interpreter,
            bytecode=not args.no_bytecode,
            include=[Path(name) for name in args.include],
        )
    return _invoke(args, _output(output), quiet=quiet)


def _invoke(args: argparse.Namespace, output: str, *, quiet: bool) -> int:
    """`invoke`: read the event, run the handler (on the simulator if asked), print the result."""
    from handler.app import invoke  # noqa: PLC0415 - keep `--help` fast

    try:
        event = _read_event(args.event)
    except OSError as exc:
        print(f"elb-master-watch: cannot read {args.event}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID_EVENT
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
        from handler.textview import emit, render_errors, render_result  # noqa: PLC0415

        text = render_errors(result) if quiet else render_result(result)
        if text:
            emit(text)
        return exit_status(result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return exit_status(result)
