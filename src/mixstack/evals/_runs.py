"""Eval runs on disk and in the store: where a run lives, how to find it again by id or path."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixstack.errors import UserError
from mixstack.evals._results import RESULTS
from mixstack.store import EvalRunRow, Store, default_home

__all__ = ["RunDir", "find_run", "latest_unfinished", "new_run_id", "record_run"]

RUN_JSON = "run.json"
SUMMARY_JSON = "summary.json"


def new_run_id(suite: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in suite)[:40] or "suite"
    return f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def default_runs_dir() -> Path:
    return default_home() / "evals"


@dataclass(frozen=True, slots=True)
class RunDir:
    path: Path

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def meta_path(self) -> Path:
        return self.path / RUN_JSON

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_JSON

    def meta(self) -> dict[str, Any] | None:
        if not self.meta_path.is_file():
            return None
        value: dict[str, Any] = json.loads(self.meta_path.read_text(encoding="utf-8"))
        return value

    def summary(self) -> dict[str, Any] | None:
        if not self.summary_path.is_file():
            return None
        value: dict[str, Any] = json.loads(self.summary_path.read_text(encoding="utf-8"))
        return value

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.meta_path.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")

    def write_summary(self, summary: dict[str, Any]) -> None:
        tmp = self.summary_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        tmp.replace(self.summary_path)


def record_run(
    store: Store, meta: dict[str, Any], status: str, summary: Any = None, *, wait: bool = True
) -> None:
    """Insert or update the run's row; `wait=False` leaves the commit to the store's writer."""
    store.runs.save(
        EvalRunRow(
            id=meta["run_id"],
            suite=meta["suite"],
            suite_path=meta["suite_path"],
            fingerprint=meta["fingerprint"],
            workload=meta["workload"],
            models_json=json.dumps(meta["models"]),
            out_dir=meta["out_dir"],
            status=status,
            started_at=meta["started_at"],
            finished_at=time.time() if status != "running" else None,
            summary_json=json.dumps(summary, default=str) if summary is not None else None,
        ),
        wait=wait,
    )


def latest_unfinished(store: Store, suite_path: str, fingerprint: str) -> RunDir | None:
    out_dir = store.runs.latest_unfinished(suite_path, fingerprint)
    return RunDir(Path(out_dir)) if out_dir is not None else None


def find_run(ref: str, store: Store | None = None) -> RunDir:
    """A run by its directory, its results/summary file, or its id (from the store)."""
    path = Path(ref)
    if path.is_file() and path.name in (RESULTS, SUMMARY_JSON, RUN_JSON):
        path = path.parent
    if path.is_dir() and (path / RESULTS).is_file():
        return RunDir(path)
    if (default_runs_dir() / ref / RESULTS).is_file():
        return RunDir(default_runs_dir() / ref)
    if store is not None:
        out_dir = store.runs.out_dir(ref)
        if out_dir is not None and (Path(out_dir) / RESULTS).is_file():
            return RunDir(Path(out_dir))
    raise UserError(
        f"no eval run {ref!r}; pass a run directory (the one with results.jsonl) or a run id "
        "printed by `mixstack eval`."
    )
