"""What changed between two runs: cases that flipped, and metric deltas per model × variant."""

from __future__ import annotations

from typing import Any

from mixstack.evals._results import ResultKey, iter_results, result_key
from mixstack.evals._runs import RunDir
from mixstack.evals._summary import summarize_results

__all__ = ["compare_runs"]

_METRICS = ("pass_rate", "ci_low", "ci_high", "mean_score", "errors", "cost_usd", "latency_p50_ms")


def _statuses(run: RunDir) -> dict[ResultKey, str]:
    return {result_key(row): str(row["status"]) for row in iter_results(run.results)}


def _delta(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(b) - float(a)
    return None


def compare_runs(a: RunDir, b: RunDir) -> dict[str, Any]:
    """B relative to A: `fixed` went fail/error → pass, `broke` went pass → fail/error."""
    sa, sb = _statuses(a), _statuses(b)
    flipped = []
    for key in sorted(sa.keys() & sb.keys()):
        before, after = sa[key], sb[key]
        if before != after:
            case, variant, model = key
            flipped.append(
                {"case": case, "variant": variant, "model": model, "from": before, "to": after}
            )
    runs_a = {(r["model"], r["variant"]): r for r in summarize_results(a.results)["runs"]}
    runs_b = {(r["model"], r["variant"]): r for r in summarize_results(b.results)["runs"]}
    metrics = []
    for pair in [k for k in runs_a if k in runs_b]:
        ra, rb = runs_a[pair], runs_b[pair]
        metrics.append(
            {
                "model": pair[0],
                "variant": pair[1],
                "a": {m: ra.get(m) for m in _METRICS},
                "b": {m: rb.get(m) for m in _METRICS},
                "delta": {m: _delta(ra.get(m), rb.get(m)) for m in _METRICS},
            }
        )
    meta_a, meta_b = a.meta() or {}, b.meta() or {}
    return {
        "a": meta_a.get("run_id", str(a.path)),
        "b": meta_b.get("run_id", str(b.path)),
        "same_suite_version": meta_a.get("fingerprint") == meta_b.get("fingerprint"),
        "compared": len(sa.keys() & sb.keys()),
        "only_in_a": len(sa.keys() - sb.keys()),
        "only_in_b": len(sb.keys() - sa.keys()),
        "fixed": sum(1 for f in flipped if f["to"] == "pass"),
        "broke": sum(1 for f in flipped if f["from"] == "pass"),
        "flipped": flipped,
        "metrics": metrics,
    }
