"""Scorers, found through the `mixstack.scorers` entry-point group (built-ins register the same).

A plugin registers `name = "package.module:ScorerClass"`; the class subclasses `Scorer`.
"""

from __future__ import annotations

from typing import Any

from mixstack._plugins import plugins
from mixstack.evals._suite import ScorerSpec, SuiteError
from mixstack.evals.scorers.base import (
    Options,
    Score,
    ScoreContext,
    Scorer,
    ScorerEnv,
    ScorerError,
    ScorerFactory,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Options",
    "Score",
    "ScoreContext",
    "Scorer",
    "ScorerEnv",
    "ScorerError",
    "ScorerFactory",
    "ScorerRegistry",
]

ENTRY_POINT_GROUP = "mixstack.scorers"


class ScorerRegistry:
    """Builds scorers from specs, once per distinct spec, loading each plugin on first use."""

    def __init__(self, env: ScorerEnv, extra: dict[str, Any] | None = None):
        self.env = env
        self._eps = {ep.name: ep for ep in plugins(ENTRY_POINT_GROUP)}
        self._factories: dict[str, Any] = dict(extra or {})
        self._built: dict[str, Scorer[Any]] = {}
        self._by_id: dict[int, tuple[ScorerSpec, Scorer[Any]]] = {}

    def names(self) -> list[str]:
        return sorted({*self._eps, *self._factories})

    def _factory(self, name: str) -> Any:
        factory = self._factories.get(name)
        if factory is None:
            ep = self._eps.get(name)
            if ep is None:
                raise SuiteError(
                    f"unknown scorer {name!r}; known scorers: {', '.join(self.names())}. "
                    "Fix the name or install the plugin that provides it."
                )
            factory = ep.load()
            self._factories[name] = factory
        return factory

    def build(self, spec: ScorerSpec) -> Scorer[Any]:
        # the suite's default specs are the same objects for every case: skip re-keying them
        seen = self._by_id.get(id(spec))
        if seen is not None and seen[0] is spec:
            return seen[1]
        scorer = self._build(spec)
        if len(self._by_id) >= 4096:  # per-case specs: keep memory flat
            self._by_id.clear()
        self._by_id[id(spec)] = (spec, scorer)
        return scorer

    def _build(self, spec: ScorerSpec) -> Scorer[Any]:
        key = spec.key()
        scorer = self._built.get(key)
        if scorer is None:
            factory = self._factory(spec.type)
            build = getattr(factory, "build", None)
            scorer = build(spec.options, self.env) if build else factory(spec.options, self.env)
            self._built[key] = scorer
        return scorer
