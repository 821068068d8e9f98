"""Act from the alert: signed links in firing messages, served by the function itself (issue 23).

    links     which actions a firing message links to (LINKED), when links are on, the link stage
    token     the signed token of a link (pure)
    pages     the HTML pages the links open (pure, escaped, en/zh)
    endpoint  an APIG request under /a/: verify → confirm page (GET) or act once (POST), announce

`action_path(event)` is all `handler.app` asks before routing: importing this package is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "/a/"


def action_path(event: Any) -> bool:
    """Whether an event is an APIG request for an action link (its path is under /a/)."""
    if not isinstance(event, Mapping):
        return False
    path = event.get("path")
    has_http = "httpMethod" in event or "requestContext" in event
    return has_http and isinstance(path, str) and (path.startswith(PREFIX) or path == PREFIX.rstrip("/"))
