"""Per-minute and per-hour call aggregates, summed in memory and written in batches.

Every recorded call adds to six cells (minute and hour × model, key, workload) and to four
latency-histogram cells (its model's and all models', per minute and hour); the touched
cells are upserted (`+=`) at most once a second and at every `SQLiteStore.flush()`/`close()`.
Each process adds its own calls, so several gateway workers and the CLI sharing one
database still sum correctly. (An insert trigger did the same in SQL and made inserts ten
times slower.)
"""

from __future__ import annotations

import bisect
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixstack.store.calls import CallRecord
    from mixstack.store.db import SQLiteStore

__all__ = ["ALL_MODELS", "LATENCY_BOUNDS_MS", "SPANS", "CallAggregates", "aggregates_of"]

#: upper bounds of the latency histogram buckets; bucket len(bounds) is open-ended
LATENCY_BOUNDS_MS = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000,
    3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000, 120000,
)  # fmt: skip
SPANS = (60, 3600)
#: the latency histogram's row for all models together (charts over time read only these)
ALL_MODELS = "*"
_FLUSH_S = 1.0
_STATS_UPSERT = (
    "INSERT INTO call_stats (span, period, dim, value, requests, errors, prompt_tokens, "
    "completion_tokens, cost_usd, latency_ms, flagged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (span, dim, period, value) DO UPDATE SET requests = requests + "
    "excluded.requests, errors = errors + excluded.errors, prompt_tokens = prompt_tokens + "
    "excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, "
    "cost_usd = cost_usd + excluded.cost_usd, latency_ms = latency_ms + excluded.latency_ms, "
    "flagged = flagged + excluded.flagged"
)
_LATENCY_UPSERT = (
    "INSERT INTO call_latency (span, period, model, bucket, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (span, period, model, bucket) DO UPDATE SET n = n + excluded.n"
)

_Cell = tuple[int, int, str, str]  # span, period, dim, value


class CallAggregates:
    def __init__(self, store: SQLiteStore):
        self._store = store
        self._lock = threading.Lock()
        self._stats: dict[_Cell, list[float]] = {}
        self._latency: dict[tuple[int, int, str, int], int] = {}
        self._last = time.monotonic()

    def add(self, rec: CallRecord) -> None:
        bucket = bisect.bisect_right(LATENCY_BOUNDS_MS, rec.latency_ms)
        error = 1.0 if rec.error is not None else 0.0
        flagged = 1.0 if rec.abuse is not None else 0.0
        with self._lock:
            for span in SPANS:
                period = int(rec.created_at // span)
                for dim, value in (
                    ("model", rec.model),
                    ("caller", rec.caller),
                    ("workload", rec.workload),
                ):
                    cell = self._stats.get((span, period, dim, value))
                    if cell is None:
                        cell = self._stats[(span, period, dim, value)] = [0.0] * 7
                    cell[0] += 1
                    cell[1] += error
                    cell[2] += rec.prompt_tokens
                    cell[3] += rec.completion_tokens
                    cell[4] += rec.cost_usd
                    cell[5] += rec.latency_ms
                    cell[6] += flagged
                for model in (rec.model, ALL_MODELS):
                    key = (span, period, model, bucket)
                    self._latency[key] = self._latency.get(key, 0) + 1
        if time.monotonic() - self._last >= _FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Queue the touched cells' upserts (committed by the store's writer)."""
        with self._lock:
            stats, self._stats = self._stats, {}
            latency, self._latency = self._latency, {}
            self._last = time.monotonic()
        if stats:
            self._store.write_many(
                _STATS_UPSERT,
                [(s, p, d, v, int(c[0]), int(c[1]), int(c[2]), int(c[3]), c[4], c[5], int(c[6]))
                 for (s, p, d, v), c in stats.items()],
            )  # fmt: skip
        if latency:
            self._store.write_many(
                _LATENCY_UPSERT, [(s, p, m, b, n) for (s, p, m, b), n in latency.items()]
            )


_BY_STORE: weakref.WeakKeyDictionary[SQLiteStore, CallAggregates] = weakref.WeakKeyDictionary()
_CREATE = threading.Lock()


def aggregates_of(store: SQLiteStore) -> CallAggregates:
    """The store's aggregates (one per store object, flushed with it)."""
    found = _BY_STORE.get(store)
    if found is None:
        with _CREATE:
            found = _BY_STORE.get(store)
            if found is None:
                found = _BY_STORE[store] = CallAggregates(store)
                store.on_flush(found.flush)
    return found
