"""The dashboard's read models on SQLite: the aggregate tables each process adds to, and
keyset pages of the calls table (indexes `calls_created_at`, `calls_caller`,
`calls_workload`, `calls_flagged`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.aggregates import ALL_MODELS, aggregates_of
from mixstack.store.dashboard import CALL_PAGE_COLUMNS, MAX_PAGE, CallFilter, GroupBy, percentiles

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteDashboard"]

_CALL_PAGE = f"SELECT {', '.join(CALL_PAGE_COLUMNS)} FROM calls"


class SQLiteDashboard:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def totals(self, span: int, since_period: int) -> dict[str, Any]:
        # this process's calls not added yet, then everything queued: the sums are current
        aggregates_of(self._store).flush()
        self._store.flush()
        row = self._store.query_one(
            "SELECT COALESCE(SUM(requests), 0) AS requests, COALESCE(SUM(errors), 0) AS errors, "
            "COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, "
            "COALESCE(SUM(completion_tokens), 0) AS completion_tokens, "
            "COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(flagged), 0) AS flagged "
            "FROM call_stats WHERE span = ? AND dim = 'model' AND period >= ?",
            (span, since_period),
        )
        return dict(row) if row else {}

    def series(
        self, span: int, since_period: int, step: int, group_by: GroupBy
    ) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT (period / ?) * ? AS step, value AS grp, SUM(requests) AS requests, "
            "SUM(errors) AS errors, SUM(prompt_tokens + completion_tokens) AS tokens, "
            "SUM(cost_usd) AS cost_usd, SUM(latency_ms) AS latency_ms, SUM(flagged) AS flagged "
            "FROM call_stats WHERE span = ? AND dim = ? AND period >= ? GROUP BY step, grp "
            "ORDER BY step, grp",
            (step, step, span, group_by, since_period),
        )
        return [dict(r) for r in rows]

    def latency(
        self, span: int, since_period: int, step: int | None = None
    ) -> list[dict[str, Any]]:
        if step:
            rows = self._store.query(
                "SELECT (period / ?) * ? AS grp, bucket, SUM(n) AS n FROM call_latency "
                "WHERE span = ? AND model = ? AND period >= ? GROUP BY grp, bucket "
                "ORDER BY grp, bucket",
                (step, step, span, ALL_MODELS, since_period),
            )
        else:
            rows = self._store.query(
                "SELECT model AS grp, bucket, SUM(n) AS n FROM call_latency WHERE span = ? AND "
                "period >= ? AND model != ? GROUP BY grp, bucket ORDER BY grp, bucket",
                (span, since_period, ALL_MODELS),
            )
        return percentiles((r["grp"], r["bucket"], r["n"]) for r in rows)

    def calls(
        self, where: CallFilter, *, before: tuple[float, int] | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
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
        sql = _CALL_PAGE
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._store.query(sql, (*params, max(1, min(limit, MAX_PAGE))))
        return [dict(r) for r in rows]

    def eval_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT id, suite, suite_path, workload, models, out_dir, status, started_at, "
            "finished_at, summary FROM eval_runs ORDER BY started_at DESC LIMIT ?",
            (max(1, min(limit, MAX_PAGE)),),
        )
        return [dict(r) for r in rows]

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT id, created_at, finished_at, task, kind, workload, stopped, prompt_tokens, "
            "completion_tokens, cost_usd, steps, wall_ms FROM traces "
            "ORDER BY created_at DESC LIMIT ?",
            (max(1, min(limit, MAX_PAGE)),),
        )
        return [dict(r) for r in rows]

    def trace(self, trace_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        head = self._store.query_one("SELECT * FROM traces WHERE id = ?", (trace_id,))
        if head is None:
            return None, []
        steps = self._store.query(
            "SELECT seq, created_at, agent, kind, model, tool, decision, ok, preview, findings, "
            "error, prompt_tokens, completion_tokens, cost_usd, latency_ms FROM trace_steps "
            "WHERE trace_id = ? ORDER BY seq LIMIT 2000",
            (trace_id,),
        )
        return dict(head), [dict(s) for s in steps]
