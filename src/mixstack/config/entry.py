"""A model entry: a declared model with its provider's defaults resolved (locality,
capabilities, context window). The catalog builds them; providers receive them."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixstack.config.models import Capability, Locality, ModelConfig

__all__ = ["ModelEntry"]


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as the router sees it: provider, locality, capabilities, context, price."""

    name: str
    provider: str
    locality: Locality
    capabilities: frozenset[Capability]
    context_window: int
    price_input_per_1m: float
    price_output_per_1m: float
    config: ModelConfig = field(repr=False)

    @property
    def model_id(self) -> str:
        """The id sent to the provider: `upstream_model` or the part after `provider/`."""
        return self.config.upstream_model or self.name.partition("/")[2]

    @property
    def stays_on_premises(self) -> bool:
        return self.locality in ("local", "on-prem")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.price_input_per_1m + completion_tokens * self.price_output_per_1m
        ) / 1_000_000

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities
