"""Promotion into routing, and its rollback.

Promoting writes the gate's measurements of the workload into the routing calibration: the
router then ranks the tuned local model first for that workload wherever it meets the target
(it is the cheapest per correct answer) and leaves every other workload as it was. The entry
the workload had before is kept in the store, so `tune rollback` restores exactly it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mixstack.errors import UserError
from mixstack.evals._calibrate import CALIBRATION_VERSION, calibrate
from mixstack.store import Store
from mixstack.store.tune import (
    Promotion,
    active_promotion,
    mark_rolled_back,
    record_promotion,
)
from mixstack.tune._gate import GateResult

__all__ = ["promote", "read_calibration", "rollback"]


def read_calibration(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"version": CALIBRATION_VERSION, "target": None, "workloads": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg}); fix or delete it.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("workloads"), dict):
        raise UserError(f"{path} is not a calibration file; fix or delete it.")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def promote(store: Store, gate: GateResult, workload: str, path: Path) -> Promotion:
    """Write the gate's calibration of `workload`; refused when the gate did not pass or the
    router could never pick the tuned model for routed traffic."""
    if not gate.passed:
        raise UserError(f"{gate.verdict()}; collect more data or train longer, then gate again.")
    if gate.unroutable:
        raise UserError(f"not promoted: {gate.unroutable}.")
    data = read_calibration(path)
    # the file's target is global: keep it when set, else record the one the gate used
    if data.get("target") is None:
        data["target"] = gate.target
    entry = calibrate(gate.summary, gate.target)
    entry["tuned"] = gate.tuned
    previous = data["workloads"].get(workload)
    data["workloads"][workload] = entry
    _write(path, data)
    promotion_id = record_promotion(
        store,
        model=gate.tuned,
        workload=workload,
        calibration_path=str(path),
        previous_entry=previous,
        entry=entry,
        gate_run=str(gate.summary.get("run_id") or ""),
    )
    found = active_promotion(store, workload)
    if found is None or found.id != promotion_id:
        raise UserError(
            f"workload {workload!r} was promoted again meanwhile; see `mixstack tune list`."
        )
    return found


def rollback(store: Store, workload: str) -> Promotion:
    """Restore the workload's calibration entry from before its latest promotion."""
    promotion = active_promotion(store, workload)
    if promotion is None:
        raise UserError(
            f"workload {workload!r} has no active promotion to roll back; see `mixstack tune list`."
        )
    path = Path(promotion.calibration_path)
    data = read_calibration(path)
    current = data["workloads"].get(workload)
    if current != promotion.entry:
        raise UserError(
            f"{path}: the calibration of {workload!r} changed since the promotion of "
            f"{promotion.model} (recalibrated?); edit the file by hand or calibrate again."
        )
    if promotion.previous_entry is None:
        data["workloads"].pop(workload, None)
    else:
        data["workloads"][workload] = promotion.previous_entry
    if data.get("target") is None:
        data["target"] = 0.9
    _write(path, data)
    mark_rolled_back(store, promotion.id)
    return promotion
