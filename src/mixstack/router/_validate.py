"""Load-time checks of workloads against the catalog: a violating config fails before any call.

Every workload needs at least one model that satisfies its static constraints; every model
it prefers or falls back to must exist and satisfy them too (no remote preference for a
local-only workload, no text-only fallback for a vision workload).
"""

from __future__ import annotations

from mixstack.catalog import Catalog
from mixstack.config import Config
from mixstack.config.workloads import DEFAULT_WORKLOAD
from mixstack.errors import ConfigError
from mixstack.router._policy import Workload, static_reason
from mixstack.router._workloads import WorkloadChooser

__all__ = ["validate_workloads"]


def validate_workloads(config: Config, catalog: Catalog, chooser: WorkloadChooser) -> None:
    label = str(config.source) if config.source else "<config>"
    declared = set(config.workloads)
    for name in chooser.names():
        workload = Workload(name, chooser.workloads[name], source="config")
        built_in = name == DEFAULT_WORKLOAD and name not in declared
        _check_lists(label, workload, catalog, built_in=built_in)
        reasons = {e.name: static_reason(e, workload, offline_env=False) for e in catalog}
        if all(reasons.values()):
            shown = "; ".join(f"{m}: {r}" for m, r in list(reasons.items())[:6])
            raise ConfigError(
                f"{label}: workloads.{name}: no model in the catalog can serve this workload "
                f"({shown}). Declare a model that fits under `models:` or relax the workload."
            )


def _check_lists(label: str, workload: Workload, catalog: Catalog, *, built_in: bool) -> None:
    for field in ("prefer", "fallbacks"):
        for i, model in enumerate(getattr(workload.config, field)):
            path = f"workloads.{workload.name}.{field}[{i}]"
            if model not in catalog:
                if built_in:
                    continue  # `default_model` names it; an unknown one fails when used
                raise ConfigError(
                    f"{label}: {path}: unknown model {model!r}; known models: "
                    f"{', '.join(catalog.names())}. Fix the name or declare it under `models:`."
                )
            reason = static_reason(catalog.get(model), workload, offline_env=False)
            if reason is not None:
                raise ConfigError(
                    f"{label}: {path}: {model} cannot serve workload {workload.name!r} "
                    f"({reason}); remove it from {field} or change the workload."
                )
