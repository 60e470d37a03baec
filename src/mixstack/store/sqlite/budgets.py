"""Budget holds on SQLite: a hold is a row; triggers (migration 0009) keep the key's totals."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from mixstack.store.budgets import LEASE_S, Hold, KeyUsage, Ledger
from mixstack.store.lease import Heartbeat, new_owner, owner_gone

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteBudgets"]

_TAKE = (
    "INSERT INTO budget_holds (key_id, owner, cost_usd, tokens, created_at) VALUES (?, ?, ?, ?, ?)"
)
_SETTLE = "UPDATE budget_holds SET settled_usd = ?, settled_tokens = ? WHERE id = ?"
# a hold freed meanwhile (its owner's lease lapsed while the call ran): the spend still counts
_SPEND_UNHELD = (
    "UPDATE api_keys SET spent_usd = spent_usd + ?, tokens_used = tokens_used + ?, "
    "requests = requests + 1 WHERE id = ? AND NOT EXISTS (SELECT 1 FROM budget_holds WHERE id = ?)"
)
_SPEND = (
    "UPDATE api_keys SET spent_usd = spent_usd + ?, tokens_used = tokens_used + ?, "
    "requests = requests + 1 WHERE id = ?"
)


# one statement, one snapshot: the spend and the holds in flight agree
_LEDGER = (
    "SELECT budget_usd, max_tokens, period_start, spent_usd, tokens_used, "
    "(SELECT json_group_array(json_array(id, cost_usd, tokens)) FROM budget_holds "
    "WHERE key_id = k.id) FROM api_keys k WHERE id = ?"
)


class SQLiteBudgets:
    def __init__(self, store: SQLiteStore):
        self._store = store
        self._owner = new_owner()
        self._leased = False
        self._lock = threading.Lock()
        self._heartbeat: Heartbeat | None = None

    @property
    def owner(self) -> str:
        return self._owner

    def _ensure_lease(self) -> None:
        """The lease row is queued before this process's first hold (the writer keeps order)."""
        if self._leased:
            return
        with self._lock:
            if self._leased:
                return
            host, pid, _ = self._owner.split(":")
            now = time.time()
            self._store.submit(
                "INSERT OR REPLACE INTO store_leases (owner, host, pid, started_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (self._owner, host, int(pid), now, now + LEASE_S),
            )
            self._heartbeat = Heartbeat(self._beat, LEASE_S / 3, "mixstack-lease")
            self._store.on_close(self._release)
            self._leased = True

    def _beat(self) -> None:
        self._store.submit(
            "UPDATE store_leases SET expires_at = ? WHERE owner = ?",
            (time.time() + LEASE_S, self._owner),
        )
        self.reclaim()

    def _release(self) -> None:
        """At close: stop renewing and give up the lease (settles queued before are kept)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._store.submit("DELETE FROM budget_holds WHERE owner = ?", (self._owner,))
        self._store.submit("DELETE FROM store_leases WHERE owner = ?", (self._owner,))

    async def reserve(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None = None
    ) -> Hold | None:
        self._ensure_lease()
        future = self._store.write(_TAKE, (key_id, self._owner, cost_usd, tokens, time.time()))
        try:
            hold_id = await asyncio.wrap_future(future)
        except sqlite3.IntegrityError:  # the budget trigger aborted the insert
            return None
        return Hold(hold_id, key_id, cost_usd, tokens)

    async def adopt(self, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        # the budget trigger (0003) refuses a hold past the budget even here; the caller
        # logs a hold it could not carry over
        return await self.reserve(key_id, cost_usd, tokens)

    async def ledger(self, key_id: str) -> Ledger | None:
        row = await self._store.aquery_one(_LEDGER, (key_id,))
        if row is None:
            return None
        holds = tuple(Hold(int(h[0]), key_id, h[1], int(h[2])) for h in json.loads(row[5]))
        return Ledger(row[0], row[1], row[2], row[3], row[4], holds)

    def settle(self, hold: Hold, cost_usd: float, tokens: int) -> None:
        if hold.id is None:
            self._store.submit(_SPEND, (cost_usd, tokens, hold.key_id))
            return
        self._store.submit(_SPEND_UNHELD, (cost_usd, tokens, hold.key_id, hold.id))
        self._store.submit(_SETTLE, (cost_usd, tokens, hold.id))

    async def usage(self, key_id: str) -> KeyUsage | None:
        row = await self._store.aquery_one(
            "SELECT spent_usd, reserved_usd, tokens_used, tokens_reserved FROM api_keys "
            "WHERE id = ?",
            (key_id,),
        )
        if row is None:
            return None
        return KeyUsage(row[0], row[1], row[2], row[3])

    def held_by(self, owner: str) -> list[Hold]:
        rows = self._store.query(
            "SELECT id, key_id, cost_usd, tokens FROM budget_holds WHERE owner = ? ORDER BY id",
            (owner,),
        )
        return [Hold(r[0], r[1], r[2], r[3]) for r in rows]

    def reclaim(self) -> int:
        # holds first: a hold seen here has its owner's lease committed before it, so the
        # leases read next include every live owner (read the other way round, a process
        # starting in between would look like an orphan)
        owners = [r[0] for r in self._store.query("SELECT DISTINCT owner FROM budget_holds")]
        now = time.time()
        leases = self._store.query("SELECT owner, host, pid, expires_at FROM store_leases")
        gone = [r[0] for r in leases if r[0] != self._owner and owner_gone(r[1], r[2], r[3], now)]
        live = {r[0] for r in leases} - set(gone)
        # holds whose owner has no lease at all belong to nobody either
        orphans = [o for o in owners if o not in live and o != self._owner]
        freed = 0
        for owner in dict.fromkeys(gone + orphans):
            freed += len(self.held_by(owner))
            self._store.write("DELETE FROM budget_holds WHERE owner = ?", (owner,))
            self._store.write("DELETE FROM store_leases WHERE owner = ?", (owner,))
        if gone or orphans:
            self._store.flush()
        return freed
