"""Traces: one row per agent run and one per step, written through the store's writer thread.

A step is a model call (model, route, digest of the messages sent, tokens, cost, latency), a
tool call (arguments, permission decision, output digest, injection findings), or a handoff,
plan, critique or stop. Text previews are kept only when `store_content` is on; digests are
always kept, so two runs can be compared without storing what was said.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mixstack.store import Store

__all__ = ["TraceRecorder", "TraceStep", "digest", "load_trace", "recent_traces"]

_PREVIEW = 600

_STEP_COLUMNS = (
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
_INSERT_STEP = (
    f"INSERT INTO trace_steps ({', '.join(_STEP_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _STEP_COLUMNS)})"
)
_JSON_COLUMNS = ("route", "arguments", "decision", "findings", "detail")


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class TraceStep:
    kind: str
    agent: str = ""
    model: str | None = None
    request_id: str | None = None
    route: dict[str, Any] | None = None
    messages_digest: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    ok: bool | None = None
    output_digest: str | None = None
    preview: str | None = None
    findings: list[dict[str, Any]] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    created_at: float = 0.0


class TraceRecorder:
    def __init__(
        self,
        store: Store | None,
        *,
        task: str,
        kind: str = "agent",
        workload: str = "",
        store_content: bool = True,
    ):
        self.id = "tr_" + uuid.uuid4().hex[:20]
        self.steps: list[TraceStep] = []
        self._store = store
        self._content = store_content
        self._created = time.time()
        if store is not None:
            store.submit(
                "INSERT INTO traces (id, created_at, task, kind, workload) VALUES (?, ?, ?, ?, ?)",
                (self.id, self._created, task if store_content else digest(task), kind, workload),
            )

    def add(self, step: TraceStep) -> TraceStep:
        step.seq = len(self.steps) + 1
        step.created_at = time.time()
        if not self._content:
            step.preview = None
            if step.arguments:
                # argument names are the tool's schema; their values are content
                step.arguments = {
                    k: "sha256:" + digest(json.dumps(v, sort_keys=True, default=str))
                    for k, v in step.arguments.items()
                }
        elif step.preview is not None and len(step.preview) > _PREVIEW:
            step.preview = step.preview[:_PREVIEW] + "…"
        self.steps.append(step)
        if self._store is not None:
            row = {c: getattr(step, c, None) for c in _STEP_COLUMNS if c != "trace_id"}
            row["trace_id"] = self.id
            row["ok"] = None if step.ok is None else int(step.ok)
            for column in _JSON_COLUMNS:
                value = row[column]
                row[column] = None if value in (None, {}, []) else json.dumps(value, default=str)
            self._store.submit(_INSERT_STEP, row)
        return step

    def finish(
        self,
        *,
        stopped: str,
        result: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        budget: dict[str, Any],
    ) -> None:
        if self._store is None:
            return
        now = time.time()
        self._store.submit(
            "UPDATE traces SET finished_at = ?, stopped = ?, result = ?, prompt_tokens = ?, "
            "completion_tokens = ?, cost_usd = ?, steps = ?, wall_ms = ?, budget = ? "
            "WHERE id = ?",
            (
                now,
                stopped,
                result if self._content else digest(result),
                prompt_tokens,
                completion_tokens,
                cost_usd,
                len(self.steps),
                (now - self._created) * 1000,
                json.dumps(budget),
                self.id,
            ),
        )
        self._store.flush()


def load_trace(store: Store, trace_id: str) -> dict[str, Any] | None:
    """The trace and its steps as JSON-ready dicts; `last` names the newest trace."""
    if trace_id == "last":
        row = store.query_one("SELECT * FROM traces ORDER BY created_at DESC LIMIT 1")
    else:
        row = store.query_one("SELECT * FROM traces WHERE id = ?", (trace_id,))
        if row is None and len(trace_id) >= 6:
            matches = store.query(
                "SELECT * FROM traces WHERE id LIKE ? LIMIT 2", (trace_id.replace("%", "") + "%",)
            )
            row = matches[0] if len(matches) == 1 else None
    if row is None:
        return None
    trace = dict(row)
    if trace.get("budget"):
        trace["budget"] = json.loads(trace["budget"])
    steps = []
    for step_row in store.query(
        "SELECT * FROM trace_steps WHERE trace_id = ? ORDER BY seq", (trace["id"],)
    ):
        step = dict(step_row)
        step.pop("id", None)
        step.pop("trace_id", None)
        for column in _JSON_COLUMNS:
            if step.get(column):
                step[column] = json.loads(step[column])
        if step.get("ok") is not None:
            step["ok"] = bool(step["ok"])
        steps.append(step)
    trace["steps"] = steps
    return trace


def recent_traces(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT id, created_at, kind, workload, stopped, steps, cost_usd, task FROM traces "
        "ORDER BY created_at DESC LIMIT ?",
        (limit,),
    )
    return [dict(r) for r in rows]
