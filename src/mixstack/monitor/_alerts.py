"""Where an alert goes: the log, `/metrics`, the store (dashboard, `mixstack alerts`) and the
configured webhook (and no other URL). Webhook posts run in the background with a timeout;
a failed post is logged and recorded with the alert, never raised into a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter

from mixstack.monitor._baseline import Alert
from mixstack.store import Store

__all__ = ["AlertSink"]

log = logging.getLogger("mixstack.monitor")


class AlertSink:
    def __init__(
        self,
        store: Callable[[], Store],
        registry: CollectorRegistry | None,
        *,
        webhook: str | None = None,
        timeout_s: float = 3.0,
    ):
        self._store = store
        self._webhook = webhook
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.counter = (
            Counter(
                "mixstack_alerts",
                "Alerts raised by the monitor",
                ("kind", "scope", "metric"),
                registry=registry,
            )
            if registry is not None
            else None
        )
        #: webhook deliveries that failed (shown on the dashboard)
        self.webhook_failures = 0

    def emit(self, alert: Alert) -> None:
        log.warning("alert: %s", alert.message)
        sent = ["log"]
        if self.counter is not None:
            self.counter.labels(alert.kind, alert.scope, alert.metric).inc()
            sent.append("metrics")
        if self._webhook:
            sent.append("webhook")
            self._post_later(alert.to_json())
        self._store().alerts.record(alert.to_json(), ",".join(sent))

    def _post_later(self, payload: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a sync caller): post now, bounded by the timeout
            self._post_sync(payload)
            return
        task = loop.create_task(self._post(payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        assert self._webhook is not None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, trust_env=False)
        try:
            response = await self._client.post(self._webhook, json={"alert": payload})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.webhook_failures += 1
            log.error("alert webhook %s failed: %s", self._webhook, exc)

    def _post_sync(self, payload: dict[str, Any]) -> None:
        assert self._webhook is not None
        try:
            httpx.post(
                self._webhook, json={"alert": payload}, timeout=self._timeout_s, trust_env=False
            ).raise_for_status()
        except httpx.HTTPError as exc:
            self.webhook_failures += 1
            log.error("alert webhook %s failed: %s", self._webhook, exc)

    async def drain(self) -> None:
        """Wait for webhook posts in flight (at shutdown and in tests)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        if self._client is not None:
            await self._client.aclose()
