"""Per-minute and per-hour call aggregates, summed in memory and written in batches.

Every call adds to six cells (minute and hour × model, key, workload) and to four
latency-histogram cells (its model's and all models', per minute and hour); `Cells` sums
them for a set of calls, and the touched cells are upserted (`+=`). On SQLite each process
adds its own calls as it records them (`CallAggregates`: about once a second, and at every
`SQLiteStore.flush()`/`close()`), so several gateway workers and the CLI sharing one
database still sum correctly (an insert trigger did the same in SQL and made inserts ten
times slower); PostgreSQL folds committed calls in (`postgres/fold.py`).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixstack.store.calls import CallRecord
    from mixstack.store.db import SQLiteStore

__all__ = ["ALL_MODELS", "LATENCY_BOUNDS_MS", "SPANS", "CallAggregates", "Cells", "aggregates_of"]

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


class Cells:
    """The aggregate cells some calls add to, summed; rows to upsert come out sorted (one
    lock order for every writer)."""

    __slots__ = ("latency", "stats")

    def __init__(self) -> None:
        self.stats: dict[_Cell, list[float]] = {}
        self.latency: dict[tuple[int, int, str, int], int] = {}

    def __bool__(self) -> bool:
        return bool(self.stats or self.latency)

    def add(
        self,
        created_at: float,
        model: str,
        caller: str,
        workload: str,
        *,
        error: bool,
        flagged: bool,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        latency_ms: float,
    ) -> None:
        bucket = bisect.bisect_right(LATENCY_BOUNDS_MS, latency_ms)
        errors = 1.0 if error else 0.0
        flags = 1.0 if flagged else 0.0
        for span in SPANS:
            period = int(created_at // span)
            for dim, value in (("model", model), ("caller", caller), ("workload", workload)):
                cell = self.stats.get((span, period, dim, value))
                if cell is None:
                    cell = self.stats[(span, period, dim, value)] = [0.0] * 7
                cell[0] += 1
                cell[1] += errors
                cell[2] += prompt_tokens
                cell[3] += completion_tokens
                cell[4] += cost_usd
                cell[5] += latency_ms
                cell[6] += flags
            for each in (model, ALL_MODELS):
                key = (span, period, each, bucket)
                self.latency[key] = self.latency.get(key, 0) + 1

    def stats_rows(self) -> list[tuple[int, int, str, str, int, int, int, int, float, float, int]]:
        """(span, period, dim, value, requests, errors, prompt_tokens, completion_tokens,
        cost_usd, latency_ms, flagged) per cell."""
        return [
            (s, p, d, v, int(c[0]), int(c[1]), int(c[2]), int(c[3]), c[4], c[5], int(c[6]))
            for (s, p, d, v), c in sorted(self.stats.items())
        ]

    def latency_rows(self) -> list[tuple[int, int, str, int, int]]:
        """(span, period, model, bucket, n) per histogram cell."""
        return [(s, p, m, b, n) for (s, p, m, b), n in sorted(self.latency.items())]


class CallAggregates:
    def __init__(self, store: SQLiteStore):
        self._store = store
        self._lock = threading.Lock()
        self._cells = Cells()
        self._last = time.monotonic()
        self._timer: threading.Timer | None = None

    def add(self, rec: CallRecord) -> None:
        with self._lock:
            self._cells.add(
                rec.created_at,
                rec.model,
                rec.caller,
                rec.workload,
                error=rec.error is not None,
                flagged=rec.abuse is not None,
                prompt_tokens=rec.prompt_tokens,
                completion_tokens=rec.completion_tokens,
                cost_usd=rec.cost_usd,
                latency_ms=rec.latency_ms,
            )
            due = time.monotonic() - self._last >= _FLUSH_S
            if not due and self._timer is None:
                # a process gone quiet writes its last calls' cells a second later too, so
                # the other workers' dashboards count them without waiting for its next call
                self._timer = threading.Timer(_FLUSH_S, self._flush_later)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def _flush_later(self) -> None:
        with self._lock:
            self._timer = None
        # RuntimeError: the store closed meanwhile (and flushed these cells then)
        with contextlib.suppress(RuntimeError):
            self.flush()

    def flush(self) -> None:
        """Queue the touched cells' upserts (committed by the store's writer)."""
        with self._lock:
            cells, self._cells = self._cells, Cells()
            self._last = time.monotonic()
        if cells.stats:
            self._store.write_many(_STATS_UPSERT, list(cells.stats_rows()))
        if cells.latency:
            self._store.write_many(_LATENCY_UPSERT, list(cells.latency_rows()))


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
