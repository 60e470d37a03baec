"""The call log on PostgreSQL: journaled rows, committed off the request path by the
engine's writer thread, a batch's rows in one INSERT of one JSON parameter.

One statement text whatever the number of rows: psycopg parses and caches a statement's
text once (a multi-row VALUES list of 27 columns a row is parsed again at every batch, a
third of the writer's work), and the writer holds the interpreter's lock for less of each
request."""

from __future__ import annotations

import operator
import time
from typing import TYPE_CHECKING, Any

from mixstack._jsonbytes import dumps_text
from mixstack.store.calls import CALL_COLUMNS, CallRecord

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgCalls"]

_ROW = operator.attrgetter(*CALL_COLUMNS)
_INSERT_HEAD = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in CALL_COLUMNS)})"
)
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in CALL_COLUMNS if c != "request_id")
#: a call recorded twice under one request id keeps the last record, as on SQLite
_INSERT = f"{_INSERT_HEAD} ON CONFLICT (request_id) DO UPDATE SET {_UPDATES}"
#: replayed from a journal: a row that did commit stays as it is
_REPLAY = f"{_INSERT_HEAD} ON CONFLICT (request_id) DO NOTHING"
_COLUMNS = ", ".join(CALL_COLUMNS)
#: a batch's rows: a JSON array of objects, typed by the table's own columns
_INSERT_ROWS = (
    f"INSERT INTO calls ({_COLUMNS}) SELECT {_COLUMNS} "
    "FROM jsonb_populate_recordset(NULL::calls, %s::jsonb) "
    f"ON CONFLICT (request_id) DO UPDATE SET {_UPDATES}"
)


def _rows(rows: list[Any]) -> tuple[str, tuple[str]]:
    return _INSERT_ROWS, (dumps_text([dict(zip(CALL_COLUMNS, row, strict=True)) for row in rows]),)


class PgCalls:
    def __init__(self, engine: PgEngine):
        self._db = engine
        engine.commutes(_INSERT, _rows)  # a new row under its own request id

    def record(self, record: CallRecord) -> None:
        if not record.created_at:
            record.created_at = time.time()
        self._db.submit_journaled(_INSERT, _ROW(record), _REPLAY)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT * FROM calls ORDER BY created_at DESC, id DESC LIMIT %s", (limit,)
        )

    def since(self, created_at: float) -> list[dict[str, Any]]:
        return self._db.query(
            "SELECT * FROM calls WHERE created_at >= %s ORDER BY created_at", (created_at,)
        )

    def by_request_id(self, request_id: str) -> dict[str, Any] | None:
        return self._db.query_one("SELECT * FROM calls WHERE request_id = %s", (request_id,))

    def count(self, *, front_door: str | None = None) -> int:
        if front_door is None:
            row = self._db.query_one("SELECT count(*) AS n FROM calls")
        else:
            row = self._db.query_one(
                "SELECT count(*) AS n FROM calls WHERE front_door = %s", (front_door,)
            )
        return int(row["n"]) if row is not None else 0
