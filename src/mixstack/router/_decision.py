"""The routing decision: which model answers, which were considered, and why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from mixstack.errors import MixstackError, PolicyError
from mixstack.guard._pii import PiiCount, format_counts
from mixstack.router._policy import RequestShape

if TYPE_CHECKING:
    from mixstack._types import Request
    from mixstack.config import ModelEntry

__all__ = [
    "Exclusion",
    "RouteDecision",
    "RouteRefused",
    "Routed",
    "shape_from_json",
    "shape_json",
]


def shape_json(shape: RequestShape | None) -> dict[str, Any] | None:
    """The shape as logged (built by hand: `dataclasses.asdict` copies each field deeply, a
    visible share of a gateway request)."""
    if shape is None:
        return None
    return {
        "prompt_tokens": shape.prompt_tokens,
        "completion_tokens": shape.completion_tokens,
        "chars": shape.chars,
        "images": shape.images,
        "tools": shape.tools,
        "json": shape.json,
    }


def shape_from_json(data: Any) -> RequestShape | None:
    """The logged shape of a request; None for calls logged before shapes were kept."""
    if not isinstance(data, dict):
        return None
    try:
        return RequestShape(
            prompt_tokens=int(data["prompt_tokens"]),
            completion_tokens=int(data["completion_tokens"]),
            chars=int(data["chars"]),
            images=bool(data["images"]),
            tools=bool(data["tools"]),
            json=bool(data["json"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class Exclusion(NamedTuple):
    """A model left out of a decision, and why (a tuple: built on every routing decision)."""

    model: str
    reason: str


@dataclass(slots=True)
class RouteDecision:
    """A value: never changed once made (`took_over` returns a new one). Not a frozen
    dataclass only because its constructor runs on every request, and a frozen one's is
    about 2.5x slower."""

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
    #: how the workload was chosen: explicit, model (`workload/<name>`), rule N, default
    workload_source: str = ""
    #: the workload's privacy level and what it came to for this request
    policy: str = ""
    #: PII and secrets found in what could leave the machine: types and counts, never values
    pii: tuple[PiiCount, ...] = ()
    #: the request was redacted before it left (placeholders are restored in the answer)
    redacted: bool = False
    offline: bool = False
    #: the size and needs the router saw (logged, so `route replay` decides on the same facts)
    shape: RequestShape | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "workload_source": self.workload_source,
            "model": self.model,
            "locality": self.locality,
            "reason": self.reason,
            "policy": self.policy,
            "candidates": list(self.candidates),
            "fallbacks": list(self.fallbacks),
            "excluded": [{"model": e.model, "reason": e.reason} for e in self.excluded],
            "estimated_cost_usd": self.estimated_cost_usd,
            "pii": [c.to_json() for c in self.pii],
            "redacted": self.redacted,
            "offline": self.offline,
            "notes": list(self.notes),
            "shape": shape_json(self.shape),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouteDecision:
        return cls(
            model=data["model"],
            locality=data["locality"],
            workload=data.get("workload", ""),
            candidates=tuple(data.get("candidates", ())),
            fallbacks=tuple(data.get("fallbacks", ())),
            excluded=tuple(Exclusion(e["model"], e["reason"]) for e in data.get("excluded", ())),
            reason=data.get("reason", ""),
            estimated_cost_usd=float(data.get("estimated_cost_usd", 0.0)),
            notes=tuple(data.get("notes", ())),
            workload_source=data.get("workload_source", ""),
            shape=shape_from_json(data.get("shape")),
            policy=data.get("policy", ""),
            pii=tuple(PiiCount(p["type"], int(p["count"])) for p in data.get("pii", ())),
            redacted=bool(data.get("redacted", False)),
            offline=bool(data.get("offline", False)),
        )

    def short(self) -> str:
        """One header-sized line, e.g. `workload=private model=local/x reason=explicit`."""
        pii = format_counts(self.pii) if self.pii else ""
        return _short(self.workload, self.model, self.reason, self.policy, pii, self.redacted)

    @staticmethod
    def short_of(data: dict[str, Any]) -> str:
        """`short()` of a decision in its JSON form, without rebuilding it."""
        pii = data.get("pii") or ()
        counts = format_counts(tuple(PiiCount(p["type"], int(p["count"])) for p in pii))
        return _short(
            data.get("workload", ""),
            data["model"],
            data.get("reason", ""),
            data.get("policy", ""),
            counts if pii else "",
            bool(data.get("redacted", False)),
        )

    def with_note(self, note: str) -> RouteDecision:
        return dataclasses.replace(self, notes=(*self.notes, note))

    def took_over(self, model: str, locality: str, why: str) -> RouteDecision:
        """The decision after a fallback answered instead of the chosen model."""
        return dataclasses.replace(
            self,
            model=model,
            locality=locality,
            reason=f"fallback: {why}",
            notes=(*self.notes, f"{self.model} failed ({why}); {model} took over"),
        )


def _short(workload: str, model: str, reason: str, policy: str, pii: str, redacted: bool) -> str:
    text = f"workload={workload or '-'} model={model} reason={reason}"
    if policy:
        text += f" privacy={policy.partition(':')[0]}"
    if pii:
        text += f" pii={pii}"
    if redacted:
        text += " redacted=1"
    return text.replace("\n", " ")


class RouteRefused(PolicyError):
    """No model may take this request under its workload's policy; nothing was sent."""

    def __init__(
        self,
        message: str,
        *,
        workload: str,
        pii: tuple[PiiCount, ...] = (),
        excluded: tuple[Exclusion, ...] = (),
        policy: str = "",
        workload_source: str = "",
        shape: RequestShape | None = None,
    ):
        super().__init__(message, param="model", code="no_eligible_model")
        self.workload = workload
        self.pii = pii
        self.excluded = excluded
        self.policy = policy
        self.workload_source = workload_source
        self.shape = shape


@dataclass(frozen=True, slots=True)
class Routed:
    """The routing of one request (`Pipeline.route`), made once: a front door that needs the
    chosen model before it sends (an agent step choosing its tool protocol and sizing its
    budget) hands it back with that same request (`complete(request, routed=...)`), which
    then is neither routed nor scanned again. The guard's findings travel in `decision`."""

    request: Request
    decision: RouteDecision | None = None
    entry: ModelEntry | None = None
    #: why the request cannot be sent (refused by policy, invalid, unknown model); raised,
    #: and a refusal recorded, when it is handed back for the call
    error: MixstackError | None = None
