"""A model entry: a declared model with its provider's defaults resolved (locality,
capabilities, context window). The catalog builds them; providers receive them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from mixstack.config.models import Capability, Locality, ModelConfig
from mixstack.errors import ConfigError

__all__ = ["ModelEntry"]

_C = TypeVar("_C")


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
        return self.config.upstream_id or self.name.partition("/")[2]

    def settings(self, kind: type[_C]) -> _C:
        """The entry's config as the provider's own type (a provider asks for its own)."""
        if not isinstance(self.config, kind):
            raise ConfigError(
                f"{self.name} is declared for the {self.config.provider!r} provider, whose "
                f"settings are not {kind.__name__}; fix its `provider:` in the config."
            )
        return self.config

    @property
    def stays_on_premises(self) -> bool:
        return self.locality in ("local", "on-prem")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.price_input_per_1m + completion_tokens * self.price_output_per_1m
        ) / 1_000_000

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities
