"""Tuned models' lineage and their promotions into routing (tables of migration 0011), and
the call-log rows a training set is built from. SQLite only for now (like the monitor's
views): another backend says so clearly."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from mixstack.store.base import Store
from mixstack.store.db import sqlite_of

__all__ = [
    "Promotion",
    "TunedModelRecord",
    "active_promotion",
    "calls_for_tuning",
    "get_tuned_model",
    "list_promotions",
    "list_tuned_models",
    "mark_rolled_back",
    "record_promotion",
    "record_tuned_model",
]


_WHAT = "tuning (lineage, promotions, datasets from the call log)"


def calls_for_tuning(store: Store, workload: str, limit: int) -> list[dict[str, Any]]:
    """The workload's calls, oldest first, with what a training set needs to judge them."""
    rows = sqlite_of(store, _WHAT).query(
        "SELECT request_id, model, provider, prompt, response, pii, redacted, error "
        "FROM calls WHERE workload = ? ORDER BY created_at LIMIT ?",
        (workload, limit),
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class TunedModelRecord:
    name: str
    base_model: str
    base_sha256: str
    data_sha256: str
    dataset_path: str
    train_examples: int
    heldout_examples: int
    hyperparameters: dict[str, Any]
    adapter_path: str
    adapter_sha256: str
    workload: str = ""
    final_loss: float | None = None
    train_seconds: float | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Promotion:
    id: int
    model: str
    workload: str
    calibration_path: str
    previous_entry: dict[str, Any] | None
    entry: dict[str, Any]
    gate_run: str
    created_at: float
    rolled_back_at: float | None


_TUNED_COLUMNS = (
    "name, base_model, base_sha256, data_sha256, dataset_path, train_examples, heldout_examples, "
    "hyperparameters, adapter_path, adapter_sha256, workload, final_loss, train_seconds, "
    "created_at"
)


def record_tuned_model(store: Store, record: TunedModelRecord) -> None:
    """Insert or replace the lineage of one tuned model (a re-export replaces its row)."""
    sqlite_of(store, _WHAT).write(
        f"INSERT OR REPLACE INTO tuned_models ({_TUNED_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.name,
            record.base_model,
            record.base_sha256,
            record.data_sha256,
            record.dataset_path,
            record.train_examples,
            record.heldout_examples,
            json.dumps(record.hyperparameters, sort_keys=True),
            record.adapter_path,
            record.adapter_sha256,
            record.workload,
            record.final_loss,
            record.train_seconds,
            record.created_at or time.time(),
        ),
    ).result()


def _tuned(row: Any) -> TunedModelRecord:
    data = dict(row)
    data["hyperparameters"] = json.loads(data["hyperparameters"])
    return TunedModelRecord(**data)


def get_tuned_model(store: Store, name: str) -> TunedModelRecord | None:
    row = sqlite_of(store, _WHAT).query_one(
        f"SELECT {_TUNED_COLUMNS} FROM tuned_models WHERE name = ?", (name,)
    )
    return None if row is None else _tuned(row)


def list_tuned_models(store: Store) -> list[TunedModelRecord]:
    rows = sqlite_of(store, _WHAT).query(
        f"SELECT {_TUNED_COLUMNS} FROM tuned_models ORDER BY created_at, name"
    )
    return [_tuned(row) for row in rows]


def record_promotion(
    store: Store,
    *,
    model: str,
    workload: str,
    calibration_path: str,
    previous_entry: dict[str, Any] | None,
    entry: dict[str, Any],
    gate_run: str,
) -> int:
    """The promotion's id; the entry it replaced is kept for `tune rollback`."""
    return (
        sqlite_of(store, _WHAT)
        .write(
            "INSERT INTO tune_promotions (model, workload, calibration_path, previous_entry, "
            "entry, gate_run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                model,
                workload,
                calibration_path,
                None if previous_entry is None else json.dumps(previous_entry),
                json.dumps(entry),
                gate_run,
                time.time(),
            ),
        )
        .result()
    )


def _promotion(row: Any) -> Promotion:
    data = dict(row)
    previous = data["previous_entry"]
    data["previous_entry"] = None if previous is None else json.loads(previous)
    data["entry"] = json.loads(data["entry"])
    return Promotion(**data)


_PROMOTION_COLUMNS = (
    "id, model, workload, calibration_path, previous_entry, entry, gate_run, created_at, "
    "rolled_back_at"
)


def active_promotion(store: Store, workload: str) -> Promotion | None:
    """The latest promotion of the workload that was not rolled back."""
    row = sqlite_of(store, _WHAT).query_one(
        f"SELECT {_PROMOTION_COLUMNS} FROM tune_promotions "
        "WHERE workload = ? AND rolled_back_at IS NULL ORDER BY id DESC LIMIT 1",
        (workload,),
    )
    return None if row is None else _promotion(row)


def list_promotions(store: Store, workload: str | None = None) -> list[Promotion]:
    if workload is None:
        rows = sqlite_of(store, _WHAT).query(
            f"SELECT {_PROMOTION_COLUMNS} FROM tune_promotions ORDER BY id"
        )
    else:
        rows = sqlite_of(store, _WHAT).query(
            f"SELECT {_PROMOTION_COLUMNS} FROM tune_promotions WHERE workload = ? ORDER BY id",
            (workload,),
        )
    return [_promotion(row) for row in rows]


def mark_rolled_back(store: Store, promotion_id: int) -> None:
    sqlite_of(store, _WHAT).write(
        "UPDATE tune_promotions SET rolled_back_at = ? WHERE id = ?", (time.time(), promotion_id)
    ).result()
