"""Virtual API keys: created once (the secret is shown once), stored as a SHA-256 hash.

Keys are random 32-byte secrets, so a fast hash is enough: nothing to brute-force. Lookups on
the request path hit a small in-memory cache; a revocation takes effect within `cache_s`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from mixstack.errors import InvalidRequestError, PolicyError
from mixstack.store import Store

__all__ = ["KeyRejected", "KeyStore", "ModelNotAllowed", "VirtualKey", "hash_secret"]

SECRET_PREFIX = "mxs-"


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

    @property
    def active(self) -> bool:
        return self.revoked_at is None

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
    ) -> tuple[str, VirtualKey]:
        """A new key; returns the secret (shown once, never stored) and the stored record."""
        for label, value in (("--budget", budget_usd), ("--max-tokens", max_tokens)):
            if value is not None and value < 0:
                raise InvalidRequestError(f"{label} must be zero or more; got {value}.")
        for label, value in (("--rpm", rpm), ("--tpm", tpm)):
            if value is not None and value < 1:
                raise InvalidRequestError(f"{label} must be 1 or more; got {value}.")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = VirtualKey(
            id="key_" + secrets.token_hex(6),
            name=name,
            prefix=secret[:10],
            created_at=time.time(),
            budget_usd=budget_usd,
            max_tokens=max_tokens,
            rpm=rpm,
            tpm=tpm,
            models=tuple(models),
        )
        self.store.write(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, budget_usd, "
            "max_tokens, rpm, tpm, models) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        ).result()
        self._any = None
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

    def any_active(self) -> bool:
        now = time.monotonic()
        if self._any is not None and self._any[0] > now:
            return self._any[1]
        row = self.store.query_one("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1")
        self._any = (now + self.cache_s, row is not None)
        return row is not None

    def lookup(self, secret: str) -> VirtualKey | None:
        """The active key with this secret, or None."""
        now = time.monotonic()
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.query_one(
            "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (hash_secret(secret),),
        )
        key = _row_key(row) if row is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret] = (now + self.cache_s, key)
        return key
