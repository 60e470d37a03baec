"""Prometheus metrics of the gateway: requests, errors, latency, tokens and cost by model and key.

Each app has its own registry (no global state); label children are cached so the hot path
pays one dict lookup per metric. With several workers (`mixstack serve --workers N`), each
worker writes its values to `$PROMETHEUS_MULTIPROC_DIR` (the client library's multiprocess
mode, set up by `serve`) and `/metrics` answers with the sum over every worker, whichever
worker the scrape reaches. Replicas on several machines are scraped one by one and summed
by Prometheus (`sum without (instance) (…)`).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "GatewayMetrics"]

#: the client library's multiprocess directory (read when it is imported)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "key")
        self.requests = Counter(
            "mixstack_requests",
            "Chat completion requests",
            (*labels, "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "mixstack_errors",
            "Failed requests by error type",
            (*labels, "type"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mixstack_request_latency_seconds",
            "Time to the whole answer",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "mixstack_time_to_first_token_seconds",
            "Time to the first streamed piece",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "mixstack_tokens", "Tokens by direction", (*labels, "kind"), registry=self.registry
        )
        self.cost = Counter("mixstack_cost_usd", "Cost in USD", labels, registry=self.registry)
        self._children: dict[tuple[Any, ...], Any] = {}
        #: the children a successful request touches, per (model, key): one lookup a request
        self._ok: dict[tuple[str, str], tuple[Any, ...]] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def success(
        self,
        model: str,
        key: str,
        *,
        latency_s: float,
        ttft_s: float | None,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
    ) -> None:
        found = self._ok.get((model, key))
        if found is None:
            found = self._ok[(model, key)] = (
                self.requests.labels(model, key, "200"),
                self.latency.labels(model, key),
                self.ttft.labels(model, key),
                self.tokens.labels(model, key, "prompt"),
                self.tokens.labels(model, key, "completion"),
                self.cost.labels(model, key),
            )
        requests, latency, ttft, prompt, completion, cost = found
        requests.inc()
        latency.observe(latency_s)
        if ttft_s is not None:
            ttft.observe(ttft_s)
        prompt.inc(prompt_tokens)
        completion.inc(completion_tokens)
        if cost_usd:
            cost.inc(cost_usd)

    def failure(self, model: str, key: str, status: int, error_type: str) -> None:
        self._child(self.requests, model, key, str(status)).inc()
        self._child(self.errors, model, key, error_type).inc()

    def render(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
