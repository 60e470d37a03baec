"""A config for the guided tour: the configured models plus one rented model, never called."""

from __future__ import annotations

from mixstack.config import Config, Price
from mixstack.config.models import FakeModelConfig
from mixstack.config.workloads import WorkloadConfig

__all__ = ["demo_config"]


def demo_config(config: Config) -> Config:
    """The config plus a rented model and a `support` workload that prefers it."""
    rented = FakeModelConfig(
        name="rented/big",
        provider="fake",
        locality="remote",
        capabilities=["chat", "tools", "json", "vision"],
        price=Price(input_per_1m=2.0, output_per_1m=8.0),
    )
    support = WorkloadConfig(privacy="auto", prefer=["rented/big"])
    return config.model_copy(
        update={
            "models": [*config.models, rented],
            "workloads": {**config.workloads, "support": support},
        }
    )
