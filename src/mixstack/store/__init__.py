"""Persistent state: SQLite (WAL) with numbered migrations, written off the request path."""

from mixstack.store.calls import CallRecord, recent_calls, record_call
from mixstack.store.db import HOME_ENV, Store, apply_migrations, default_home

__all__ = [
    "HOME_ENV",
    "CallRecord",
    "Store",
    "apply_migrations",
    "default_home",
    "recent_calls",
    "record_call",
]
