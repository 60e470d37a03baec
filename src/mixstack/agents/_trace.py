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
from mixstack.store.traces import STEP_COLUMNS

__all__ = ["TraceRecorder", "TraceStep", "digest", "load_trace", "recent_traces"]

_PREVIEW = 600

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
            store.traces.start(
                self.id, self._created, task if store_content else digest(task), kind, workload
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
            row = {c: getattr(step, c, None) for c in STEP_COLUMNS if c != "trace_id"}
            row["trace_id"] = self.id
            row["ok"] = None if step.ok is None else int(step.ok)
            for column in _JSON_COLUMNS:
                value = row[column]
                row[column] = None if value in (None, {}, []) else json.dumps(value, default=str)
            self._store.traces.add_step(row)
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
        self._store.traces.finish(
            self.id,
            {
                "finished_at": now,
                "stopped": stopped,
                "result": result if self._content else digest(result),
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost_usd,
                "steps": len(self.steps),
                "wall_ms": (now - self._created) * 1000,
                "budget": json.dumps(budget),
            },
        )
        self._store.flush()


def load_trace(store: Store, trace_id: str) -> dict[str, Any] | None:
    """The trace and its steps as JSON-ready dicts; `last` names the newest trace."""
    trace = store.traces.get(trace_id)
    if trace is None:
        return None
    if trace.get("budget"):
        trace["budget"] = json.loads(trace["budget"])
    steps = []
    for step in store.traces.steps(trace["id"]):
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
    return store.traces.recent(limit)
