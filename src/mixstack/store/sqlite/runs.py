"""Eval runs on SQLite (the `eval_runs` table of migration 0005)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixstack.store.runs import EvalRunRow

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteRuns"]


class SQLiteRuns:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def save(self, row: EvalRunRow, *, wait: bool = True) -> None:
        done = self._store.write(
            "INSERT INTO eval_runs (id, suite, suite_path, fingerprint, workload, models, "
            "out_dir, status, started_at, finished_at, summary) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
            "finished_at = excluded.finished_at, summary = excluded.summary",
            (
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
            ),
        )
        if wait:
            done.result()

    def latest_unfinished(self, suite_path: str, fingerprint: str) -> str | None:
        row = self._store.query_one(
            "SELECT out_dir FROM eval_runs WHERE suite_path = ? AND fingerprint = ? "
            "AND status != 'finished' ORDER BY started_at DESC LIMIT 1",
            (suite_path, fingerprint),
        )
        return str(row[0]) if row is not None else None

    def out_dir(self, run_id: str) -> str | None:
        row = self._store.query_one("SELECT out_dir FROM eval_runs WHERE id = ?", (run_id,))
        return str(row[0]) if row is not None else None
