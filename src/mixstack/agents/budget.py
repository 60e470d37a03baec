"""The budget one run shares between all its agents: tokens, USD, steps and wall time.

A meter is created by the runtime from the config and the command line; nothing the model
or a tool says can change it. `exhausted()` says why the run must stop, or None;
`allowance()` sizes the next model step so it cannot take the run past its token or USD
budget (the step is skipped, and the run stops, when even a one-token answer would).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixstack.config.agents import BudgetConfig
from mixstack.guard._usage import prompt_tokens

if TYPE_CHECKING:
    from mixstack.catalog import ModelEntry
    from mixstack.pipeline import Pipeline, Routed
    from mixstack.types import Request

__all__ = ["Budget", "BudgetMeter", "fit_routed", "fit_step"]

#: answer length assumed for a step whose request sets none
_DEFAULT_ANSWER = 256


@dataclass(frozen=True, slots=True)
class Budget:
    tokens: int | None = None
    usd: float | None = None
    steps: int | None = None
    wall_s: float | None = None

    @classmethod
    def from_config(cls, config: BudgetConfig) -> Budget:
        return cls(config.tokens, config.usd, config.steps, config.wall_s)

    def with_limits(
        self,
        *,
        tokens: int | None = None,
        usd: float | None = None,
        steps: int | None = None,
        wall_s: float | None = None,
    ) -> Budget:
        """Command-line limits replace configured ones."""
        return Budget(
            tokens if tokens is not None else self.tokens,
            usd if usd is not None else self.usd,
            steps if steps is not None else self.steps,
            wall_s if wall_s is not None else self.wall_s,
        )


class BudgetMeter:
    """Usage so far against a `Budget`. One asyncio loop uses it, so no lock is needed."""

    def __init__(self, budget: Budget):
        self._budget = budget
        self._started = time.monotonic()
        self.tokens = 0
        self.usd = 0.0
        self.steps = 0

    @property
    def budget(self) -> Budget:
        return self._budget

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def charge(self, *, tokens: int = 0, usd: float = 0.0, steps: int = 0) -> None:
        self.tokens += tokens
        self.usd += usd
        self.steps += steps

    def exhausted(self) -> str | None:
        """Why the run must stop now, or None while it may go on."""
        b = self._budget
        if b.tokens is not None and self.tokens >= b.tokens:
            return f"budget: {self.tokens} tokens used of {b.tokens}"
        if b.usd is not None and self.usd >= b.usd and (b.usd > 0 or self.usd > 0):
            return f"budget: ${self.usd:.6f} spent of ${b.usd:g}"
        if b.steps is not None and self.steps >= b.steps:
            return f"budget: {self.steps} steps taken of {b.steps}"
        if b.wall_s is not None and self.elapsed_s >= b.wall_s:
            return f"budget: {self.elapsed_s:.1f} s elapsed of {b.wall_s:g} s"
        return None

    def allowance(
        self, prompt_tokens: int, price_in_per_1m: float, price_out_per_1m: float, want: int
    ) -> tuple[int, str | None]:
        """(answer tokens the next step may use, why it may not run at all or None)."""
        limit = want
        b = self._budget
        if b.tokens is not None:
            left = b.tokens - self.tokens - prompt_tokens
            if left < 1:
                return 0, (
                    f"budget: the next step needs about {prompt_tokens} prompt tokens and "
                    f"{b.tokens - self.tokens} of {b.tokens} are left"
                )
            limit = min(limit, left)
        if b.usd is not None:
            left_usd = b.usd - self.usd - prompt_tokens * price_in_per_1m / 1_000_000
            if price_out_per_1m > 0:
                affordable = int(left_usd * 1_000_000 / price_out_per_1m)
            else:
                affordable = limit if left_usd >= 0 else 0
            if affordable < 1:
                remaining = max(b.usd - self.usd, 0.0)
                return 0, (
                    f"budget: the next step would cost more than the ${remaining:.6f} left "
                    f"of ${b.usd:g}"
                )
            limit = min(limit, affordable)
        return limit, None

    def tokens_left(self) -> int | None:
        if self._budget.tokens is None:
            return None
        return max(self._budget.tokens - self.tokens, 0)

    def seconds_left(self) -> float | None:
        if self._budget.wall_s is None:
            return None
        return max(self._budget.wall_s - self.elapsed_s, 0.0)

    def to_json(self) -> dict[str, float | int | None]:
        b = self._budget
        return {
            "tokens": self.tokens,
            "usd": round(self.usd, 8),
            "steps": self.steps,
            "wall_s": round(self.elapsed_s, 3),
            "limit_tokens": b.tokens,
            "limit_usd": b.usd,
            "limit_steps": b.steps,
            "limit_wall_s": b.wall_s,
        }


def fit_step(
    pipeline: Pipeline, meter: BudgetMeter, request: Request, entry: ModelEntry | None
) -> tuple[Request, str | None]:
    """The request with `max_tokens` lowered to what the budget covers, or why it cannot run.

    The prompt is counted by the one token counter: the model's own tokenizer where the
    provider has one, else the estimate's worst case (a step never takes the run past its
    budget)."""
    budget = meter.budget
    if (budget.tokens is None and budget.usd is None) or entry is None:
        return request, None
    provider = pipeline.catalog.provider_for(entry)
    prompt = prompt_tokens(request, provider, entry, worst_case=True)
    want = request.params.max_tokens or _DEFAULT_ANSWER
    limit, reason = meter.allowance(
        prompt, entry.price_input_per_1m, entry.price_output_per_1m, want
    )
    if reason is not None:
        return request, reason
    if limit == request.params.max_tokens:
        return request, None
    params = request.params.model_copy(update={"max_tokens": limit})
    return request.with_changes(params=params), None


async def fit_routed(
    pipeline: Pipeline, meter: BudgetMeter, routed: Routed
) -> tuple[Routed, str | None]:
    """`fit_step` for a routed request: its routing stands when the budget leaves the answer
    length as it is; a request the budget shortened is routed anew (the answer length
    enters the route's size checks, cost estimate and ranking)."""
    fitted, reason = fit_step(pipeline, meter, routed.request, routed.entry)
    if reason is not None or fitted is routed.request:
        return routed, reason
    return await pipeline.route(fitted), None
