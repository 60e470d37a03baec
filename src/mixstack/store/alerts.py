"""Alerts as stored: what the monitor raised, for the dashboard and `mixstack alerts`; one
`AlertTable` serves both backends (queued inserts, newest-first reads by id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["ALERT_COLUMNS", "AlertRepository", "AlertTable", "Engine"]

#: the fields of an alert (`monitor.baseline.Alert.to_json()`) that are stored, in order
ALERT_COLUMNS = (
    "created_at",
    "kind",
    "metric",
    "scope",
    "subject",
    "value",
    "threshold",
    "message",
)


class AlertRepository(Protocol):
    def record(self, alert: dict[str, Any], sent_to: str) -> None:
        """Queue the alert (committed off the caller's path); `sent_to` says where it went."""

    def recent(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        subject: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first: `id` and the stored fields, plus `sent_to`."""

    def counts(self, since: float) -> dict[str, int]:
        """Alerts per kind raised at or after `since`."""


class Engine(Protocol):
    """What `AlertTable` needs of a backend: queued writes and reads (SQLite's store,
    PostgreSQL's engine)."""

    def submit(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any]:
        """Rows that `dict()` takes (`sqlite3.Row`, psycopg's dict rows)."""


class AlertTable:
    """The `alerts` table through `engine`, whose parameters are written `mark` (`?` on
    SQLite, `%s` on PostgreSQL)."""

    def __init__(self, engine: Engine, mark: str):
        self._db = engine
        self._mark = mark
        self._insert = (
            f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}, sent_to) "
            f"VALUES ({', '.join(mark for _ in ALERT_COLUMNS)}, {mark})"
        )

    def record(self, alert: dict[str, Any], sent_to: str) -> None:
        self._db.submit(self._insert, (*(alert[c] for c in ALERT_COLUMNS), sent_to))

    def recent(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        subject: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        m = self._mark
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if before_id is not None:
            where.append(f"id < {m}")
            params.append(before_id)
        if subject:
            where.append(f"subject = {m}")
            params.append(subject)
        if since is not None:
            where.append(f"created_at >= {m}")
            params.append(since)
        rows = self._db.query(
            f"SELECT id, {', '.join(ALERT_COLUMNS)}, sent_to FROM alerts "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT {m}",
            (*params, limit),
        )
        return [dict(r) for r in rows]

    def counts(self, since: float) -> dict[str, int]:
        rows = self._db.query(
            f"SELECT kind, COUNT(*) AS n FROM alerts WHERE created_at >= {self._mark} "
            "GROUP BY kind",
            (since,),
        )
        return {r["kind"]: int(r["n"]) for r in rows}
