"""Choose the model for a request.

Today: the model the request names, else the config's default model. Workload policies
(privacy, capabilities, cost) plug in here and produce the same `RouteDecision`.
"""

from __future__ import annotations

from mixstack.catalog import Catalog
from mixstack.config import Config
from mixstack.router.decision import RouteDecision
from mixstack.types import Request

__all__ = ["Router"]


class Router:
    def __init__(self, config: Config, catalog: Catalog):
        self._config = config
        self._catalog = catalog

    def decide(self, request: Request) -> RouteDecision:
        name = request.model or self._config.default_model
        entry = self._catalog.get(name)
        return RouteDecision(
            model=entry.name,
            locality=entry.locality,
            workload=request.workload or "",
            candidates=(entry.name,),
            reason="explicit model" if request.model else "default model",
        )
