"""The eval harness's response cache: a completion per request key, so reruns cost nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["ResponseCacheRepository"]


class ResponseCacheRepository(Protocol):
    async def get(self, key: str) -> str | None:
        """The stored completion (JSON) under a key, off the event loop."""

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored completions (JSON) of those keys that have one."""

    def put(self, key: str, model: str, completion_json: str) -> None:
        """Queued, never waited on."""
