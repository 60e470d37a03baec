"""Agent traces on SQLite: queued writes through the store's writer thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.traces import STEP_COLUMNS

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteTraces"]

_INSERT_STEP = (
    f"INSERT INTO trace_steps ({', '.join(STEP_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in STEP_COLUMNS)})"
)
_FINISH_COLUMNS = (
    "finished_at",
    "stopped",
    "result",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "steps",
    "wall_ms",
    "budget",
)


class SQLiteTraces:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def start(self, trace_id: str, created_at: float, task: str, kind: str, workload: str) -> None:
        self._store.submit(
            "INSERT INTO traces (id, created_at, task, kind, workload) VALUES (?, ?, ?, ?, ?)",
            (trace_id, created_at, task, kind, workload),
        )

    def add_step(self, step: dict[str, Any]) -> None:
        self._store.submit(_INSERT_STEP, {c: step.get(c) for c in STEP_COLUMNS})

    def finish(self, trace_id: str, values: dict[str, Any]) -> None:
        unknown = set(values) - set(_FINISH_COLUMNS)
        if unknown:
            raise ValueError(f"not a closing column of a trace: {sorted(unknown)}")
        columns = [c for c in _FINISH_COLUMNS if c in values]
        self._store.submit(
            f"UPDATE traces SET {', '.join(c + ' = ?' for c in columns)} WHERE id = ?",
            (*(values[c] for c in columns), trace_id),
        )

    def get(self, trace_id: str) -> dict[str, Any] | None:
        if trace_id == "last":
            row = self._store.query_one("SELECT * FROM traces ORDER BY created_at DESC LIMIT 1")
        else:
            row = self._store.query_one("SELECT * FROM traces WHERE id = ?", (trace_id,))
            if row is None and len(trace_id) >= 6:
                matches = self._store.query(
                    "SELECT * FROM traces WHERE id LIKE ? LIMIT 2",
                    (trace_id.replace("%", "") + "%",),
                )
                row = matches[0] if len(matches) == 1 else None
        return dict(row) if row is not None else None

    def steps(self, trace_id: str) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT * FROM trace_steps WHERE trace_id = ? ORDER BY seq", (trace_id,)
        )
        return [dict(r) for r in rows]

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT id, created_at, kind, workload, stopped, steps, cost_usd, task FROM traces "
            "ORDER BY created_at DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]
