"""Committed calls into the dashboard's aggregates and the privacy hash chain, on PostgreSQL.

A trigger puts the id of every inserted call into `call_inbox`, in the inserting
transaction (migration 0002): a call is in the inbox exactly when it is committed, whichever
replica wrote it and whenever its commit lands. `catch_up` takes a batch of the inbox under
an advisory lock (one replica at a time), adds its calls to the aggregate cells, appends one
chain link per call in `call_id` order with the next `seq`, and deletes the batch, all in
one transaction: each committed call is counted and sealed exactly once, and the chain's
order is the one its `seq` records (a call with a smaller id committed late is sealed after
larger ones, never skipped).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from mixstack.store.aggregates import Cells
from mixstack.store.chain import GENESIS, PROOF_COLUMNS, link_hash, proof_digest

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PROOF_SELECT", "CallFold"]

log = logging.getLogger("mixstack.store")

#: (class, object) of the advisory lock one folder holds at a time (two-int keys are their
#: own space: no clash with the bigint keys of migrations and rate windows)
_FOLD_LOCK = (0x6D697873, 2)
#: the proof columns of `calls c` as the chain hashes them (`redacted` as 0 or 1, as SQLite)
PROOF_SELECT = ", ".join(
    "c.redacted::int AS redacted" if column == "redacted" else f"c.{column}"
    for column in PROOF_COLUMNS
)
_TAKE = (
    f"SELECT i.call_id, c.id, {PROOF_SELECT}, c.error IS NOT NULL AS failed, "
    "c.prompt_tokens, c.completion_tokens, c.cost_usd, c.latency_ms "
    "FROM call_inbox i LEFT JOIN calls c ON c.id = i.call_id ORDER BY i.call_id LIMIT %s"
)
# each batch goes in one statement per table, its columns as arrays: a call log spread over
# days touches a cell or two per call, and a statement per cell was ten times slower
_STATS_UPSERT = (
    "INSERT INTO call_stats (span, period, dim, value, requests, errors, prompt_tokens, "
    "completion_tokens, cost_usd, latency_ms, flagged) SELECT * FROM unnest(%s::int[], "
    "%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], "
    "%s::bigint[], %s::float8[], %s::float8[], %s::bigint[]) "
    "ON CONFLICT (span, dim, period, value) DO UPDATE SET "
    "requests = call_stats.requests + excluded.requests, "
    "errors = call_stats.errors + excluded.errors, "
    "prompt_tokens = call_stats.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = call_stats.completion_tokens + excluded.completion_tokens, "
    "cost_usd = call_stats.cost_usd + excluded.cost_usd, "
    "latency_ms = call_stats.latency_ms + excluded.latency_ms, "
    "flagged = call_stats.flagged + excluded.flagged"
)
_LATENCY_UPSERT = (
    "INSERT INTO call_latency (span, period, model, bucket, n) SELECT * FROM "
    "unnest(%s::int[], %s::bigint[], %s::text[], %s::int[], %s::bigint[]) "
    "ON CONFLICT (span, period, model, bucket) DO UPDATE SET n = call_latency.n + excluded.n"
)
_LINK = (
    "INSERT INTO privacy_chain (seq, call_id, request_id, digest, hash, sealed_at) "
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
    "%s::float8[])"
)


class CallFold:
    def __init__(self, engine: PgEngine):
        self._db = engine

    def catch_up(self, batch: int = 5000, *, most: int | None = None) -> int:
        """Fold and seal the inbox, `batch` calls per transaction, until it is empty (or
        `most` calls are done); returns how many calls were folded."""
        done = 0
        while most is None or done < most:
            size = batch if most is None else min(batch, most - done)
            folded = self._round(size)
            done += folded
            if folded < size:
                break
        return done

    def pending(self) -> int:
        row = self._db.query_one("SELECT count(*) AS n FROM call_inbox")
        return int(row["n"]) if row else 0

    def _round(self, batch: int) -> int:
        with self._db.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _FOLD_LOCK)
            rows = conn.execute(_TAKE, (batch,)).fetchall()
            if not rows:
                return 0
            cells, links = _fold(rows, _chain_head(conn))
            for sql, values in (
                (_STATS_UPSERT, cells.stats_rows()),
                (_LATENCY_UPSERT, cells.latency_rows()),
                (_LINK, links),
            ):
                if values:
                    conn.execute(sql, [list(column) for column in zip(*values, strict=True)])
            conn.execute(
                "DELETE FROM call_inbox WHERE call_id = ANY(%s)", ([r["call_id"] for r in rows],)
            )
        return len(rows)


def _chain_head(conn: psycopg.Connection[DictRow]) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM privacy_chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row["seq"]), str(row["hash"])) if row else (0, GENESIS)


def _fold(
    rows: list[dict[str, Any]], head: tuple[int, str]
) -> tuple[Cells, list[tuple[int, int, str, str, str, float]]]:
    """The aggregate cells of the calls and their chain links, after `head` (seq, hash)."""
    seq, previous = head
    now = time.time()
    cells = Cells()
    links = []
    for row in rows:
        if row["id"] is None:
            # deleted between its commit and its sealing: nothing left to vouch for
            log.warning("call %s was deleted before the privacy chain sealed it", row["call_id"])
            continue
        cells.add(
            row["created_at"],
            row["model"],
            row["caller"],
            row["workload"],
            error=row["failed"],
            flagged=row["abuse"] is not None,
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            cost_usd=row["cost_usd"],
            latency_ms=row["latency_ms"],
        )
        digest = proof_digest([row[column] for column in PROOF_COLUMNS])
        previous = link_hash(previous, digest)
        seq += 1
        links.append((seq, row["id"], row["request_id"], digest, previous, now))
    return cells, links
