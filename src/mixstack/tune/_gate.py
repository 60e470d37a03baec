"""The gate: base vs tuned vs teacher on the held-out split, through the eval harness.

The verdict is taken on the tuned model's lower 95% bound (Wilson) against the quality
target, the same rule the router applies to calibration; McNemar's exact test says whether
the tuned model differs from the base and from the teacher on the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixstack.evals import EvalSettings, evaluate_suite, load_suite
from mixstack.evals._evaluate import Progress
from mixstack.pipeline import Pipeline
from mixstack.router._policy import BASE_MODEL_REASON
from mixstack.tune._dataset import Dataset

__all__ = ["GateResult", "run_gate"]


@dataclass(frozen=True)
class GateResult:
    tuned: str
    base: str
    teacher: str | None
    target: float
    summary: dict[str, Any]
    #: why the router would never send the workload's traffic to the tuned model (None: it can)
    unroutable: str | None = None

    def run_of(self, model: str) -> dict[str, Any] | None:
        return next((r for r in self.summary["runs"] if r["model"] == model), None)

    @property
    def passed(self) -> bool:
        run = self.run_of(self.tuned)
        return bool(run and run["ci_low"] is not None and run["ci_low"] >= self.target)

    def comparison(self, other: str) -> dict[str, Any] | None:
        for c in self.summary["comparisons"]:
            pair = {c["a"]["model"], c["b"]["model"]}
            if pair == {self.tuned, other}:
                return dict(c)
        return None

    def verdict(self) -> str:
        run = self.run_of(self.tuned)
        low = "—" if not run or run["ci_low"] is None else f"{run['ci_low']:.3f}"
        if self.passed:
            return f"{self.tuned} meets the quality target {self.target:g} (95% CI low {low})"
        return (
            f"{self.tuned} does not meet the quality target {self.target:g} (95% CI low {low}); "
            "not promoted"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tuned": self.tuned,
            "base": self.base,
            "teacher": self.teacher,
            "target": self.target,
            "passed": self.passed,
            "unroutable": self.unroutable,
            "verdict": self.verdict(),
            "run_id": self.summary.get("run_id"),
            "runs": self.summary["runs"],
            "vs_base": self.comparison(self.base),
            "vs_teacher": self.comparison(self.teacher) if self.teacher else None,
        }


async def run_gate(
    pipeline: Pipeline,
    dataset: Dataset,
    *,
    tuned: str,
    base: str,
    teacher: str | None,
    target: float,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Evaluate the three models on the held-out split (one eval run, cached answers reused)."""
    suite = load_suite(dataset.suite_path)
    models = [tuned, base, *([teacher] if teacher else [])]
    summary = await evaluate_suite(
        suite, pipeline, EvalSettings(models=models, out_dir=out_dir), progress=progress
    )
    return GateResult(tuned, base, teacher, target, summary, _unroutable(pipeline, tuned))


def _unroutable(pipeline: Pipeline, tuned: str) -> str | None:
    """The router's own rule: a model without the chat capability (an adapter on a
    completion-only base such as Gemma 3 270M) serves only requests that name it."""
    if "chat" in pipeline.catalog.get(tuned).capabilities:
        return None
    return (
        f"{tuned} lacks the chat capability ({BASE_MODEL_REASON}), so promoting it would "
        f"change no route; call it by name (model: {tuned}), or tune a chat base such as "
        "local/smollm2-135m-instruct to route a workload to it"
    )
