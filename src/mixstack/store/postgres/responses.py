"""The eval response cache on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgResponses"]


class PgResponses:
    def __init__(self, engine: PgEngine):
        self._db = engine

    async def get(self, key: str) -> str | None:
        row = await self._db.aquery_one(
            "SELECT completion FROM response_cache WHERE key = %s", (key,)
        )
        return str(row["completion"]) if row is not None else None

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        rows = await self._db.aquery(
            "SELECT key, completion FROM response_cache WHERE key = ANY(%s)", (unique,)
        )
        return {r["key"]: r["completion"] for r in rows}

    def put(self, key: str, model: str, completion_json: str) -> None:
        self._db.submit(
            "INSERT INTO response_cache (key, model, created_at, completion) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET model = excluded.model, "
            "created_at = excluded.created_at, completion = excluded.completion",
            (key, model, time.time(), completion_json),
        )
