"""A catalog for the guided tour: the configured models plus one rented model, never called."""

from __future__ import annotations

from mixstack.catalog import Catalog
from mixstack.config import Config, ModelConfig, Price
from mixstack.config.workloads import WorkloadConfig
from mixstack.providers.base import ProviderRegistry

__all__ = ["demo_catalog"]


def demo_catalog(config: Config) -> tuple[Config, Catalog]:
    rented = ModelConfig(
        name="rented/big",
        provider="fake",
        locality="remote",
        capabilities=["chat", "tools", "json", "vision"],
        price=Price(input_per_1m=2.0, output_per_1m=8.0),
    )
    support = WorkloadConfig(privacy="auto", prefer=["rented/big"])
    tour = config.model_copy(
        update={
            "models": [*config.models, rented],
            "workloads": {**config.workloads, "support": support},
        }
    )
    return tour, Catalog(tour, ProviderRegistry(tour))
