"""Alert state between invocations: the store port, its SQLite and Redis adapters, and one lifecycle run.

`open_store(os.environ.get("ELB_WATCH_STATE"))` gives a store (or None); `process(...)` runs the
lifecycle for one invocation. Neither sqlite3 nor redis is imported until a store of that kind is opened.
"""

from __future__ import annotations

from handler.state.base import Loaded, StateStore, StoreUnavailable
from handler.state.process import BUSY, ProcessResult, Send, process
from handler.state.url import open_store, redact_url, url_secrets

__all__ = [
    "BUSY",
    "Loaded",
    "ProcessResult",
    "Send",
    "StateStore",
    "StoreUnavailable",
    "open_store",
    "process",
    "redact_url",
    "url_secrets",
]
