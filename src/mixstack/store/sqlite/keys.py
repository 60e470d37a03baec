"""API keys on SQLite (the `api_keys` table of migrations 0003 and 0007)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from mixstack.store.keys import VirtualKey

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteKeys", "key_of_row"]


def key_of_row(row: Any) -> VirtualKey:
    return VirtualKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        budget_usd=row["budget_usd"],
        spent_usd=row["spent_usd"],
        reserved_usd=row["reserved_usd"],
        max_tokens=row["max_tokens"],
        tokens_used=row["tokens_used"],
        rpm=row["rpm"],
        tpm=row["tpm"],
        models=tuple(json.loads(row["models"] or "[]")),
        requests=row["requests"],
        admin=bool(row["admin"]),
        expires_at=row["expires_at"],
        budget_period=row["budget_period"],
        period_start=row["period_start"],
    )


class SQLiteKeys:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def insert(self, key: VirtualKey, key_hash: str) -> None:
        self._store.write(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, budget_usd, "
            "max_tokens, rpm, tpm, models, admin, expires_at, budget_period, period_start) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.name,
                key_hash,
                key.prefix,
                key.created_at,
                key.budget_usd,
                key.max_tokens,
                key.rpm,
                key.tpm,
                json.dumps(list(key.models)),
                int(key.admin),
                key.expires_at,
                key.budget_period,
                key.period_start,
            ),
        ).result()

    def get(self, key_id: str) -> VirtualKey | None:
        row = self._store.query_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return key_of_row(row) if row is not None else None

    def list(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self._store.query(f"SELECT * FROM api_keys {where} ORDER BY created_at")
        return [key_of_row(r) for r in rows]

    def revoke(self, key_id: str, at: float) -> bool:
        changed = self._store.write(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, key_id)
        ).result()
        del changed  # lastrowid says nothing about an UPDATE: read the row back
        key = self.get(key_id)
        return key is not None and key.revoked_at == at

    def any_exists(self) -> bool:
        return self._store.query_one("SELECT 1 FROM api_keys LIMIT 1") is not None

    async def find(self, key_hash: str) -> VirtualKey | None:
        row = await self._store.aquery_one("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return key_of_row(row) if row is not None else None

    async def find_by_id(self, key_id: str) -> VirtualKey | None:
        row = await self._store.aquery_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return key_of_row(row) if row is not None else None

    async def any_exists_async(self) -> bool:
        return await self._store.aquery_one("SELECT 1 FROM api_keys LIMIT 1") is not None

    async def restart_period(self, key_id: str, seen_start: float, new_start: float) -> None:
        await asyncio.wrap_future(
            self._store.write(
                "UPDATE api_keys SET spent_usd = 0, tokens_used = 0, period_start = ? "
                "WHERE id = ? AND period_start = ?",
                (new_start, key_id, seen_start),
            )
        )
