"""Run the ELB simulator in the foreground: python -m elb_simulator SCENARIO.json [--port N]."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import ElbSimulator


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a scenario until Ctrl-C or SIGTERM; print the endpoint and the variable to export."""
    parser = argparse.ArgumentParser(
        prog="python -m elb_simulator",
        description="Serve an ELB v3 API simulator on 127.0.0.1 for the Huawei Cloud SDK.",
    )
    parser.add_argument("scenario", help="scenario JSON file (pools, jobs, credentials, faults)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    try:
        simulator = ElbSimulator(args.scenario, port=args.port).start()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    stopped = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        """Stop on SIGTERM like on Ctrl-C."""
        stopped.set()

    previous_sigterm = signal.signal(signal.SIGTERM, request_stop)
    try:
        sys.stdout.write(
            f"ELB simulator on {simulator.endpoint} "
            f"(region {simulator.region}, project {simulator.project_id})\n"
        )
        for name, value in simulator.env().items():
            sys.stdout.write(f"export {name}={value}\n")
        sys.stdout.flush()
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
        signal.signal(signal.SIGTERM, previous_sigterm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
