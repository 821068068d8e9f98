"""Alert state between invocations: the store port and its SQLite and Redis adapters.

`open_store(os.environ.get("ELB_WATCH_STATE"))` gives a store (or None); the notification pipeline
(`handler.pipeline`) uses it. Neither sqlite3 nor redis is imported until a store of that kind is opened.
"""

from __future__ import annotations

from handler.state.base import Leased, Loaded, StateStore, StoreUnavailable
from handler.state.url import open_store, shown_store_url, url_secrets

__all__ = [
    "Leased",
    "Loaded",
    "StateStore",
    "StoreUnavailable",
    "open_store",
    "shown_store_url",
    "url_secrets",
]
