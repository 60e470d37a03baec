"""The root of `mixstack.yaml`. Each section's schema lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mixstack.config.agents import (
    AgentsConfig,
    PermissionSet,
    ToolsConfig,
    check_agent_sections,
)
from mixstack.config.gateway import GatewayConfig
from mixstack.config.models import ModelConfig
from mixstack.config.monitor import MonitorConfig
from mixstack.config.workloads import DEFAULT_WORKLOAD, RoutingConfig, WorkloadConfig

__all__ = ["DEFAULT_MODEL", "Config"]

DEFAULT_MODEL = "local/smollm2-135m-instruct"


class CircuitConfig(BaseModel):
    """When a model's endpoint is paused after failing (shared by every replica with
    `redis:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(
        default=5, ge=1, description="failures in a row that open a model's circuit"
    )
    cooldown_s: float = Field(
        default=30.0, gt=0, description="seconds an open circuit waits before one trial call"
    )


class Config(BaseModel):
    """The whole `mixstack.yaml`, validated: models, workloads, routing, keys, tools,
    permissions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: str = DEFAULT_MODEL
    home: Path | None = Field(
        default=None, description="where the store lives (default: $MIXSTACK_HOME or user data)"
    )
    store: str | None = Field(
        default=None,
        description="store URL: sqlite:///path/mixstack.db (default: the home's) or "
        "postgresql://user@host/db (several gateway replicas); $MIXSTACK_STORE overrides it",
    )
    redis: str | None = Field(
        default=None,
        description="redis://host:port/db for the rate-limit windows, budget holds and circuit "
        "breakers gateway replicas share; $MIXSTACK_REDIS overrides it",
    )
    redis_down: Literal["store", "closed"] = Field(
        default="store",
        description="when Redis is unreachable: `store` keeps the limits and holds in the store "
        "(slower, still shared), `closed` refuses limited requests until it is back",
    )
    store_content: bool = Field(
        default=True, description="store prompt and response text with each call"
    )
    models: list[ModelConfig] = Field(default_factory=list)
    gateway: GatewayConfig = GatewayConfig()
    workloads: dict[str, WorkloadConfig] = Field(default_factory=dict)
    routing: RoutingConfig = RoutingConfig()
    circuit: CircuitConfig = CircuitConfig()
    tools: ToolsConfig = ToolsConfig()
    permissions: dict[str, PermissionSet] = Field(
        default_factory=dict, description="per workload name (or `default`)"
    )
    agents: AgentsConfig = AgentsConfig()
    monitor: MonitorConfig = MonitorConfig()
    source: Path | None = Field(default=None, exclude=True, description="file it was read from")

    @model_validator(mode="after")
    def _agent_references(self) -> Config:
        check_agent_sections(self.permissions, self.agents, getattr(self, "workloads", None))
        return self

    @model_validator(mode="after")
    def _workload_references(self) -> Config:
        """Names that point at workloads must exist (models are checked with the catalog)."""
        known = set(self.workloads) | {DEFAULT_WORKLOAD}
        for name in self.workloads:
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"workloads.{name!r}: a workload name has no `/` or spaces")
        wanted = [("routing.default_workload", self.routing.default_workload)]
        for i, rule in enumerate(self.routing.rules):
            wanted.append((f"routing.rules[{i}].workload", rule.workload))
        for model in self.models:
            wanted += [(f"models.{model.name}.workloads", w) for w in model.workloads or []]
        for path, name in wanted:
            if name not in known:
                raise ValueError(
                    f"{path}: unknown workload {name!r}; known workloads: "
                    f"{', '.join(sorted(known))}"
                )
        return self
