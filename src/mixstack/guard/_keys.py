"""Virtual API keys: created once (the secret is shown once), stored as a SHA-256 hash.

Keys are random 32-byte secrets, so a fast hash is enough: nothing to brute-force. Lookups on
the request path hit a small in-memory cache; a revocation takes effect within `cache_s`.
A key may be an admin key (it may read metrics and the dashboard), may expire, and may have
a budget period after which its spend starts again from zero.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Literal, get_args

from mixstack.errors import InvalidRequestError, PolicyError
from mixstack.store import Store, VirtualKey, next_reset

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


class KeyStore:
    """Keys through the store's key repository, with a short-lived lookup cache.

    The `a…` methods are for the event loop (the repository reads off it); the others for
    the CLI and admin pages."""

    def __init__(self, store: Store, *, cache_s: float = 2.0):
        self.store = store
        self.repo = store.keys
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
        self.repo.insert(key, hash_secret(secret))
        self._any = (float("inf"), True)
        return secret, key

    def list(self, *, include_revoked: bool = False) -> list[VirtualKey]:
        return self.repo.list(include_revoked=include_revoked)

    def get(self, key_id: str) -> VirtualKey | None:
        return self.repo.get(key_id)

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when no active key has this id."""
        if (key := self.get(key_id)) is None or not key.active:
            return False
        revoked = self.repo.revoke(key_id, time.time())
        self._cache.clear()
        self._any = None
        return revoked

    def _any_cached(self) -> bool | None:
        if self._any is not None and self._any[0] > time.monotonic():
            return self._any[1]
        return None

    def _note_any(self, found: bool) -> bool:
        # keys are never deleted, so a True answer is kept for good; False is re-checked
        # every `cache_s` so a key created by another process is seen within seconds
        self._any = (float("inf") if found else time.monotonic() + self.cache_s, found)
        return found

    def note_exists(self) -> None:
        """A key was seen: keys are enforced from now on (keys are never deleted)."""
        self._note_any(True)

    def any_ever(self) -> bool:
        """Whether a key has ever been created (revoked and expired keys count: fail closed)."""
        cached = self._any_cached()
        return cached if cached is not None else self._note_any(self.repo.any_exists())

    async def aany_ever(self) -> bool:
        """`any_ever` for the event loop."""
        cached = self._any_cached()
        if cached is not None:
            return cached
        return self._note_any(await self.repo.any_exists_async())

    async def restart_period(self, key: VirtualKey, now: float | None = None) -> VirtualKey:
        """Start a new budget period when the key's has ended: spend and tokens back to zero.

        Conditional on the period the caller saw, so concurrent requests (or processes)
        reset it once; returns the key as it now stands."""
        if not key.period_over(now) or key.period_start is None or key.budget_period is None:
            return key
        now = time.time() if now is None else now
        start = key.period_start
        while (end := next_reset(start, key.budget_period)) <= now:
            start = end
        await self.repo.restart_period(key.id, key.period_start, start)
        self._cache.clear()
        fresh = await self.repo.find_by_id(key.id)
        return fresh if fresh is not None else key

    def _cached(self, secret: str) -> tuple[bool, VirtualKey | None]:
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def _remember(self, secret: str, key: VirtualKey | None) -> VirtualKey | None:
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret] = (time.monotonic() + self.cache_s, key)
        return key

    async def alookup(self, secret: str) -> VirtualKey | None:
        """The key with this secret (revoked and expired ones too: the caller says why), or None.

        A revocation through any process is seen within `cache_s`."""
        hit, key = self._cached(secret)
        if hit:
            return key
        return self._remember(secret, await self.repo.find(hash_secret(secret)))
