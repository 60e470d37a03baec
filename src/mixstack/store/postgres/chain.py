"""The privacy hash chain on PostgreSQL: links in `seq` order, sealed by `CallFold` (one
replica at a time), verified in pages of links joined to their calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixstack.store.chain import GENESIS, PROOF_COLUMNS, ChainCheck, link_hash, proof_digest
from mixstack.store.postgres.fold import PROOF_SELECT

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine
    from mixstack.store.postgres.fold import CallFold

__all__ = ["PgChain"]

_PAGE = 5000
_LINKS = (
    f"SELECT p.seq, p.call_id, p.digest, p.hash, c.id, {PROOF_SELECT} "
    "FROM privacy_chain p LEFT JOIN calls c ON c.id = p.call_id "
    "WHERE p.seq > %s ORDER BY p.seq LIMIT %s"
)


class PgChain:
    def __init__(self, engine: PgEngine, fold: CallFold):
        self._db = engine
        self._fold = fold

    def seal(self, batch: int = 5000) -> int:
        return self._fold.catch_up(batch, most=batch)

    def head(self) -> tuple[int, str]:
        row = self._db.query_one(
            "SELECT call_id, hash FROM privacy_chain ORDER BY seq DESC LIMIT 1"
        )
        return (int(row["call_id"]), str(row["hash"])) if row else (0, GENESIS)

    def unsealed(self) -> int:
        return self._fold.pending()

    def verify(self, *, last: int | None = None) -> ChainCheck:
        after = 0
        if last is not None:
            start = self._db.query_one(
                "SELECT seq FROM privacy_chain ORDER BY seq DESC LIMIT 1 OFFSET %s", (last,)
            )
            after = int(start["seq"]) if start else 0
        prev = self._db.query_one("SELECT hash FROM privacy_chain WHERE seq = %s", (after,))
        prev_hash = str(prev["hash"]) if prev else GENESIS
        checked, first, last_id, seq = 0, None, None, after
        while True:
            links = self._db.query(_LINKS, (seq, _PAGE))
            for link in links:
                call_id = int(link["call_id"])
                first = call_id if first is None else first
                broken = _broken(link, seq, prev_hash)
                if broken:
                    return ChainCheck(checked, first, call_id, call_id, broken)
                prev_hash, seq, last_id = link["hash"], link["seq"], call_id
                checked += 1
            if len(links) < _PAGE:
                return ChainCheck(checked, first, last_id)


def _broken(link: dict[str, object], seq: int, prev_hash: str) -> str:
    """Why this link does not hold ('' when it does)."""
    if link["seq"] != seq + 1:
        return "a link of the chain was deleted"
    if link["id"] is None:
        return "the sealed call row was deleted"
    if proof_digest([link[column] for column in PROOF_COLUMNS]) != link["digest"]:
        return "the call row was changed after sealing"
    if link_hash(prev_hash, str(link["digest"])) != link["hash"]:
        return "the chain itself was edited"
    return ""
