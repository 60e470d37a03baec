"""Monitoring tables: alerts, and the hash chain over the privacy proof of each call.

The chain: each call row's proof columns (request id, time, model, provider, locality,
endpoint, workload, caller, policy, PII counts, redaction, route, error, abuse findings) are
hashed into a digest, and `hash = sha256(previous hash + digest)`. `seal_chain` extends the
chain over rows not sealed yet; `verify_chain` recomputes it. Editing or deleting a sealed
row, or editing the chain, breaks every hash after it: the first broken row is reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mixstack.jsonbytes import dumps_text
from mixstack.store.base import Store
from mixstack.store.db import sqlite_of

__all__ = [
    "ChainCheck",
    "alert_counts",
    "chain_head",
    "insert_alert",
    "recent_alerts",
    "seal_chain",
    "verify_chain",
]

_WHAT = "the privacy chain and alerts"

_PROOF = (
    "request_id, created_at, model, provider, locality, endpoint, workload, caller, policy, "
    "pii, redacted, route, error_type, abuse"
)
_PROOF_OF_C = ", ".join(f"c.{column.strip()}" for column in _PROOF.split(","))
_GENESIS = "0" * 64


def insert_alert(store: Store, alert: dict[str, Any], sent_to: str) -> None:
    db = sqlite_of(store, _WHAT)
    db.submit(
        "INSERT INTO alerts (created_at, kind, metric, scope, subject, value, threshold, "
        "message, sent_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            alert["created_at"],
            alert["kind"],
            alert["metric"],
            alert["scope"],
            alert["subject"],
            alert["value"],
            alert["threshold"],
            alert["message"],
            sent_to,
        ),
    )


def recent_alerts(
    store: Store,
    limit: int = 50,
    *,
    before_id: int | None = None,
    subject: str | None = None,
    since: float | None = None,
) -> list[dict[str, Any]]:
    db = sqlite_of(store, _WHAT)
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    if subject:
        where.append("subject = ?")
        params.append(subject)
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    rows = db.query(
        f"SELECT * FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [dict(r) for r in rows]


def alert_counts(store: Store, since: float) -> dict[str, int]:
    db = sqlite_of(store, _WHAT)
    rows = db.query(
        "SELECT kind, COUNT(*) AS n FROM alerts WHERE created_at >= ? GROUP BY kind", (since,)
    )
    return {r["kind"]: r["n"] for r in rows}


def _digest(values: tuple[Any, ...]) -> str:
    return hashlib.sha256(dumps_text(list(values)).encode()).hexdigest()


def chain_head(store: Store) -> tuple[int, str]:
    """(last sealed call id, its hash); (0, genesis) for an empty chain."""
    db = sqlite_of(store, _WHAT)
    row = db.query_one("SELECT call_id, hash FROM privacy_chain ORDER BY call_id DESC LIMIT 1")
    return (row["call_id"], row["hash"]) if row else (0, _GENESIS)


def seal_chain(store: Store, batch: int = 5000) -> int:
    """Extend the chain over calls not sealed yet (up to `batch` rows); returns how many."""
    db = sqlite_of(store, _WHAT)
    last_id, last_hash = chain_head(store)
    rows = db.query(
        f"SELECT id, {_PROOF} FROM calls WHERE id > ? ORDER BY id LIMIT ?", (last_id, batch)
    )
    sealed = []
    for row in rows:
        digest = _digest(tuple(row)[1:])
        last_hash = hashlib.sha256((last_hash + digest).encode()).hexdigest()
        sealed.append((row["id"], row["request_id"], digest, last_hash))
    if sealed:
        db.write_many(
            "INSERT OR IGNORE INTO privacy_chain (call_id, request_id, digest, hash) "
            "VALUES (?, ?, ?, ?)",
            list(sealed),
        ).result()
    return len(sealed)


@dataclass(frozen=True, slots=True)
class ChainCheck:
    checked: int
    first_call_id: int | None
    last_call_id: int | None
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(store: Store, *, last: int | None = None) -> ChainCheck:
    """Recompute the chain (its last `last` links, or all) against the calls table."""
    db = sqlite_of(store, _WHAT)
    if last is not None:
        start = db.query_one(
            "SELECT call_id FROM privacy_chain ORDER BY call_id DESC LIMIT 1 OFFSET ?",
            (last,),
        )
        after = start["call_id"] if start else 0
    else:
        after = 0
    prev = db.query_one("SELECT hash FROM privacy_chain WHERE call_id = ?", (after,))
    prev_hash = prev["hash"] if prev else _GENESIS
    links = db.query(
        "SELECT p.call_id, p.request_id AS sealed_id, p.digest, p.hash, c.id, "
        f"{_PROOF_OF_C} "
        "FROM privacy_chain p LEFT JOIN calls c ON c.id = p.call_id "
        "WHERE p.call_id > ? ORDER BY p.call_id",
        (after,),
    )
    first = links[0]["call_id"] if links else None
    for n, link in enumerate(links):
        call_id = link["call_id"]
        if link["id"] is None:
            return ChainCheck(n, first, call_id, call_id, "the sealed call row was deleted")
        if _digest(tuple(link)[5:]) != link["digest"]:
            return ChainCheck(n, first, call_id, call_id, "the call row was changed after sealing")
        expected = hashlib.sha256((prev_hash + link["digest"]).encode()).hexdigest()
        if expected != link["hash"]:
            return ChainCheck(n, first, call_id, call_id, "the chain itself was edited")
        prev_hash = link["hash"]
    last_id = links[-1]["call_id"] if links else None
    return ChainCheck(len(links), first, last_id)
