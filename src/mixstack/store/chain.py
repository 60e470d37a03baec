"""The privacy hash chain: tamper evidence over the proof columns of every call.

Each call's proof columns (request id, time, model, provider, locality, endpoint, workload,
caller, policy, PII counts, redaction, route, error type, abuse findings) are hashed into a
digest, and each link's `hash = sha256(previous hash + digest)`. Sealing appends links for
calls not sealed yet, one sealer at a time; verifying recomputes them. Editing or deleting a
sealed call, or editing the chain, breaks the link it touches: the first broken one is
reported. Both backends hash the same values the same way, so a call's digest does not
depend on where it is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mixstack._jsonbytes import dumps_text

__all__ = [
    "GENESIS",
    "PROOF_COLUMNS",
    "ChainCheck",
    "PrivacyChainRepository",
    "link_hash",
    "proof_digest",
]

#: the columns a link vouches for, in hashing order (`redacted` as 0 or 1)
PROOF_COLUMNS = (
    "request_id",
    "created_at",
    "model",
    "provider",
    "locality",
    "endpoint",
    "workload",
    "caller",
    "policy",
    "pii",
    "redacted",
    "route",
    "error_type",
    "abuse",
)
#: the hash before the first link
GENESIS = "0" * 64


def proof_digest(values: Sequence[Any]) -> str:
    """sha256 of one call's proof values, in `PROOF_COLUMNS` order."""
    return hashlib.sha256(dumps_text(list(values)).encode()).hexdigest()


def link_hash(previous: str, digest: str) -> str:
    return hashlib.sha256((previous + digest).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What a verification found: `checked` links, from the call `first_call_id` to
    `last_call_id`; `broken_at` is the call id of the first broken link, with the reason."""

    checked: int
    first_call_id: int | None
    last_call_id: int | None
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


class PrivacyChainRepository(Protocol):
    def seal(self, batch: int = 5000) -> int:
        """Extend the chain over calls committed and not sealed yet (up to `batch` of them);
        returns how many were sealed. Safe to call from every process at once."""

    def head(self) -> tuple[int, str]:
        """(call id of the last link, its hash); (0, `GENESIS`) for an empty chain."""

    def unsealed(self) -> int:
        """How many committed calls wait to be sealed."""

    def verify(self, *, last: int | None = None) -> ChainCheck:
        """Recompute the chain (its last `last` links, or all of it) against the calls."""
