"""Rate-limit windows on PostgreSQL (when no Redis is configured, or Redis is down): each
admission reads and extends the key's window under a per-key advisory lock, in one
transaction, with the database's clock, so replicas on any machine agree."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from mixstack.store.rates import WINDOW_S, RateVerdict, verdict

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgRates"]

_PRUNE_EVERY = 200


class PgRates:
    def __init__(self, engine: PgEngine):
        self._db = engine
        self._admitted = itertools.count()

    def _admit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int) -> RateVerdict:
        with self._db.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (key_id,))
            row = conn.execute(
                "SELECT extract(epoch FROM clock_timestamp())::float8 AS now"
            ).fetchone()
            assert row is not None  # a SELECT without FROM has one row
            now = float(row["now"])
            rows = conn.execute(
                "SELECT at, tokens FROM rate_events WHERE key_id = %s AND at > %s ORDER BY at",
                (key_id, now - WINDOW_S),
            ).fetchall()
            refused = verdict([(r["at"], r["tokens"]) for r in rows], rpm, tpm, tokens, now)
            if refused is not None:
                return refused
            added = conn.execute(
                "INSERT INTO rate_events (key_id, at, tokens) VALUES (%s, %s, %s) RETURNING id",
                (key_id, now, tokens),
            ).fetchone()
            if next(self._admitted) % _PRUNE_EVERY == 0:
                conn.execute("DELETE FROM rate_events WHERE at <= %s", (now - WINDOW_S,))
            assert added is not None  # RETURNING of a one-row INSERT
            return RateVerdict(int(added["id"]))

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        return await self._db.run(lambda: self._admit(key_id, rpm, tpm, tokens))

    def settle(self, key_id: str, admitted: RateVerdict, tokens: int) -> None:
        self._db.submit(
            "UPDATE rate_events SET tokens = %s WHERE id = %s", (tokens, admitted.event)
        )
