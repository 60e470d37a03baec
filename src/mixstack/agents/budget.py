"""The budget one run shares between all its agents: tokens, USD, steps and wall time.

A meter is created by the runtime from the config and the command line; nothing the model
or a tool says can change it. `exhausted()` says why the run must stop, or None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mixstack.config.agents import BudgetConfig

__all__ = ["Budget", "BudgetMeter"]


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
