"""Budget holds: a request reserves its estimated cost before the call and settles after.

A hold belongs to the process that took it (its *owner*, a lease the process renews while
it lives). A process that starts, or that notices a lease has lapsed, frees only the holds
of owners that are gone: one gateway restarting never frees the holds of the others
sharing the store.

With `redis:` configured the holds live in Redis (`store/redis/budgets.py`) and the store
keeps the record of spend; `ledger` and `adopt` are what Redis needs from the store to
rebuild its numbers and to hand its holds over while it is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mixstack.store.rates import RateAsk, RateVerdict

__all__ = ["LEASE_S", "AdmittingBudgets", "BudgetRepository", "Hold", "KeyUsage", "Ledger"]

#: a process's lease lasts this long unless renewed (it renews at a third of it)
LEASE_S = 30.0


@dataclass(frozen=True, slots=True)
class Hold:
    """One request's reservation: `id` is None when the key has no budget (nothing held)."""

    id: int | None
    key_id: str
    cost_usd: float
    tokens: int
    #: where the hold lives: the store's own holds, or Redis's (`store/redis/budgets.py`)
    backend: str = "store"


@dataclass(frozen=True, slots=True)
class Ledger:
    """A key's budget as the store has it, read in one snapshot."""

    budget_usd: float | None
    max_tokens: int | None
    period_start: float | None
    spent_usd: float
    tokens_used: int
    #: the store's holds in flight
    holds: tuple[Hold, ...]


@dataclass(frozen=True, slots=True)
class KeyUsage:
    spent_usd: float
    reserved_usd: float
    tokens_used: int
    tokens_reserved: int


class BudgetRepository(Protocol):
    @property
    def owner(self) -> str:
        """This process's lease id (host, pid and a random part)."""

    async def reserve(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None = None
    ) -> Hold | None:
        """Hold the amounts, or None (and nothing held) when spent + held would pass the
        key's USD or token budget. `period_start` is the key's current budget period (the
        store reads its own; Redis learns from it that the spend started again)."""

    async def adopt(self, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        """Hold the amounts without the budget check: a hold already granted elsewhere
        (Redis, before it went down) carried over. None if the store cannot keep it."""

    async def ledger(self, key_id: str) -> Ledger | None:
        """The key's budget, spend and holds in flight, in one snapshot."""

    def settle(self, hold: Hold, cost_usd: float, tokens: int) -> None:
        """Free the hold and add the real spend; queued, never waited on."""

    async def usage(self, key_id: str) -> KeyUsage | None: ...

    def held_by(self, owner: str) -> list[Hold]:
        """The holds an owner has now (for tests and `doctor`)."""

    def reclaim(self) -> int:
        """Free the holds of owners that are gone (lease lapsed, or a dead local process);
        returns how many were freed."""


@runtime_checkable
class AdmittingBudgets(Protocol):
    """Budget holds that can also admit the request into its key's rate window, in the
    same atomic step and round trip (Redis, when it holds both)."""

    async def reserve_admitted(
        self,
        key_id: str,
        cost_usd: float,
        tokens: int,
        period_start: float | None,
        rate: RateAsk,
    ) -> tuple[RateVerdict, Hold | None] | None:
        """(refused verdict, None): the window refused it and nothing is held;
        (admitted verdict, None): over budget, the request counts in the window with no
        tokens; (admitted verdict, hold): both. None: nothing happened, take the two steps
        (`RateRepository.admit`, then `reserve`)."""
