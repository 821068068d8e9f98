"""elb-master-watch: tells operators when the master of an ELB active/standby pool fails, and why.

FunctionGraph entry point: `handler.handler(event, context)`. Importing this package is cheap: the
SDK, structlog and the rest load on the first invocation.
"""

from __future__ import annotations

from typing import Any

__all__ = ["handler"]


def handler(event: Any, context: Any) -> Any:
    """FunctionGraph entry point: watch what the event names and return the `elb-master-watch/v1` result."""
    from handler.app import invoke  # noqa: PLC0415 - lazy, so a cold start only pays for what it uses

    return invoke(event, context)
