"""What a keyed request may reach and the most it can cost, decided before it is sent.

    reachable   the named model and its fallbacks, or every model a workload can route to,
                limited to what the key allows (a key allowed `workload/x` may use whatever
                that workload routes to)
    priced on   the priciest reachable model; a fallback dearer than it is never tried
    bound       prompt: an upper bound of its tokens; answer: `max_tokens`, or the priced
                model's context window when the request sets none (then sent as max_tokens)

Settlement never charges more than the hold (`settle_within`), so under any concurrency a
key's spend stays within its budget; what the upstream bills beyond the bound is the
operator's to see in the call log, not a key's to overdraw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mixstack.catalog import Catalog, ModelEntry
from mixstack.guard.keys import VirtualKey
from mixstack.guard.usage import TokenBound, prompt_bound
from mixstack.router.workloads import WORKLOAD_PREFIX
from mixstack.types import Request

__all__ = ["HoldPlan", "plan_hold", "settle_within"]

Allow = Callable[[ModelEntry], bool]


def _price(entry: ModelEntry) -> tuple[float, float]:
    return (entry.price_input_per_1m + entry.price_output_per_1m, entry.price_output_per_1m)


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """The model a hold is priced on, the token bound, and which models may answer."""

    entry: ModelEntry | None
    bound: TokenBound
    allow: Allow
    #: the answer length sent upstream when the request set none (None: keep the request's)
    max_tokens: int | None

    @property
    def cost_usd(self) -> float:
        return self.entry.cost(self.bound.prompt, self.bound.completion) if self.entry else 0.0


def _key_allows(key: VirtualKey, request: Request) -> Callable[[str], bool]:
    model = request.model
    if key.models and model is not None and model.startswith(WORKLOAD_PREFIX) and key.allows(model):
        return lambda name: True  # the key chose the workload: its routing decides
    return key.allows


def plan_hold(
    key: VirtualKey, request: Request, catalog: Catalog, *, default_completion: int
) -> HoldPlan:
    """Price a keyed request on the dearest model it can reach (see the module docstring)."""
    allows = _key_allows(key, request)
    model = request.model
    if model is not None and model in catalog:
        named = catalog.get(model)
        chain = [named, *(catalog.get(f) for f in named.config.fallbacks if f in catalog)]
        reachable = [e for e in chain if allows(e.name)] or [named]
    else:
        reachable = [e for e in catalog if allows(e.name)]
    priced = max(reachable, key=_price, default=None)
    ceiling = _price(priced) if priced is not None else (0.0, 0.0)
    window = priced.context_window if priced is not None else default_completion
    asked = request.params.max_tokens
    if asked is not None:
        completion, sent = min(asked, window), None
    elif key.limited:
        completion = min(default_completion, window)
        sent = completion  # the upstream must not answer longer than the hold covers
    else:
        completion, sent = min(default_completion, window), None

    def allow(entry: ModelEntry) -> bool:
        return allows(entry.name) and _price(entry) <= ceiling

    return HoldPlan(priced, TokenBound(prompt_bound(request), completion), allow, sent)


def settle_within(
    plan: HoldPlan, entry: ModelEntry, prompt: int, completion: int
) -> tuple[float, int]:
    """(USD, tokens) to charge: the real usage, never more than the hold covered."""
    prompt = max(0, min(prompt, plan.bound.prompt))
    completion = max(0, min(completion, plan.bound.completion))
    cost = entry.cost(prompt, completion)
    if plan.entry is not None:
        cost = min(cost, plan.cost_usd)
    return cost, prompt + completion
