"""Rate-limit windows on SQLite: admission is one conditional INSERT through the store's
single writer, and SQLite runs one writer at a time across processes, so the count a
request is admitted against is the count every other process sees."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING

from mixstack.store.rates import WINDOW_S, RateVerdict, verdict

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteRates"]

_ADMIT = """
INSERT INTO rate_events (key_id, at, tokens)
SELECT :key, :now, :tokens
WHERE (:rpm IS NULL OR
       (SELECT count(*) FROM rate_events WHERE key_id = :key AND at > :since) < :rpm)
  AND (:tpm IS NULL OR
       (SELECT coalesce(sum(tokens), 0) FROM rate_events WHERE key_id = :key AND at > :since)
       = 0 OR
       (SELECT coalesce(sum(tokens), 0) FROM rate_events WHERE key_id = :key AND at > :since)
       + :tokens <= :tpm)
"""
#: prune the windows once per this many admissions (per process)
_PRUNE_EVERY = 200


class SQLiteRates:
    def __init__(self, store: SQLiteStore):
        self._store = store
        self._admitted = itertools.count()

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        now = time.time()
        values = {
            "key": key_id,
            "now": now,
            "since": now - WINDOW_S,
            "tokens": tokens,
            "rpm": rpm,
            "tpm": tpm,
        }
        event = await asyncio.wrap_future(self._store.write(_ADMIT, values))
        if next(self._admitted) % _PRUNE_EVERY == 0:
            self._store.submit("DELETE FROM rate_events WHERE at <= ?", (now - WINDOW_S,))
        if event:
            return RateVerdict(event)
        rows = await self._store.aquery(
            "SELECT at, tokens FROM rate_events WHERE key_id = ? AND at > ? ORDER BY at",
            (key_id, now - WINDOW_S),
        )
        refused = verdict([(r[0], r[1]) for r in rows], rpm, tpm, tokens, now)
        # the window moved between the two statements: refuse with the shortest wait
        return refused or RateVerdict(None, "rpm" if rpm is not None else "tpm", 1.0)

    def settle(self, key_id: str, admitted: RateVerdict, tokens: int) -> None:
        self._store.submit(
            "UPDATE rate_events SET tokens = ? WHERE id = ?", (tokens, admitted.event)
        )
