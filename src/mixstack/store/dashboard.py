"""Read models of the `/ui` dashboard: bounded queries that stay fast on a million calls.

Charts read the per-minute and per-hour aggregates (`call_stats`, `call_latency`, see
`aggregates.py`), never the calls table; lists page through calls by `(created_at, id)` with
an index (`calls_created_at`, `calls_caller`, `calls_workload`, `calls_flagged`) and a page
size cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mixstack.store.aggregates import ALL_MODELS, LATENCY_BOUNDS_MS, aggregates_of
from mixstack.store.base import Store
from mixstack.store.db import sqlite_of

__all__ = [
    "CallFilter",
    "call_page",
    "eval_runs",
    "latency_percentiles",
    "overview_series",
    "overview_totals",
    "trace_steps",
    "traces_page",
]

_WHAT = "the dashboard"

GroupBy = Literal["model", "caller", "workload"]
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class CallFilter:
    caller: str | None = None
    workload: str | None = None
    model: str | None = None
    flagged: bool = False
    errors: bool = False


def overview_totals(store: Store, span: int, since_period: int) -> dict[str, Any]:
    """Sums over the window (one dimension's cells add up to the whole)."""
    db = sqlite_of(store, _WHAT)
    aggregates_of(db).flush()
    db.flush()
    row = db.query_one(
        "SELECT COALESCE(SUM(requests), 0) AS requests, COALESCE(SUM(errors), 0) AS errors, "
        "COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, "
        "COALESCE(SUM(completion_tokens), 0) AS completion_tokens, "
        "COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(flagged), 0) AS flagged "
        "FROM call_stats WHERE span = ? AND dim = 'model' AND period >= ?",
        (span, since_period),
    )
    return dict(row) if row else {}


def overview_series(
    store: Store, span: int, since_period: int, step: int, group_by: GroupBy
) -> list[dict[str, Any]]:
    """Per step (of `step` periods) and group: requests, errors, tokens, cost, latency, flags."""
    db = sqlite_of(store, _WHAT)
    rows = db.query(
        "SELECT (period / ?) * ? AS step, value AS grp, SUM(requests) AS requests, "
        "SUM(errors) AS errors, SUM(prompt_tokens + completion_tokens) AS tokens, "
        "SUM(cost_usd) AS cost_usd, SUM(latency_ms) AS latency_ms, SUM(flagged) AS flagged "
        "FROM call_stats WHERE span = ? AND dim = ? AND period >= ? GROUP BY step, grp "
        "ORDER BY step",
        (step, step, span, group_by, since_period),
    )
    return [dict(r) for r in rows]


def latency_percentiles(
    store: Store, span: int, since_period: int, step: int | None = None
) -> list[dict[str, Any]]:
    """p50 and p99 (upper bound of the histogram bucket) per step, or per model if no step."""
    db = sqlite_of(store, _WHAT)
    if step:
        rows = db.query(
            "SELECT (period / ?) * ? AS grp, bucket, SUM(n) AS n FROM call_latency "
            "WHERE span = ? AND model = ? AND period >= ? GROUP BY grp, bucket "
            "ORDER BY grp, bucket",
            (step, step, span, ALL_MODELS, since_period),
        )
    else:
        rows = db.query(
            "SELECT model AS grp, bucket, SUM(n) AS n FROM call_latency WHERE span = ? AND "
            "period >= ? AND model != ? GROUP BY grp, bucket ORDER BY grp, bucket",
            (span, since_period, ALL_MODELS),
        )
    groups: dict[Any, list[tuple[int, int]]] = {}
    for row in rows:
        groups.setdefault(row["grp"], []).append((row["bucket"], row["n"]))
    out = []
    for grp, buckets in groups.items():
        total = sum(n for _, n in buckets)
        out.append(
            {
                "group": grp,
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


def call_page(
    store: Store,
    where: CallFilter,
    *,
    before: tuple[float, int] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Calls newest first, `limit` at a time; `before` is the (created_at, id) of the last row
    of the previous page (keyset paging: the same cost on page 1 and page 10,000)."""
    db = sqlite_of(store, _WHAT)
    clauses, params = [], []
    for column in ("caller", "workload", "model"):
        value = getattr(where, column)
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.flagged:
        clauses.append("abuse IS NOT NULL")
    if where.errors:
        clauses.append("error IS NOT NULL")
    if before is not None:
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        params.extend([before[0], before[0], before[1]])
    sql = (
        "SELECT id, request_id, created_at, model, provider, locality, endpoint, workload, "
        "caller, front_door, prompt_tokens, completion_tokens, cost_usd, latency_ms, "
        "finish_reason, error, error_type, route, policy, pii, redacted, abuse FROM calls"
    )
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    rows = db.query(sql, (*params, max(1, min(limit, MAX_PAGE))))
    return [dict(r) for r in rows]


def eval_runs(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    db = sqlite_of(store, _WHAT)
    rows = db.query(
        "SELECT id, suite, suite_path, workload, models, out_dir, status, started_at, "
        "finished_at, summary FROM eval_runs ORDER BY started_at DESC LIMIT ?",
        (min(limit, MAX_PAGE),),
    )
    return [dict(r) for r in rows]


def traces_page(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    db = sqlite_of(store, _WHAT)
    rows = db.query(
        "SELECT id, created_at, finished_at, task, kind, workload, stopped, prompt_tokens, "
        "completion_tokens, cost_usd, steps, wall_ms FROM traces "
        "ORDER BY created_at DESC LIMIT ?",
        (min(limit, MAX_PAGE),),
    )
    return [dict(r) for r in rows]


def trace_steps(store: Store, trace_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    db = sqlite_of(store, _WHAT)
    head = db.query_one("SELECT * FROM traces WHERE id = ?", (trace_id,))
    if head is None:
        return None, []
    steps = db.query(
        "SELECT seq, created_at, agent, kind, model, tool, decision, ok, preview, findings, "
        "error, prompt_tokens, completion_tokens, cost_usd, latency_ms FROM trace_steps "
        "WHERE trace_id = ? ORDER BY seq LIMIT 2000",
        (trace_id,),
    )
    return dict(head), [dict(s) for s in steps]
