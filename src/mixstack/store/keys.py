"""API keys as stored: the `VirtualKey` record and the repository every backend implements.

The record carries what the gateway needs to admit a request (limits, budget, role, expiry,
budget period); the secret itself is never stored, only its SHA-256 (`key_hash`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Protocol

__all__ = ["KeyRepository", "VirtualKey", "next_reset"]


def next_reset(start: float, period: str) -> float:
    """When a budget period that began at `start` ends (monthly: same day next month, UTC)."""
    if period == "daily":
        return start + 86400.0
    if period == "weekly":
        return start + 7 * 86400.0
    began = datetime.fromtimestamp(start, UTC)
    year, month = (began.year + 1, 1) if began.month == 12 else (began.year, began.month + 1)
    day = began.day
    while True:  # the 31st of a 30-day month ends on the last day of that month
        try:
            return began.replace(year=year, month=month, day=day).timestamp()
        except ValueError:
            day -= 1
            if day < 28:
                return (began + timedelta(days=30)).timestamp()


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None
    budget_usd: float | None = None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    max_tokens: int | None = None
    tokens_used: int = 0
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] = ()
    requests: int = 0
    admin: bool = False
    expires_at: float | None = None
    budget_period: str | None = None
    period_start: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (time.time() if now is None else now) >= (
            self.expires_at
        )

    def period_over(self, now: float | None = None) -> bool:
        """Whether the key's budget period has ended (its spend is due to start from zero)."""
        if self.budget_period is None or self.period_start is None:
            return False
        now = time.time() if now is None else now
        return now >= next_reset(self.period_start, self.budget_period)

    @property
    def limited(self) -> bool:
        """Whether calls must reserve budget (a USD or token budget is set)."""
        return self.budget_usd is not None or self.max_tokens is not None

    def allows(self, model: str | None) -> bool:
        """Model patterns are shell-style (`local/*`, `workload/private`); none = all models."""
        if not self.models:
            return True
        return model is not None and any(fnmatchcase(model, p) for p in self.models)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked": self.revoked_at is not None,
            "budget_usd": self.budget_usd,
            "spent_usd": round(self.spent_usd, 8),
            "max_tokens": self.max_tokens,
            "tokens_used": self.tokens_used,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "models": list(self.models),
            "requests": self.requests,
            "admin": self.admin,
            "expires_at": self.expires_at,
            "expired": self.expired(),
            "budget_period": self.budget_period,
            "period_start": self.period_start,
            "resets_at": (
                next_reset(self.period_start, self.budget_period)
                if self.budget_period and self.period_start is not None
                else None
            ),
        }


class KeyRepository(Protocol):
    """Keys are never deleted (revoked ones stay, so a revoked secret is told apart)."""

    def insert(self, key: VirtualKey, key_hash: str) -> None:
        """Store a new key (committed when this returns)."""

    def get(self, key_id: str) -> VirtualKey | None: ...

    def list(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        """Keys in creation order."""

    def revoke(self, key_id: str, at: float) -> bool:
        """Revoke an active key; False when no active key has this id."""

    def any_exists(self) -> bool: ...

    async def find(self, key_hash: str) -> VirtualKey | None:
        """The key with this secret hash, off the event loop."""

    async def find_by_id(self, key_id: str) -> VirtualKey | None:
        """`get`, off the event loop."""

    async def any_exists_async(self) -> bool: ...

    async def restart_period(self, key_id: str, seen_start: float, new_start: float) -> None:
        """Spend and tokens back to zero and `period_start = new_start`, only if the period
        still started at `seen_start` (so concurrent requests and processes reset it once)."""
