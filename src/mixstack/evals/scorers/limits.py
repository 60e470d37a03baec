"""Budget scorers: `max_latency_ms` and `max_cost` (USD) per answer."""

from __future__ import annotations

from mixstack.evals.scorers.base import Options, Score, ScoreContext, Scorer

__all__ = ["MaxCostScorer", "MaxLatencyScorer"]


class LimitOptions(Options):
    value: float


class MaxLatencyScorer(Scorer[LimitOptions]):
    """The answer took at most `value` milliseconds."""

    name = "max_latency_ms"
    options_model = LimitOptions

    def check(self, ctx: ScoreContext) -> Score:
        took = ctx.completion.usage.latency_ms
        return Score.of(took <= self.options.value, f"{took:.0f} ms")


class MaxCostScorer(Scorer[LimitOptions]):
    """The answer cost at most `value` US dollars."""

    name = "max_cost"
    options_model = LimitOptions

    def check(self, ctx: ScoreContext) -> Score:
        cost = ctx.completion.usage.cost_usd
        return Score.of(cost <= self.options.value, f"${cost:.6f}")
