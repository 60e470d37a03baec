"""The routing decision: which model answers, which were considered, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Exclusion", "RouteDecision"]


@dataclass(frozen=True, slots=True)
class Exclusion:
    model: str
    reason: str


@dataclass(frozen=True, slots=True)
class RouteDecision:
    model: str
    locality: str
    workload: str = ""
    candidates: tuple[str, ...] = ()
    #: models to try, in order, if the chosen one fails to connect or errors retryably
    fallbacks: tuple[str, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    reason: str = ""
    estimated_cost_usd: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "model": self.model,
            "locality": self.locality,
            "reason": self.reason,
            "candidates": list(self.candidates),
            "fallbacks": list(self.fallbacks),
            "excluded": [{"model": e.model, "reason": e.reason} for e in self.excluded],
            "estimated_cost_usd": self.estimated_cost_usd,
            "notes": list(self.notes),
        }

    def short(self) -> str:
        """One header-sized line, e.g. `workload=private model=local/x reason=explicit`."""
        return f"workload={self.workload or '-'} model={self.model} reason={self.reason}"
