"""Eval runs on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixstack.store.runs import EvalRunRow

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgRuns"]

_SAVE = (
    "INSERT INTO eval_runs (id, suite, suite_path, fingerprint, workload, models, out_dir, "
    "status, started_at, finished_at, summary) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
    "finished_at = excluded.finished_at, summary = excluded.summary"
)


class PgRuns:
    def __init__(self, engine: PgEngine):
        self._db = engine

    def save(self, row: EvalRunRow, *, wait: bool = True) -> None:
        values = (
            row.id,
            row.suite,
            row.suite_path,
            row.fingerprint,
            row.workload,
            row.models_json,
            row.out_dir,
            row.status,
            row.started_at,
            row.finished_at,
            row.summary_json,
        )
        if wait:
            self._db.flush()  # what was queued before (the run's calls) commits first
            self._db.execute(_SAVE, values)
        else:
            self._db.submit(_SAVE, values)

    def latest_unfinished(self, suite_path: str, fingerprint: str) -> str | None:
        row = self._db.query_one(
            "SELECT out_dir FROM eval_runs WHERE suite_path = %s AND fingerprint = %s "
            "AND status != 'finished' ORDER BY started_at DESC LIMIT 1",
            (suite_path, fingerprint),
        )
        return str(row["out_dir"]) if row is not None else None

    def out_dir(self, run_id: str) -> str | None:
        row = self._db.query_one("SELECT out_dir FROM eval_runs WHERE id = %s", (run_id,))
        return str(row["out_dir"]) if row is not None else None
