"""Eval calibration: measured quality per workload and model, written by `mixstack eval calibrate`.

{"version": 1, "target": 0.9,
 "workloads": {"support": {"recommended": "openai/gpt-4.1-mini",
    "models": {"openai/gpt-4.1-mini": {"n": 200, "pass_rate": 0.94, "ci_low": 0.91,
        "ci_high": 0.96, "cost_per_correct": 0.0004, "latency_p50_ms": 820}}}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixstack.errors import ConfigError
from mixstack.store import default_home

__all__ = ["Calibration", "ModelQuality", "calibration_path", "load_calibration"]


@dataclass(frozen=True, slots=True)
class ModelQuality:
    n: int
    pass_rate: float
    ci_low: float
    ci_high: float
    cost_per_correct: float | None = None
    latency_p50_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    target: float
    workloads: dict[str, dict[str, ModelQuality]]
    recommended: dict[str, str | None]
    source: Path | None = None

    def quality(self, workload: str, model: str) -> ModelQuality | None:
        return self.workloads.get(workload, {}).get(model)

    def latency_ms(self, model: str) -> float | None:
        """The median latency measured for `model` in any workload, if any."""
        seen = [
            q.latency_p50_ms
            for models in self.workloads.values()
            if (q := models.get(model)) is not None and q.latency_p50_ms is not None
        ]
        return min(seen) if seen else None


EMPTY = Calibration(target=0.9, workloads={}, recommended={})


def calibration_path(configured: Path | None, home: Path | None) -> Path:
    if configured is not None:
        return configured.expanduser()
    return default_home(home) / "calibration.json"


def load_calibration(path: Path, *, required: bool) -> Calibration:
    """Read the file; a missing default file means no calibration, a broken one is an error."""
    if not path.is_file():
        if required:
            raise ConfigError(
                f"routing.calibration: {path} not found; run `mixstack eval calibrate` "
                "or fix the path."
            )
        return EMPTY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _parse(data, path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a calibration file ({exc}); rerun `mixstack eval calibrate`."
        ) from exc


def _parse(data: Any, path: Path) -> Calibration:
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("expected an object with version 1")
    workloads: dict[str, dict[str, ModelQuality]] = {}
    recommended: dict[str, str | None] = {}
    for name, entry in (data.get("workloads") or {}).items():
        models = {}
        for model, q in (entry.get("models") or {}).items():
            models[model] = ModelQuality(
                n=int(q["n"]),
                pass_rate=float(q["pass_rate"]),
                ci_low=float(q["ci_low"]),
                ci_high=float(q["ci_high"]),
                cost_per_correct=_opt(q.get("cost_per_correct")),
                latency_p50_ms=_opt(q.get("latency_p50_ms")),
            )
        workloads[name] = models
        recommended[name] = entry.get("recommended")
    return Calibration(
        target=float(data.get("target", 0.9)),
        workloads=workloads,
        recommended=recommended,
        source=path,
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
