"""Virtual API keys: created once (the secret is shown once), stored as a SHA-256 hash.

Keys are random 32-byte secrets, so a fast hash is enough: nothing to brute-force. Lookups on
the request path hit a small in-memory cache; a revocation takes effect within `cache_s`.
A key may be an admin key (it may read metrics and the dashboard), may expire, and may have
a budget period after which its spend starts again from zero.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal, get_args

from mixstack.errors import InvalidRequestError, PolicyError
from mixstack.store import Store

__all__ = [
    "BudgetPeriod",
    "KeyRejected",
    "KeyStore",
    "ModelNotAllowed",
    "VirtualKey",
    "hash_secret",
    "next_reset",
    "parse_expiry",
]

SECRET_PREFIX = "mxs-"

#: how often a key's spend and token count start again from zero
BudgetPeriod = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[str, ...] = get_args(BudgetPeriod)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class KeyRejected(PolicyError):
    """No key, or a key that does not exist or was revoked (HTTP 401)."""

    error_type = "authentication_error"
    http_status = 401

    def __init__(self, message: str):
        super().__init__(message, code="invalid_api_key")


class ModelNotAllowed(PolicyError):
    """The key exists but may not use this model (HTTP 403)."""

    error_type = "permission_error"
    http_status = 403

    def __init__(self, key: VirtualKey, model: str):
        super().__init__(
            f"key {key.id} may not use {model!r} (allowed: {', '.join(key.models)}); "
            "pick an allowed model or create a key with `mixstack keys create --models …`.",
            param="model",
            code="model_not_allowed",
        )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_expiry(text: str, now: float | None = None) -> float:
    """`30d`, `12h`, `90m`, `2w` from now, or an ISO date/time (UTC when no zone is given)."""
    now = time.time() if now is None else now
    if match := _DURATION.match(text):
        amount = int(match.group(1))
        if amount < 1:
            raise InvalidRequestError(f"--expires must be in the future; got {text!r}.")
        return now + amount * _UNIT_S[match.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequestError(
            f"--expires {text!r} is neither a duration (30d, 12h, 90m, 2w) nor an ISO date "
            "(2027-01-31 or 2027-01-31T12:00); give one of those."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    at = when.timestamp()
    if at <= now:
        raise InvalidRequestError(f"--expires {text!r} is in the past; give a future date.")
    return at


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


def _row_key(row: Any) -> VirtualKey:
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


class KeyStore:
    """The `api_keys` table (migration 0003), with a short-lived lookup cache."""

    def __init__(self, store: Store, *, cache_s: float = 2.0):
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, VirtualKey | None]] = {}
        self._any: tuple[float, bool] | None = None

    def create(
        self,
        *,
        name: str = "",
        budget_usd: float | None = None,
        max_tokens: int | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        models: tuple[str, ...] = (),
        admin: bool = False,
        expires_at: float | None = None,
        budget_period: str | None = None,
    ) -> tuple[str, VirtualKey]:
        """A new key; returns the secret (shown once, never stored) and the stored record."""
        if budget_period is not None and budget_period not in PERIODS:
            raise InvalidRequestError(
                f"--budget-period must be one of {', '.join(PERIODS)}; got {budget_period!r}."
            )
        if budget_period is not None and budget_usd is None and max_tokens is None:
            raise InvalidRequestError(
                "--budget-period needs --budget or --max-tokens (a period of what?); add one."
            )
        if expires_at is not None and expires_at <= time.time():
            raise InvalidRequestError("--expires is in the past; give a future time.")
        for label, value in (("--budget", budget_usd), ("--max-tokens", max_tokens)):
            if value is not None and value < 0:
                raise InvalidRequestError(f"{label} must be zero or more; got {value}.")
        for label, value in (("--rpm", rpm), ("--tpm", tpm)):
            if value is not None and value < 1:
                raise InvalidRequestError(f"{label} must be 1 or more; got {value}.")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        key = VirtualKey(
            id="key_" + secrets.token_hex(6),
            name=name,
            prefix=secret[:10],
            created_at=now,
            budget_usd=budget_usd,
            max_tokens=max_tokens,
            rpm=rpm,
            tpm=tpm,
            models=tuple(models),
            admin=admin,
            expires_at=expires_at,
            budget_period=budget_period,
            period_start=now if budget_period else None,
        )
        self.store.write(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, budget_usd, "
            "max_tokens, rpm, tpm, models, admin, expires_at, budget_period, period_start) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.name,
                hash_secret(secret),
                key.prefix,
                key.created_at,
                budget_usd,
                max_tokens,
                rpm,
                tpm,
                json.dumps(list(models)),
                int(admin),
                expires_at,
                budget_period,
                key.period_start,
            ),
        ).result()
        self._any = (float("inf"), True)
        return secret, key

    def list(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self.store.query(f"SELECT * FROM api_keys {where} ORDER BY created_at")
        return [_row_key(r) for r in rows]

    def get(self, key_id: str) -> VirtualKey | None:
        row = self.store.query_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return _row_key(row) if row is not None else None

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when no active key has this id."""
        if (key := self.get(key_id)) is None or not key.active:
            return False
        self.store.write(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        ).result()
        self._cache.clear()
        self._any = None
        return True

    def any_ever(self) -> bool:
        """Whether a key has ever been created (revoked and expired keys count: fail closed).

        Keys are never deleted, so a True answer is kept for good; False is re-checked
        every `cache_s` so a key created by another process is seen within seconds."""
        now = time.monotonic()
        if self._any is not None and self._any[0] > now:
            return self._any[1]
        row = self.store.query_one("SELECT 1 FROM api_keys LIMIT 1")
        found = row is not None
        self._any = (float("inf") if found else now + self.cache_s, found)
        return found

    def restart_period(self, key: VirtualKey, now: float | None = None) -> VirtualKey:
        """Start a new budget period when the key's has ended: spend and tokens back to zero.

        Conditional on the period the caller saw, so concurrent requests (or processes)
        reset it once; returns the key as it now stands."""
        if not key.period_over(now) or key.period_start is None or key.budget_period is None:
            return key
        now = time.time() if now is None else now
        start = key.period_start
        while (end := next_reset(start, key.budget_period)) <= now:
            start = end
        self.store.write(
            "UPDATE api_keys SET spent_usd = 0, tokens_used = 0, period_start = ? "
            "WHERE id = ? AND period_start = ?",
            (start, key.id, key.period_start),
        ).result()
        self._cache.clear()
        fresh = self.get(key.id)
        return fresh if fresh is not None else key

    def lookup(self, secret: str) -> VirtualKey | None:
        """The key with this secret (revoked and expired ones too: the caller says why), or None."""
        now = time.monotonic()
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.query_one(
            "SELECT * FROM api_keys WHERE key_hash = ?", (hash_secret(secret),)
        )
        key = _row_key(row) if row is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret] = (now + self.cache_s, key)
        return key
