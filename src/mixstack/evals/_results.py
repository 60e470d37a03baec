"""Results on disk: one JSON line per (case, variant, model), appended as each one finishes.

A run directory holds `run.json` (what was run), `results.jsonl` (the lines) and, once done,
`summary.json`. A crash can leave half a line at the end; `ResultsFile` cuts it off when the
run resumes. A key answered twice (an error retried on resume) counts by its last line.

What reaches the file survives a crash of the process: an answer from a model is written and
flushed on its own as soon as it is scored; cached answers are written a chunk at a time, so
a crash can lose at most the chunk being scored, which a resume takes from the cache again.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Literal

from pydantic_core import PydanticSerializationError, to_json

__all__ = ["ResultKey", "ResultLine", "ResultsFile", "iter_results", "result_key"]

Status = Literal["pass", "fail", "error"]
ResultKey = tuple[str, str, str]

RESULTS = "results.jsonl"


def _encode(line: ResultLine) -> bytes:
    """One compact JSON line (pydantic's serializer: several times faster than `json`)."""
    row = line.to_json()
    try:
        return to_json(row, fallback=str, inf_nan_mode="constants") + b"\n"
    except PydanticSerializationError:  # e.g. a lone surrogate in a model's output
        return json.dumps(row, default=str).encode() + b"\n"  # escaped as ASCII


@dataclass(slots=True)
class ResultLine:
    case: str
    variant: str
    model: str
    status: Status
    score: float | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    expected: Any = None
    error: str | None = None
    error_type: str | None = None
    answered_by: str | None = None
    request_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    cached: bool = False
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dict(zip(_FIELDS, _values(self), strict=True))
        if not out["extra"]:
            del out["extra"]
        return out


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ResultLine))
_values = operator.attrgetter(*_FIELDS)


def result_key(row: dict[str, Any]) -> ResultKey:
    return (str(row["case"]), str(row["variant"]), str(row["model"]))


class ResultsFile:
    """Appends lines, flushed at once, so a crash loses at most the lines being written."""

    def __init__(self, directory: Path):
        self.path = directory / RESULTS
        directory.mkdir(parents=True, exist_ok=True)
        _cut_partial_line(self.path)
        self._fh: IO[bytes] = self.path.open("ab")

    def done_keys(self) -> set[ResultKey]:
        """Keys already answered (pass or fail); errors are tried again on resume."""
        done: set[ResultKey] = set()
        for row in iter_results(self.path):
            key = result_key(row)
            if row["status"] == "error":
                done.discard(key)
            else:
                done.add(key)
        return done

    def write(self, line: ResultLine) -> None:
        self._fh.write(_encode(line))
        self._fh.flush()

    def write_many(self, lines: list[ResultLine]) -> None:
        """Several lines in one write and one flush."""
        self._fh.write(b"".join([_encode(line) for line in lines]))
        self._fh.flush()

    def close(self) -> None:
        # flushed, not fsynced: like the store (WAL, synchronous=NORMAL), the file survives a
        # crash of the process; an fsync here cost more than a whole cached rerun of 500 cases
        if not self._fh.closed:
            self._fh.close()


def _cut_partial_line(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        size = fh.seek(0, os.SEEK_END)
        step = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - step)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)


def iter_results(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete line of a results file, in order (a torn last line is skipped)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return
            if line.strip():
                yield json.loads(line)
