"""Traces to audit, from a JSONL file: one object per line with `question` and `output`,
optionally `id` (else the line number), `reference`, `context`, `expected`, `reasoning`
and `model` (summaries are then given per model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mixstack.errors import InvalidRequestError

__all__ = ["TraceInput", "load_traces"]

_OPTIONAL = ("reference", "context", "expected", "reasoning", "model")


@dataclass(frozen=True, slots=True)
class TraceInput:
    id: str
    question: str
    output: str
    reference: str | None = None
    context: str | None = None
    expected: str | None = None
    reasoning: str | None = None
    model: str | None = None


def load_traces(path: Path) -> list[TraceInput]:
    if not path.is_file():
        raise InvalidRequestError(f"trace file {str(path)!r} does not exist; check the path.")
    traces: list[TraceInput] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        trace = _parse_line(path, number, line)
        if trace.id in seen:
            raise InvalidRequestError(
                f"{path}:{number}: duplicate id {trace.id!r}; give every trace its own id."
            )
        seen.add(trace.id)
        traces.append(trace)
    if not traces:
        raise InvalidRequestError(
            f"{path} has no traces; write one JSON object per line with `question` and `output`."
        )
    return traces


def _parse_line(path: Path, number: int, line: str) -> TraceInput:
    where = f"{path}:{number}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
            "write one JSON object per line."
        ) from exc
    if not isinstance(obj, dict):
        raise InvalidRequestError(
            f"{where}: expected a JSON object with `question` and `output`, "
            f"got {type(obj).__name__}; write one object per line."
        )
    for name in ("question", "output"):
        if not isinstance(obj.get(name), str):
            raise InvalidRequestError(
                f"{where}: missing or non-string field `{name}`; every trace needs "
                "`question` and `output` as strings."
            )
    extras: dict[str, str | None] = {}
    for name in _OPTIONAL:
        value = obj.get(name)
        if value is not None and not isinstance(value, str | int | float):
            raise InvalidRequestError(f"{where}: field `{name}` must be a string; fix the line.")
        extras[name] = None if value is None else str(value)
    raw_id = obj.get("id")
    trace_id = str(raw_id) if raw_id is not None and raw_id != "" else str(number)
    return TraceInput(id=trace_id, question=obj["question"], output=obj["output"], **extras)
