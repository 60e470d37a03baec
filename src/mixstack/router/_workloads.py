"""Which workload a request belongs to: named, addressed as `workload/<name>`, or by rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mixstack._types import ImagePart, Request
from mixstack.config import Config
from mixstack.config.workloads import DEFAULT_WORKLOAD, RoutingRule, WorkloadConfig
from mixstack.errors import InvalidRequestError
from mixstack.router._policy import Workload

__all__ = ["WORKLOAD_PREFIX", "WorkloadChooser", "embedded_default"]

WORKLOAD_PREFIX = "workload/"


def embedded_default(config: Config) -> WorkloadConfig:
    """The workload that applies when the config declares no `default`."""
    return WorkloadConfig(
        description="built-in: any model unless the prompt holds PII, the local default first",
        privacy="auto",
        prefer=[config.default_model],
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    index: int
    rule: RoutingRule
    keywords: re.Pattern[str] | None
    words: tuple[str, ...]

    def matches(self, images: bool, tools: bool, text: str) -> bool:
        rule = self.rule
        if rule.images is not None and rule.images != images:
            return False
        if rule.tools is not None and rule.tools != tools:
            return False
        if rule.min_chars is not None and len(text) < rule.min_chars:
            return False
        if rule.max_chars is not None and len(text) > rule.max_chars:
            return False
        if self.keywords is None:
            return True
        # plain substring tests first (C speed); the regex only confirms word boundaries
        for word in self.words:
            if word in text:
                return self.keywords.search(text) is not None
        return False


class WorkloadChooser:
    def __init__(self, config: Config):
        self.workloads = dict(config.workloads)
        self.workloads.setdefault(DEFAULT_WORKLOAD, embedded_default(config))
        self.default_name = config.routing.default_workload
        self._rules = [
            _Rule(i, rule, rule.keyword_pattern(), tuple(k.strip().lower() for k in rule.keywords))
            for i, rule in enumerate(config.routing.rules)
        ]

    def names(self) -> list[str]:
        return sorted(self.workloads)

    def get(self, name: str, *, source: str) -> Workload:
        cfg = self.workloads.get(name)
        if cfg is None:
            raise InvalidRequestError(
                f"unknown workload {name!r}; known workloads: {', '.join(self.names())}. "
                "Name one of them or declare it under `workloads:` in mixstack.yaml.",
                param="workload",
                code="workload_not_found",
            )
        return Workload(name, cfg, source)

    def choose(self, request: Request) -> Workload:
        model = request.model or ""
        if model.startswith(WORKLOAD_PREFIX):
            return self.get(model[len(WORKLOAD_PREFIX) :], source="model")
        if request.workload:
            return self.get(request.workload, source="explicit")
        if self._rules:
            text = "\n".join(m.text for m in request.messages if m.role != "system").lower()
            images = any(isinstance(p, ImagePart) for m in request.messages for p in m.content)
            tools = bool(request.tools)
            for rule in self._rules:
                if rule.matches(images, tools, text):
                    return self.get(rule.rule.workload, source=f"rule {rule.index}")
        return self.get(self.default_name, source="default")
