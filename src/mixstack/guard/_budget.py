"""Key budgets (USD and tokens): reserve an estimate before the call, settle the real cost after.

The hold goes through the store's budget repository, which refuses it when spent + held
would pass the budget, atomically, so budgets hold under any concurrency and across gateway
processes. A request can overspend only by what its real cost exceeds its estimate, never
by more than that one request's cost. Holds belong to the process that took them: a
process starting frees only the holds of processes that are gone.
"""

from __future__ import annotations

from mixstack.errors import BudgetExceeded
from mixstack.store import BudgetRepository, Hold, Store, VirtualKey

__all__ = ["Budget", "Reservation"]

#: what `reserve` returns (a hold with no id when the key has no budget)
Reservation = Hold


class Budget:
    def __init__(self, store: Store, repo: BudgetRepository | None = None):
        self.store = store
        #: the store's holds, or Redis's (`store.shared_budgets`)
        self.repo = repo or store.budgets

    async def reserve(self, key: VirtualKey, cost_usd: float, tokens: int) -> Reservation:
        if not key.limited:
            return Hold(None, key.id, 0.0, 0)
        hold = await self.repo.reserve(key.id, cost_usd, tokens, key.period_start)
        if hold is None:
            raise await self.refusal(key, cost_usd, tokens)
        return hold

    async def refusal(self, key: VirtualKey, cost_usd: float, tokens: int) -> BudgetExceeded:
        """The error for a hold the budget refused, saying which budget and what to change."""
        return BudgetExceeded(await self._message(key, cost_usd, tokens))

    async def aclose(self) -> None:
        """Stop the holds' heartbeat when they live in Redis (the store closes on its own)."""
        aclose = getattr(self.repo, "aclose", None)
        if aclose is not None:
            await aclose()

    def settle(self, reservation: Reservation, cost_usd: float, tokens: int) -> None:
        """Release the hold and add the real spend; queued, never waited on."""
        self.repo.settle(reservation, cost_usd, tokens)

    async def _message(self, key: VirtualKey, cost_usd: float, tokens: int) -> str:
        usage = await self.repo.usage(key.id)
        spent = usage.spent_usd if usage else 0.0
        used = usage.tokens_used if usage else 0
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
    def reclaim_holds(store: Store) -> int:
        """Free the holds of processes that are gone (call before serving); the holds of
        other live processes sharing the store are kept. Returns how many were freed."""
        return store.budgets.reclaim()
