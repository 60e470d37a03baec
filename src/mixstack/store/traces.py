"""Agent traces as stored: one row per run, one per step (columns as JSON-ready values)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["STEP_COLUMNS", "TraceRepository"]

STEP_COLUMNS = (
    "trace_id",
    "seq",
    "created_at",
    "agent",
    "kind",
    "model",
    "request_id",
    "route",
    "messages_digest",
    "tool",
    "arguments",
    "decision",
    "ok",
    "output_digest",
    "preview",
    "findings",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "detail",
)


class TraceRepository(Protocol):
    """Writes are queued (never waited on by an agent step); `flush` commits them."""

    def start(
        self, trace_id: str, created_at: float, task: str, kind: str, workload: str
    ) -> None: ...

    def add_step(self, step: dict[str, Any]) -> None:
        """One step row keyed by `STEP_COLUMNS` (JSON columns already encoded)."""

    def finish(self, trace_id: str, values: dict[str, Any]) -> None:
        """Set the run's closing columns (finished_at, stopped, result, tokens, …)."""

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """The trace row by id, `last` for the newest, or a unique id prefix (6+ chars)."""

    def steps(self, trace_id: str) -> list[dict[str, Any]]:
        """The steps of a trace in order."""

    def recent(self, limit: int = 20) -> list[dict[str, Any]]: ...
