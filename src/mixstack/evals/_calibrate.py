"""The routing calibration file the router reads: per workload, which model to pick.

    {"version": 1, "target": 0.9, "workloads": {"<workload>": {"recommended": "<model>|null",
      "models": {"<model>": {"n", "pass_rate", "ci_low", "ci_high", "cost_per_correct",
                             "latency_p50_ms"}}}}}

`recommended` is the cheapest model whose lower 95% bound on the pass rate meets the target;
other workloads already in the file are kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mixstack.errors import UserError
from mixstack.store import default_home

__all__ = ["CALIBRATION_VERSION", "calibrate", "default_calibration_path", "write_calibration"]

CALIBRATION_VERSION = 1


def default_calibration_path() -> Path:
    return default_home() / "calibration.json"


def _cost_per_case(run: dict[str, Any]) -> float:
    total = (run.get("n") or 0) + (run.get("errors") or 0)
    return float(run.get("cost_usd") or 0.0) / total if total else 0.0


def calibrate(summary: dict[str, Any], target: float, variant: str | None = None) -> dict[str, Any]:
    """The calibration entry of one workload from a run summary (one variant of it)."""
    runs = summary.get("runs") or []
    variants = summary.get("variants") or sorted({r["variant"] for r in runs})
    chosen = variant or (variants[0] if variants else None)
    if chosen not in {r["variant"] for r in runs}:
        raise UserError(
            f"the run has no variant {chosen!r}; pick one of {', '.join(variants)} with --variant."
        )
    picked = [r for r in runs if r["variant"] == chosen]
    models: dict[str, Any] = {}
    for r in picked:
        if not r["n"]:
            continue  # only errors: nothing measured, so nothing to calibrate with
        models[r["model"]] = {
            "n": r["n"],
            "pass_rate": r["pass_rate"],
            "ci_low": r["ci_low"],
            "ci_high": r["ci_high"],
            "cost_per_correct": r["cost_per_correct"],
            "latency_p50_ms": r["latency_p50_ms"],
        }
    good = [r for r in picked if r["ci_low"] is not None and r["ci_low"] >= target]
    good.sort(
        key=lambda r: (_cost_per_case(r), -(r["pass_rate"] or 0.0), r["latency_p50_ms"] or 0.0)
    )
    return {
        "recommended": good[0]["model"] if good else None,
        "variant": chosen,
        "run_id": summary.get("run_id"),
        "models": models,
    }


def write_calibration(
    workload: str, entry: dict[str, Any], target: float, path: Path | None = None
) -> Path:
    """Merge one workload's entry into the calibration file (written atomically)."""
    path = path or default_calibration_path()
    data: dict[str, Any] = {"version": CALIBRATION_VERSION, "target": target, "workloads": {}}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path} is not valid JSON ({exc.msg}); fix or delete it, then calibrate again."
            ) from exc
        if isinstance(old, dict) and isinstance(old.get("workloads"), dict):
            data["workloads"] = old["workloads"]
    data["target"] = target
    data["workloads"][workload] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
