"""Key budgets (USD and tokens): reserve an estimate before the call, settle the real cost after.

The reservation is one conditional write through the store's writer thread; the database
trigger of migration 0003 refuses it when spent + reserved would pass the budget, so budgets
hold under any concurrency, across gateway processes too. A request can overspend only by
what its real cost exceeds its estimate, never by more than that one request's cost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass

from mixstack.errors import BudgetExceeded
from mixstack.guard.keys import VirtualKey
from mixstack.store import Store

__all__ = ["Budget", "Reservation"]


@dataclass(frozen=True, slots=True)
class Reservation:
    key_id: str
    cost_usd: float
    tokens: int
    held: bool


class Budget:
    def __init__(self, store: Store):
        self.store = store

    async def reserve(self, key: VirtualKey, cost_usd: float, tokens: int) -> Reservation:
        if not key.limited:
            return Reservation(key.id, 0.0, 0, held=False)
        future = self.store.write(
            "UPDATE api_keys SET reserved_usd = reserved_usd + ?, "
            "tokens_reserved = tokens_reserved + ? WHERE id = ?",
            (cost_usd, tokens, key.id),
        )
        try:
            await asyncio.wrap_future(future)
        except sqlite3.IntegrityError as exc:
            raise BudgetExceeded(self._message(key, cost_usd, tokens)) from exc
        return Reservation(key.id, cost_usd, tokens, held=True)

    def settle(self, reservation: Reservation, cost_usd: float, tokens: int) -> None:
        """Release the hold and add the real spend; queued, never waited on."""
        self.store.submit(
            "UPDATE api_keys SET reserved_usd = MAX(0, reserved_usd - ?), "
            "tokens_reserved = MAX(0, tokens_reserved - ?), spent_usd = spent_usd + ?, "
            "tokens_used = tokens_used + ?, requests = requests + 1 WHERE id = ?",
            (reservation.cost_usd, reservation.tokens, cost_usd, tokens, reservation.key_id),
        )

    def _message(self, key: VirtualKey, cost_usd: float, tokens: int) -> str:
        row = self.store.query_one(
            "SELECT spent_usd, reserved_usd, tokens_used, tokens_reserved FROM api_keys "
            "WHERE id = ?",
            (key.id,),
        )
        spent = row["spent_usd"] if row else 0.0
        used = row["tokens_used"] if row else 0
        if key.budget_usd is not None and spent + cost_usd > key.budget_usd - 1e-12:
            return (
                f"key {key.id} is over its budget: ${spent:.6f} of ${key.budget_usd:.6f} spent "
                f"and this request may cost up to ${cost_usd:.6f}; lower max_tokens or use a "
                "key with a larger budget (`mixstack keys create --budget …`)."
            )
        if key.max_tokens is not None and used + tokens > key.max_tokens:
            return (
                f"key {key.id} is over its token budget: {used} of {key.max_tokens} tokens used "
                f"and this request may use up to {tokens}; lower max_tokens or use a key with "
                "a larger --max-tokens."
            )
        return (
            f"key {key.id} has too much budget held by requests in flight; retry when they "
            "finish or lower max_tokens."
        )

    @staticmethod
    def reset_holds(store: Store) -> None:
        """Clear holds left by a process that died mid-request (call before serving)."""
        store.write("UPDATE api_keys SET reserved_usd = 0, tokens_reserved = 0").result()
