"""The dashboard's read models on PostgreSQL: aggregates folded from every replica's
committed calls (`fold.py`), keyset pages of the calls table, runs and traces.

A page first commits this process's queued rows and folds what is committed, so it shows
every call committed so far across replicas (at most `_FOLD_PER_PAGE` calls are folded by
a page; a larger backlog, after migrating a big log say, is left to the background sealer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.aggregates import ALL_MODELS
from mixstack.store.dashboard import CALL_PAGE_COLUMNS, MAX_PAGE, CallFilter, GroupBy, percentiles

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine
    from mixstack.store.postgres.fold import CallFold

__all__ = ["PgDashboard"]

_FOLD_PER_PAGE = 50_000
_CALL_PAGE = "SELECT {} FROM calls".format(
    ", ".join("redacted::int AS redacted" if c == "redacted" else c for c in CALL_PAGE_COLUMNS)
)


class PgDashboard:
    def __init__(self, engine: PgEngine, fold: CallFold):
        self._db = engine
        self._fold = fold

    def totals(self, span: int, since_period: int) -> dict[str, Any]:
        self._db.flush()
        self._fold.catch_up(most=_FOLD_PER_PAGE)
        row = self._db.query_one(
            "SELECT COALESCE(SUM(requests), 0)::bigint AS requests, "
            "COALESCE(SUM(errors), 0)::bigint AS errors, "
            "COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens, "
            "COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens, "
            "COALESCE(SUM(cost_usd), 0)::float8 AS cost_usd, "
            "COALESCE(SUM(flagged), 0)::bigint AS flagged "
            "FROM call_stats WHERE span = %s AND dim = 'model' AND period >= %s",
            (span, since_period),
        )
        return dict(row) if row else {}

    def series(
        self, span: int, since_period: int, step: int, group_by: GroupBy
    ) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT (period / %(step)s) * %(step)s AS step, value AS grp, "
            "SUM(requests)::bigint AS requests, SUM(errors)::bigint AS errors, "
            "SUM(prompt_tokens + completion_tokens)::bigint AS tokens, "
            "SUM(cost_usd)::float8 AS cost_usd, SUM(latency_ms)::float8 AS latency_ms, "
            "SUM(flagged)::bigint AS flagged FROM call_stats "
            "WHERE span = %(span)s AND dim = %(dim)s AND period >= %(since)s "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            {"step": step, "span": span, "dim": group_by, "since": since_period},
        )

    def latency(
        self, span: int, since_period: int, step: int | None = None
    ) -> list[dict[str, Any]]:
        if step:
            rows = self._db.query(
                "SELECT (period / %(step)s) * %(step)s AS grp, bucket, SUM(n)::bigint AS n "
                "FROM call_latency WHERE span = %(span)s AND model = %(all)s "
                "AND period >= %(since)s GROUP BY 1, 2 ORDER BY 1, 2",
                {"step": step, "span": span, "all": ALL_MODELS, "since": since_period},
            )
        else:
            rows = self._db.query(
                "SELECT model AS grp, bucket, SUM(n)::bigint AS n FROM call_latency "
                "WHERE span = %s AND period >= %s AND model <> %s GROUP BY 1, 2 ORDER BY 1, 2",
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
                clauses.append(f"{column} = %s")
                params.append(value)
        if where.flagged:
            clauses.append("abuse IS NOT NULL")
        if where.errors:
            clauses.append("error IS NOT NULL")
        if before is not None:
            clauses.append("(created_at, id) < (%s, %s)")
            params.extend([before[0], before[1]])
        sql = _CALL_PAGE
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
        return self._db.query(sql, (*params, max(1, min(limit, MAX_PAGE))))

    def eval_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT id, suite, suite_path, workload, models, out_dir, status, started_at, "
            "finished_at, summary FROM eval_runs ORDER BY started_at DESC LIMIT %s",
            (max(1, min(limit, MAX_PAGE)),),
        )

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT id, created_at, finished_at, task, kind, workload, stopped, prompt_tokens, "
            "completion_tokens, cost_usd, steps, wall_ms FROM traces "
            "ORDER BY created_at DESC LIMIT %s",
            (max(1, min(limit, MAX_PAGE)),),
        )

    def trace(self, trace_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        head = self._db.query_one("SELECT * FROM traces WHERE id = %s", (trace_id,))
        if head is None:
            return None, []
        steps = self._db.query(
            "SELECT seq, created_at, agent, kind, model, tool, decision, ok, preview, findings, "
            "error, prompt_tokens, completion_tokens, cost_usd, latency_ms FROM trace_steps "
            "WHERE trace_id = %s ORDER BY seq LIMIT 2000",
            (trace_id,),
        )
        return head, steps
