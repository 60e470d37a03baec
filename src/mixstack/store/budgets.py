"""Budget holds: a request reserves its estimated cost before the call and settles after.

A hold belongs to the process that took it (its *owner*, a lease the process renews while
it lives). A process that starts, or that notices a lease has lapsed, frees only the holds
of owners that are gone: one gateway restarting never frees the holds of the others
sharing the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["LEASE_S", "BudgetRepository", "Hold", "KeyUsage"]

#: a process's lease lasts this long unless renewed (it renews at a third of it)
LEASE_S = 30.0


@dataclass(frozen=True, slots=True)
class Hold:
    """One request's reservation: `id` is None when the key has no budget (nothing held)."""

    id: int | None
    key_id: str
    cost_usd: float
    tokens: int


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

    async def reserve(self, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        """Hold the amounts, or None (and nothing held) when spent + held would pass the
        key's USD or token budget."""

    def settle(self, hold: Hold, cost_usd: float, tokens: int) -> None:
        """Free the hold and add the real spend; queued, never waited on."""

    async def usage(self, key_id: str) -> KeyUsage | None: ...

    def held_by(self, owner: str) -> list[Hold]:
        """The holds an owner has now (for tests and `doctor`)."""

    def reclaim(self) -> int:
        """Free the holds of owners that are gone (lease lapsed, or a dead local process);
        returns how many were freed."""
