"""Per model × variant statistics and paired comparisons, computed from a results file.

A `Tally` keeps a small tuple per result (never the outputs), so a summary of a 20k-case run
stays small in memory. A run keeps its tally as it writes its results file (so the summary
does not read the file back); `summarize_results` reads a file once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mixstack.evals._results import ResultKey, ResultLine, iter_results, result_key
from mixstack.evals._stats import agresti_min_interval, mcnemar_exact, percentile, wilson_interval

__all__ = ["Tally", "compare_pair", "summarize_results"]


class _Outcome(NamedTuple):
    status: str
    score: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency: float | None
    cached: bool


@dataclass
class _Group:
    model: str
    variant: str
    outcomes: dict[str, _Outcome] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        scored = [o for o in self.outcomes.values() if o.status != "error"]
        passed = sum(o.status == "pass" for o in scored)
        n = len(scored)
        errors = len(self.outcomes) - n
        ci = wilson_interval(passed, n)
        cost = sum(o.cost for o in self.outcomes.values())
        scores = [o.score for o in scored if o.score is not None]
        latencies = sorted(o.latency for o in scored if o.latency is not None)
        return {
            "model": self.model,
            "variant": self.variant,
            "n": n,
            "passed": passed,
            "failed": n - passed,
            "errors": errors,
            "pass_rate": passed / n if n else None,
            "ci_low": ci[0] if ci else None,
            "ci_high": ci[1] if ci else None,
            "mean_score": sum(scores) / len(scores) if scores else None,
            "prompt_tokens": sum(o.prompt_tokens for o in self.outcomes.values()),
            "completion_tokens": sum(o.completion_tokens for o in self.outcomes.values()),
            "cost_usd": cost,
            "cost_per_correct": cost / passed if passed else None,
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
            "cached": sum(o.cached for o in self.outcomes.values()),
        }

    def passes(self) -> dict[str, bool]:
        return {c: o.status == "pass" for c, o in self.outcomes.items() if o.status != "error"}


def compare_pair(a: _Group, b: _Group) -> dict[str, Any]:
    """McNemar's exact test and the paired difference (A − B) on the cases both scored."""
    pa, pb = a.passes(), b.passes()
    common = pa.keys() & pb.keys()
    both = sum(pa[c] and pb[c] for c in common)
    a_only = sum(pa[c] and not pb[c] for c in common)
    b_only = sum(pb[c] and not pa[c] for c in common)
    n = len(common)
    interval = agresti_min_interval(a_only, b_only, n)
    return {
        "a": {"model": a.model, "variant": a.variant},
        "b": {"model": b.model, "variant": b.variant},
        "n": n,
        "both": both,
        "a_only": a_only,
        "b_only": b_only,
        "neither": n - both - a_only - b_only,
        "diff": interval[0] if interval else None,
        "diff_ci_low": interval[1] if interval else None,
        "diff_ci_high": interval[2] if interval else None,
        "p_value": mcnemar_exact(a_only, b_only) if n else None,
        "method": "McNemar exact; Agresti-Min 95% interval",
    }


class Tally:
    """The latest outcome of every (case, variant, model): what a summary is computed from."""

    def __init__(self) -> None:
        self._latest: dict[ResultKey, _Outcome] = {}

    @classmethod
    def of_file(cls, path: Path) -> Tally:
        tally = cls()
        for row in iter_results(path):
            tally.add_row(row)
        return tally

    def add_row(self, row: dict[str, Any]) -> None:
        """A line as read back from a results file."""
        self._latest[result_key(row)] = _Outcome(
            row["status"],
            row.get("score"),
            int(row.get("prompt_tokens") or 0),
            int(row.get("completion_tokens") or 0),
            float(row.get("cost_usd") or 0.0),
            row.get("latency_ms"),
            bool(row.get("cached")),
        )

    def add(self, line: ResultLine) -> None:
        """A line as written (the same values `add_row` reads back)."""
        self._latest[(line.case, line.variant, line.model)] = _Outcome(
            line.status,
            line.score,
            line.prompt_tokens,
            line.completion_tokens,
            line.cost_usd,
            line.latency_ms,
            line.cached,
        )

    def done_keys(self) -> set[ResultKey]:
        """Keys answered (pass or fail); an error is tried again on resume."""
        return {key for key, outcome in self._latest.items() if outcome.status != "error"}

    def summary(
        self, models: list[str] | None = None, variants: list[str] | None = None
    ) -> dict[str, Any]:
        """`{"runs": […], "comparisons": […]}`; models and variants keep the given order."""
        groups: dict[tuple[str, str], _Group] = {}
        for (case, variant, model), outcome in self._latest.items():
            group = groups.get((model, variant))
            if group is None:
                group = groups[(model, variant)] = _Group(model, variant)
            group.outcomes[case] = outcome
        model_order = {m: i for i, m in enumerate(models or [])}
        variant_order = {v: i for i, v in enumerate(variants or [])}
        ordered = sorted(
            groups.values(),
            key=lambda g: (
                model_order.get(g.model, len(model_order)),
                g.model,
                variant_order.get(g.variant, len(variant_order)),
                g.variant,
            ),
        )
        comparisons = []
        for a, b in itertools.combinations(ordered, 2):
            if a.variant == b.variant or a.model == b.model:
                comparisons.append(compare_pair(a, b))
        return {"runs": [g.stats() for g in ordered], "comparisons": comparisons}


def summarize_results(
    path: Path, models: list[str] | None = None, variants: list[str] | None = None
) -> dict[str, Any]:
    """`{"runs": […], "comparisons": […]}` of a results file; see `Tally.summary`."""
    return Tally.of_file(path).summary(models, variants)
