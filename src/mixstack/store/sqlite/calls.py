"""The call log on SQLite: journaled, group-committed inserts; bounded reads."""

from __future__ import annotations

import operator
import time
from typing import TYPE_CHECKING, Any

from mixstack.store.aggregates import aggregates_of
from mixstack.store.calls import CALL_COLUMNS, CallRecord

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteCalls"]

_ROW = operator.attrgetter(*CALL_COLUMNS)  # the row as a tuple, in column order
_INSERT = (
    f"INSERT OR REPLACE INTO calls ({', '.join(CALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in CALL_COLUMNS)})"
)


class SQLiteCalls:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def record(self, record: CallRecord) -> None:
        if not record.created_at:
            record.created_at = time.time()
        # a positional tuple: `dataclasses.asdict` deep-copies and is slow on the gateway's path
        self._store.submit_journaled(_INSERT, _ROW(record))
        aggregates_of(self._store).add(record)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT * FROM calls ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [dict(row) for row in rows]

    def since(self, created_at: float) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT * FROM calls WHERE created_at >= ? ORDER BY created_at", (created_at,)
        )
        return [dict(row) for row in rows]

    def by_request_id(self, request_id: str) -> dict[str, Any] | None:
        row = self._store.query_one("SELECT * FROM calls WHERE request_id = ?", (request_id,))
        return dict(row) if row is not None else None

    def count(self, *, front_door: str | None = None) -> int:
        if front_door is None:
            row = self._store.query_one("SELECT count(*) FROM calls")
        else:
            row = self._store.query_one(
                "SELECT count(*) FROM calls WHERE front_door = ?", (front_door,)
            )
        return int(row[0]) if row is not None else 0
