"""Per-model figures of a sweep: accuracy per length × depth, the drop from the shortest
length, the effective length and how the kinds of error shift as the context grows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mixstack.sweep._run import SweepCall, SweepOutcome, SweepSettings

__all__ = ["EFFECTIVE_SHARE", "FAILURE_KINDS", "effective_length", "summarize_sweep"]

#: a length is effective while the model keeps this share of its own short-context score
EFFECTIVE_SHARE = 0.85
FAILURE_KINDS = ("wrong", "distractor", "refusal", "format")


def _accuracy(calls: list[SweepCall]) -> float | None:
    scored = [c for c in calls if c.kind != "error"]
    if not scored:
        return None
    return round(sum(c.passed for c in scored) / len(scored), 4)


def effective_length(by_length: list[tuple[int, float | None]]) -> int | None:
    """The longest length such that it and every shorter one keep ≥ 85% of the shortest
    length's accuracy; None when the model fails even at the shortest length."""
    measured = [(length, acc) for length, acc in sorted(by_length) if acc is not None]
    if not measured or not measured[0][1]:
        return None
    floor = measured[0][1] * EFFECTIVE_SHARE
    best = measured[0][0]
    for length, acc in measured:
        if acc + 1e-9 < floor:
            break
        best = length
    return best


def _model(
    model: str, calls: list[SweepCall], outcome: SweepOutcome, settings: SweepSettings
) -> dict[str, Any]:
    lengths = sorted({c.length for c in calls})
    by_length: list[dict[str, Any]] = []
    short: float | None = None
    for length in lengths:
        at = [c for c in calls if c.length == length]
        acc = _accuracy(at)
        if short is None:
            short = acc
        kinds: Counter[str] = Counter(c.kind for c in at if c.kind is not None)
        failures = sum(kinds[k] for k in FAILURE_KINDS)
        by_length.append(
            {
                "length": length,
                "accuracy": acc,
                "n": len(at),
                "relative_drop": (
                    round((short - acc) / short, 4) if short and acc is not None else None
                ),
                "errors": {k: kinds[k] for k in FAILURE_KINDS},
                "error_shares": {
                    k: round(kinds[k] / failures, 4) if failures else 0.0 for k in FAILURE_KINDS
                },
                "call_errors": kinds["error"],
                "prompt_tokens_mean": round(sum(c.prompt_tokens for c in at) / len(at), 1),
            }
        )
    depths = sorted({c.depth for c in calls})
    by_depth = [
        {"depth": d, "accuracy": _accuracy([c for c in calls if c.depth == d]),
         "n": sum(1 for c in calls if c.depth == d)}
        for d in depths
    ]  # fmt: skip
    grid = [
        {"length": length, "depth": d,
         "accuracy": _accuracy([c for c in calls if c.length == length and c.depth == d]),
         "n": sum(1 for c in calls if c.length == length and c.depth == d)}
        for length in lengths
        for d in depths
    ]  # fmt: skip
    answered = [c for c in calls if c.kind != "error"]
    distractor_rate = None
    if settings.distractors and answered:
        distractor_rate = round(sum(c.kind == "distractor" for c in answered) / len(answered), 4)
    return {
        "model": model,
        "tokenizer": outcome.tokenizers.get(model),
        "context_window": outcome.windows.get(model),
        "effective_length": effective_length([(r["length"], r["accuracy"]) for r in by_length]),
        "short_length": lengths[0] if lengths else None,
        "short_accuracy": short,
        "by_length": by_length,
        "by_depth": by_depth,
        "grid": grid,
        "distractor_rate": distractor_rate,
        "skipped": [s.to_json() for s in outcome.skipped if s.model == model],
    }


def summarize_sweep(
    outcome: SweepOutcome, settings: SweepSettings, *, suite: str, filler: str
) -> dict[str, Any]:
    models = []
    for model in settings.models:
        calls = [c for c in outcome.calls if c.model == model]
        models.append(_model(model, calls, outcome, settings))
    return {
        "suite": suite,
        "cases": outcome.cases,
        "lengths": settings.lengths,
        "depths": settings.depths,
        "distractors": settings.distractors,
        "filler": filler,
        "effective_share": EFFECTIVE_SHARE,
        "models": models,
        "calls": [c.to_json() for c in outcome.calls],
    }
