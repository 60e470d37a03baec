"""Read models of the `/ui` dashboard: bounded queries that stay fast on a million calls.

Charts read per-minute and per-hour aggregates (by model, key and workload, with a latency
histogram; see `aggregates.py`), never the calls table; lists page through calls by
`(created_at, id)` with an index and a page size cap. Each backend keeps the aggregates its
own way (SQLite: summed in each process; PostgreSQL: folded from committed calls by one
replica at a time), and both answer the same questions with the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mixstack.store.aggregates import LATENCY_BOUNDS_MS

__all__ = [
    "CALL_PAGE_COLUMNS",
    "MAX_PAGE",
    "CallFilter",
    "DashboardRepository",
    "GroupBy",
    "percentiles",
]

GroupBy = Literal["model", "caller", "workload"]
MAX_PAGE = 200
#: the columns of a call in a page of the log (the prompt and response stay out)
CALL_PAGE_COLUMNS = (
    "id",
    "request_id",
    "created_at",
    "model",
    "provider",
    "locality",
    "endpoint",
    "workload",
    "caller",
    "front_door",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "finish_reason",
    "error",
    "error_type",
    "route",
    "policy",
    "pii",
    "redacted",
    "abuse",
)


@dataclass(frozen=True, slots=True)
class CallFilter:
    caller: str | None = None
    workload: str | None = None
    model: str | None = None
    flagged: bool = False
    errors: bool = False


class DashboardRepository(Protocol):
    def totals(self, span: int, since_period: int) -> dict[str, Any]:
        """Sums since a period (of `span` seconds): requests, errors, prompt_tokens,
        completion_tokens, cost_usd, flagged. Calls committed so far count."""

    def series(
        self, span: int, since_period: int, step: int, group_by: GroupBy
    ) -> list[dict[str, Any]]:
        """Per step (of `step` periods) and group (`grp`): requests, errors, tokens,
        cost_usd, latency_ms (summed), flagged."""

    def latency(
        self, span: int, since_period: int, step: int | None = None
    ) -> list[dict[str, Any]]:
        """p50 and p99 (the upper bound of the histogram bucket) with `requests`, per step
        (`group` = the step) or, without a step, per model (`group` = the model)."""

    def calls(
        self, where: CallFilter, *, before: tuple[float, int] | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Calls newest first (`CALL_PAGE_COLUMNS`, `redacted` as 0 or 1), `limit` at a time
        (at most `MAX_PAGE`); `before` is the (created_at, id) of the previous page's last row
        (keyset paging: page 10,000 costs what page 1 does)."""

    def eval_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Eval runs, newest first."""

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        """Agent traces, newest first."""

    def trace(self, trace_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """A trace's row and its steps in order; (None, []) if there is no such trace."""


def percentiles(rows: Iterable[tuple[Any, int, int]]) -> list[dict[str, Any]]:
    """p50/p99 per group from (group, bucket, count) rows ordered by group, then bucket."""
    groups: dict[Any, list[tuple[int, int]]] = {}
    for group, bucket, n in rows:
        groups.setdefault(group, []).append((int(bucket), int(n)))
    out = []
    for group, buckets in groups.items():
        total = sum(n for _, n in buckets)
        out.append(
            {
                "group": group,
                "requests": total,
                "p50_ms": _quantile(buckets, total, 0.50),
                "p99_ms": _quantile(buckets, total, 0.99),
            }
        )
    return out


def _quantile(buckets: list[tuple[int, int]], total: int, q: float) -> float:
    seen = 0
    for bucket, n in buckets:
        seen += n
        if seen >= q * total:
            return float(LATENCY_BOUNDS_MS[min(bucket, len(LATENCY_BOUNDS_MS) - 1)])
    return float(LATENCY_BOUNDS_MS[-1])
