"""The privacy hash chain on SQLite, in `calls.id` order: SQLite serializes writers and
hands out ids in commit order, so a call committed later never gets a smaller id than a
sealed one, and links are keyed by call id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixstack.store.chain import GENESIS, PROOF_COLUMNS, ChainCheck, link_hash, proof_digest

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteChain"]

_PROOF = ", ".join(PROOF_COLUMNS)
_PROOF_OF_C = ", ".join(f"c.{column}" for column in PROOF_COLUMNS)


class SQLiteChain:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def head(self) -> tuple[int, str]:
        row = self._store.query_one(
            "SELECT call_id, hash FROM privacy_chain ORDER BY call_id DESC LIMIT 1"
        )
        return (row["call_id"], row["hash"]) if row else (0, GENESIS)

    def unsealed(self) -> int:
        last_id, _ = self.head()
        row = self._store.query_one("SELECT count(*) AS n FROM calls WHERE id > ?", (last_id,))
        return int(row["n"]) if row else 0

    def seal(self, batch: int = 5000) -> int:
        last_id, last_hash = self.head()
        rows = self._store.query(
            f"SELECT id, {_PROOF} FROM calls WHERE id > ? ORDER BY id LIMIT ?", (last_id, batch)
        )
        sealed = []
        for row in rows:
            digest = proof_digest(tuple(row)[1:])
            last_hash = link_hash(last_hash, digest)
            sealed.append((row["id"], row["request_id"], digest, last_hash))
        if sealed:
            # OR IGNORE: two processes sealing at once compute the same links
            self._store.write_many(
                "INSERT OR IGNORE INTO privacy_chain (call_id, request_id, digest, hash) "
                "VALUES (?, ?, ?, ?)",
                list(sealed),
            ).result()
        return len(sealed)

    def verify(self, *, last: int | None = None) -> ChainCheck:
        after = 0
        if last is not None:
            start = self._store.query_one(
                "SELECT call_id FROM privacy_chain ORDER BY call_id DESC LIMIT 1 OFFSET ?",
                (last,),
            )
            after = start["call_id"] if start else 0
        prev = self._store.query_one("SELECT hash FROM privacy_chain WHERE call_id = ?", (after,))
        prev_hash = prev["hash"] if prev else GENESIS
        links = self._store.query(
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
            if proof_digest(tuple(link)[5:]) != link["digest"]:
                return ChainCheck(
                    n, first, call_id, call_id, "the call row was changed after sealing"
                )
            if link_hash(prev_hash, link["digest"]) != link["hash"]:
                return ChainCheck(n, first, call_id, call_id, "the chain itself was edited")
            prev_hash = link["hash"]
        last_id = links[-1]["call_id"] if links else None
        return ChainCheck(len(links), first, last_id)
