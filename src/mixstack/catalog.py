"""The model catalog: every model a pipeline can call, with locality, capabilities and price.

Entries come from the providers' built-in models (the embedded local models) and from the
config's `models:` section; a config entry with the same name overrides the built-in one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mixstack.config import Config, ModelConfig, ModelEntry
from mixstack.config.models import model_config
from mixstack.errors import UnknownModelError
from mixstack.providers.base import Availability, Provider, ProviderRegistry

# ModelEntry lives in config (providers use it and may not import the catalog); it is
# re-exported here, where readers look for it
__all__ = ["Catalog", "ModelEntry"]


class Catalog:
    """Every model the config and the installed providers know, by name, with what each can do."""

    def __init__(self, config: Config, providers: ProviderRegistry):
        self._providers = providers
        declared: dict[str, ModelConfig] = {}
        for name in providers.names():
            # read from the provider's class: listing models builds no provider
            for builtin in providers.traits(name).builtin_models:
                declared[builtin.name] = builtin
        for model in config.models:
            base = declared.get(model.name)
            if base is not None and base.provider == model.provider:
                # a config entry refines a built-in one: only the fields it sets change
                merged = {**base.model_dump(), **model.model_dump(exclude_unset=True)}
                declared[model.name] = model_config(merged)
            else:
                declared[model.name] = model
        self._entries = {name: self._entry(cfg) for name, cfg in declared.items()}

    def _entry(self, cfg: ModelConfig) -> ModelEntry:
        traits = self._providers.traits(cfg.provider)
        return ModelEntry(
            name=cfg.name,
            provider=cfg.provider,
            locality=cfg.locality or traits.default_locality,
            capabilities=frozenset(cfg.capabilities or traits.default_capabilities),
            context_window=cfg.context_window or 8192,
            price_input_per_1m=cfg.price.input_per_1m,
            price_output_per_1m=cfg.price.output_per_1m,
            config=cfg,
        )

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> ModelEntry:
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownModelError(name, self.names())
        return entry

    def provider_for(self, entry: ModelEntry) -> Provider:
        return self._providers.get(entry.provider)

    def availability(self, entry: ModelEntry) -> Availability:
        return self.provider_for(entry).availability(entry)

    def describe(self, entry: ModelEntry) -> dict[str, Any]:
        """The JSON shape of `mixstack models --json`."""
        avail = self.availability(entry)
        return {
            "name": entry.name,
            "provider": entry.provider,
            "locality": entry.locality,
            "capabilities": sorted(entry.capabilities),
            "context_window": entry.context_window,
            "price_input_per_1m": entry.price_input_per_1m,
            "price_output_per_1m": entry.price_output_per_1m,
            "available": avail.available,
            "availability": avail.reason,
        }
