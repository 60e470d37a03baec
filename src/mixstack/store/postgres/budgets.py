"""Budget holds on PostgreSQL: taking a hold is one conditional statement (the key's row
lock orders concurrent holds from every replica); settling frees it and adds the spend in
one statement."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from mixstack.store.budgets import LEASE_S, Hold, KeyUsage, Ledger
from mixstack.store.lease import Heartbeat, new_owner, owner_gone

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgBudgets"]

_TAKE = """
WITH k AS (
    UPDATE api_keys SET reserved_usd = reserved_usd + %(cost)s,
        tokens_reserved = tokens_reserved + %(tokens)s
    WHERE id = %(key)s
      AND (budget_usd IS NULL OR spent_usd + reserved_usd + %(cost)s <= budget_usd + 1e-12)
      AND (max_tokens IS NULL OR tokens_used + tokens_reserved + %(tokens)s <= max_tokens)
    RETURNING id
)
INSERT INTO budget_holds (key_id, owner, cost_usd, tokens, created_at)
SELECT id, %(owner)s, %(cost)s, %(tokens)s, %(now)s FROM k RETURNING id
"""
# a hold freed meanwhile (its owner's lease lapsed while the call ran) frees nothing twice;
# the spend counts either way
_SETTLE = """
WITH h AS (DELETE FROM budget_holds WHERE id = %(hold)s RETURNING cost_usd, tokens)
UPDATE api_keys SET
    reserved_usd = GREATEST(0, reserved_usd - COALESCE((SELECT cost_usd FROM h), 0)),
    tokens_reserved = GREATEST(0, tokens_reserved - COALESCE((SELECT tokens FROM h), 0)),
    spent_usd = spent_usd + %(cost)s, tokens_used = tokens_used + %(tokens)s,
    requests = requests + 1
WHERE id = %(key)s
"""
_SPEND = (
    "UPDATE api_keys SET spent_usd = spent_usd + %(cost)s, tokens_used = tokens_used + "
    "%(tokens)s, requests = requests + 1 WHERE id = %(key)s"
)
# a hold Redis granted before it went down: kept without the budget check
_ADOPT = """
WITH k AS (
    UPDATE api_keys SET reserved_usd = reserved_usd + %(cost)s,
        tokens_reserved = tokens_reserved + %(tokens)s
    WHERE id = %(key)s RETURNING id
)
INSERT INTO budget_holds (key_id, owner, cost_usd, tokens, created_at)
SELECT id, %(owner)s, %(cost)s, %(tokens)s, %(now)s FROM k RETURNING id
"""
# one statement, one snapshot: the spend and the holds in flight agree
_LEDGER = """
SELECT budget_usd, max_tokens, period_start, spent_usd, tokens_used,
    ARRAY(SELECT ARRAY[id::float8, cost_usd, tokens::float8] FROM budget_holds
          WHERE key_id = k.id) AS holds
FROM api_keys k WHERE id = %(key)s
"""
_FREE_OWNER = """
WITH gone AS (DELETE FROM budget_holds WHERE owner = %(owner)s RETURNING key_id, cost_usd, tokens),
sums AS (SELECT key_id, sum(cost_usd) AS c, sum(tokens) AS t FROM gone GROUP BY key_id)
UPDATE api_keys k SET reserved_usd = GREATEST(0, k.reserved_usd - s.c),
    tokens_reserved = GREATEST(0, k.tokens_reserved - s.t)
FROM sums s WHERE k.id = s.key_id
"""


# a run of spends, one statement: summed per key
_SPENDS = """
UPDATE api_keys k SET spent_usd = k.spent_usd + s.c, tokens_used = k.tokens_used + s.t,
    requests = k.requests + s.n
FROM (SELECT key, sum(c) AS c, sum(t) AS t, count(*) AS n
      FROM unnest(%(keys)s::text[], %(costs)s::float8[], %(tokens)s::bigint[]) AS u(key, c, t)
      GROUP BY key) s
WHERE k.id = s.key
"""


def _spends(rows: list[Any]) -> tuple[str, dict[str, Any]]:
    return _SPENDS, {
        "keys": [r["key"] for r in rows],
        "costs": [r["cost"] for r in rows],
        "tokens": [r["tokens"] for r in rows],
    }


class PgBudgets:
    def __init__(self, engine: PgEngine):
        self._db = engine
        engine.commutes(_SPEND, _spends)  # additions to a key's counters
        self._owner = new_owner()
        self._leased = False
        self._lock = threading.Lock()
        self._heartbeat: Heartbeat | None = None

    @property
    def owner(self) -> str:
        return self._owner

    def _ensure_lease(self) -> None:
        if self._leased:
            return
        with self._lock:
            if self._leased:
                return
            host, pid, _ = self._owner.split(":")
            now = time.time()
            self._db.execute(
                "INSERT INTO store_leases (owner, host, pid, started_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (owner) DO UPDATE SET "
                "expires_at = excluded.expires_at",
                (self._owner, host, int(pid), now, now + LEASE_S),
            )
            self._heartbeat = Heartbeat(self._beat, LEASE_S / 3, "mixstack-lease")
            self._db.on_close(self._release)
            self._leased = True

    def _beat(self) -> None:
        self._db.execute(
            "UPDATE store_leases SET expires_at = %s WHERE owner = %s",
            (time.time() + LEASE_S, self._owner),
        )
        self.reclaim()
        self._db.replay_journals()

    def _release(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._db.flush()
        self._free(self._owner)

    def _free(self, owner: str) -> None:
        self._db.execute(_FREE_OWNER, {"owner": owner})
        self._db.execute("DELETE FROM store_leases WHERE owner = %s", (owner,))

    async def reserve(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None = None
    ) -> Hold | None:
        return await self._take(_TAKE, key_id, cost_usd, tokens)

    async def adopt(self, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        return await self._take(_ADOPT, key_id, cost_usd, tokens)

    async def _take(self, sql: str, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        if not self._leased:
            await self._db.run(self._ensure_lease)
        row = await self._db.aquery_one(
            sql,
            {
                "key": key_id,
                "cost": cost_usd,
                "tokens": tokens,
                "owner": self._owner,
                "now": time.time(),
            },
        )
        return None if row is None else Hold(int(row["id"]), key_id, cost_usd, tokens)

    def settle(self, hold: Hold, cost_usd: float, tokens: int) -> None:
        values = {"hold": hold.id, "cost": cost_usd, "tokens": tokens, "key": hold.key_id}
        self._db.submit(_SPEND if hold.id is None else _SETTLE, values)

    async def ledger(self, key_id: str) -> Ledger | None:
        row = await self._db.aquery_one(_LEDGER, {"key": key_id})
        if row is None:
            return None
        holds = tuple(Hold(int(h[0]), key_id, h[1], int(h[2])) for h in row["holds"] or ())
        return Ledger(
            row["budget_usd"],
            row["max_tokens"],
            row["period_start"],
            row["spent_usd"],
            row["tokens_used"],
            holds,
        )

    async def usage(self, key_id: str) -> KeyUsage | None:
        row = await self._db.aquery_one(
            "SELECT spent_usd, reserved_usd, tokens_used, tokens_reserved FROM api_keys "
            "WHERE id = %s",
            (key_id,),
        )
        if row is None:
            return None
        return KeyUsage(
            row["spent_usd"], row["reserved_usd"], row["tokens_used"], row["tokens_reserved"]
        )

    def held_by(self, owner: str) -> list[Hold]:
        rows = self._db.query(
            "SELECT id, key_id, cost_usd, tokens FROM budget_holds WHERE owner = %s ORDER BY id",
            (owner,),
        )
        return [Hold(r["id"], r["key_id"], r["cost_usd"], r["tokens"]) for r in rows]

    def reclaim(self) -> int:
        # holds before leases: a hold seen has its owner's lease committed before it
        owners = [r["owner"] for r in self._db.query("SELECT DISTINCT owner FROM budget_holds")]
        now = time.time()
        leases = self._db.query("SELECT owner, host, pid, expires_at FROM store_leases")
        gone = [
            r["owner"]
            for r in leases
            if r["owner"] != self._owner and owner_gone(r["host"], r["pid"], r["expires_at"], now)
        ]
        live = {r["owner"] for r in leases} - set(gone)
        orphans = [o for o in owners if o not in live and o != self._owner]
        freed = 0
        for owner in dict.fromkeys(gone + orphans):
            freed += len(self.held_by(owner))
            self._free(owner)
        return freed
