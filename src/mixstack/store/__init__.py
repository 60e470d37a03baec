"""Persistent state behind typed repositories: SQLite (WAL, the default) or PostgreSQL.

`open_store(url)` picks the backend; every front door reaches keys, budgets, calls, traces,
the eval response cache, eval runs, the dashboard's views, alerts and the privacy hash chain
through `Store`'s repositories, never through SQL.
"""

from typing import Any

from mixstack.store.alerts import AlertRepository
from mixstack.store.base import (
    HOME_ENV,
    REDIS_ENV,
    STORE_ENV,
    Store,
    default_home,
    open_store,
    shared_budgets,
    shared_circuits,
    shared_rates,
)
from mixstack.store.budgets import AdmittingBudgets, BudgetRepository, Hold, KeyUsage
from mixstack.store.calls import CallRecord, CallRepository
from mixstack.store.chain import ChainCheck, PrivacyChainRepository
from mixstack.store.dashboard import CallFilter, DashboardRepository
from mixstack.store.db import SQLiteStore, apply_migrations
from mixstack.store.keys import KeyRepository, VirtualKey, next_reset
from mixstack.store.rates import RateAsk
from mixstack.store.responses import ResponseCacheRepository
from mixstack.store.runs import EvalRunRepository, EvalRunRow
from mixstack.store.traces import TraceRepository

__all__ = [
    "HOME_ENV",
    "REDIS_ENV",
    "STORE_ENV",
    "AdmittingBudgets",
    "AlertRepository",
    "BudgetRepository",
    "CallFilter",
    "CallRecord",
    "CallRepository",
    "ChainCheck",
    "DashboardRepository",
    "EvalRunRepository",
    "EvalRunRow",
    "Hold",
    "KeyRepository",
    "KeyUsage",
    "PrivacyChainRepository",
    "RateAsk",
    "ResponseCacheRepository",
    "SQLiteStore",
    "Store",
    "TraceRepository",
    "VirtualKey",
    "apply_migrations",
    "default_home",
    "next_reset",
    "open_store",
    "recent_calls",
    "record_call",
    "shared_budgets",
    "shared_circuits",
    "shared_rates",
]


def record_call(store: Store, record: CallRecord) -> None:
    """`store.calls.record(record)` (kept for callers of the function form)."""
    store.calls.record(record)


def recent_calls(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    return store.calls.recent(limit)
