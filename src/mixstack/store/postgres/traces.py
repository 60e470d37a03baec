"""Agent traces on PostgreSQL: queued writes through the engine's writer thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.traces import STEP_COLUMNS

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgTraces"]

_INSERT_STEP = (
    f"INSERT INTO trace_steps ({', '.join(STEP_COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in STEP_COLUMNS)})"
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


class PgTraces:
    def __init__(self, engine: PgEngine):
        self._db = engine

    def start(self, trace_id: str, created_at: float, task: str, kind: str, workload: str) -> None:
        self._db.submit(
            "INSERT INTO traces (id, created_at, task, kind, workload) VALUES (%s, %s, %s, %s, %s)",
            (trace_id, created_at, task, kind, workload),
        )

    def add_step(self, step: dict[str, Any]) -> None:
        self._db.submit(_INSERT_STEP, tuple(step.get(c) for c in STEP_COLUMNS))

    def finish(self, trace_id: str, values: dict[str, Any]) -> None:
        unknown = set(values) - set(_FINISH_COLUMNS)
        if unknown:
            raise ValueError(f"not a closing column of a trace: {sorted(unknown)}")
        columns = [c for c in _FINISH_COLUMNS if c in values]
        self._db.submit(
            f"UPDATE traces SET {', '.join(c + ' = %s' for c in columns)} WHERE id = %s",
            (*(values[c] for c in columns), trace_id),
        )

    def get(self, trace_id: str) -> dict[str, Any] | None:
        if trace_id == "last":
            return self._db.query_one("SELECT * FROM traces ORDER BY created_at DESC LIMIT 1")
        row = self._db.query_one("SELECT * FROM traces WHERE id = %s", (trace_id,))
        if row is None and len(trace_id) >= 6:
            matches = self._db.query(
                "SELECT * FROM traces WHERE starts_with(id, %s) LIMIT 2", (trace_id,)
            )
            row = matches[0] if len(matches) == 1 else None
        return row

    def steps(self, trace_id: str) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT * FROM trace_steps WHERE trace_id = %s ORDER BY seq", (trace_id,)
        )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT id, created_at, kind, workload, stopped, steps, cost_usd, task FROM traces "
            "ORDER BY created_at DESC LIMIT %s",
            (limit,),
        )
