"""API keys on PostgreSQL."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mixstack.store.keys import VirtualKey

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgKeys"]


def _key(row: dict[str, Any]) -> VirtualKey:
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


class PgKeys:
    def __init__(self, engine: PgEngine):
        self._db = engine

    def insert(self, key: VirtualKey, key_hash: str) -> None:
        self._db.execute(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, budget_usd, "
            "max_tokens, rpm, tpm, models, admin, expires_at, budget_period, period_start) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                key.admin,
                key.expires_at,
                key.budget_period,
                key.period_start,
            ),
        )

    def get(self, key_id: str) -> VirtualKey | None:
        row = self._db.query_one("SELECT * FROM api_keys WHERE id = %s", (key_id,))
        return _key(row) if row is not None else None

    def list(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        return [
            _key(r) for r in self._db.query(f"SELECT * FROM api_keys {where} ORDER BY created_at")
        ]

    def revoke(self, key_id: str, at: float) -> bool:
        changed = self._db.execute(
            "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL", (at, key_id)
        )
        return changed == 1

    def any_exists(self) -> bool:
        return self._db.query_one("SELECT 1 AS one FROM api_keys LIMIT 1") is not None

    async def find(self, key_hash: str) -> VirtualKey | None:
        row = await self._db.aquery_one("SELECT * FROM api_keys WHERE key_hash = %s", (key_hash,))
        return _key(row) if row is not None else None

    async def find_by_id(self, key_id: str) -> VirtualKey | None:
        row = await self._db.aquery_one("SELECT * FROM api_keys WHERE id = %s", (key_id,))
        return _key(row) if row is not None else None

    async def any_exists_async(self) -> bool:
        return await self._db.aquery_one("SELECT 1 AS one FROM api_keys LIMIT 1") is not None

    async def restart_period(self, key_id: str, seen_start: float, new_start: float) -> None:
        await self._db.aexecute(
            "UPDATE api_keys SET spent_usd = 0, tokens_used = 0, period_start = %s "
            "WHERE id = %s AND period_start = %s",
            (new_start, key_id, seen_start),
        )
