"""The eval response cache on SQLite."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteResponses"]

#: keys per `IN (…)` lookup: well under SQLite's bound-parameter limit
_LOOKUP_CHUNK = 500


class SQLiteResponses:
    def __init__(self, store: SQLiteStore):
        self._store = store

    async def get(self, key: str) -> str | None:
        row = await self._store.aquery_one(
            "SELECT completion FROM response_cache WHERE key = ?", (key,)
        )
        return str(row[0]) if row is not None else None

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = await self._store.aquery(
                f"SELECT key, completion FROM response_cache WHERE key IN ({marks})", chunk
            )
            found.update((row[0], row[1]) for row in rows)
        return found

    def put(self, key: str, model: str, completion_json: str) -> None:
        self._store.submit(
            "INSERT OR REPLACE INTO response_cache (key, model, created_at, completion) "
            "VALUES (?, ?, ?, ?)",
            (key, model, time.time(), completion_json),
        )
