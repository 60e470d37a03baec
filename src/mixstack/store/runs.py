"""Eval runs as stored: one row per run, so a run is found again by id or resumed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["EvalRunRepository", "EvalRunRow"]


@dataclass(frozen=True, slots=True)
class EvalRunRow:
    id: str
    suite: str
    suite_path: str
    fingerprint: str
    workload: str
    models_json: str
    out_dir: str
    status: str
    started_at: float
    finished_at: float | None
    summary_json: str | None


class EvalRunRepository(Protocol):
    def save(self, row: EvalRunRow, *, wait: bool = True) -> None:
        """Insert the run, or update its status, end and summary; `wait=False` queues it."""

    def latest_unfinished(self, suite_path: str, fingerprint: str) -> str | None:
        """The out_dir of the newest run of this suite version not finished."""

    def out_dir(self, run_id: str) -> str | None: ...
