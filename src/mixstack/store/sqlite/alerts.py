"""Alerts on SQLite: queued inserts, newest-first reads by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.alerts import ALERT_COLUMNS

if TYPE_CHECKING:
    from mixstack.store.db import SQLiteStore

__all__ = ["SQLiteAlerts"]

_INSERT = (
    f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}, sent_to) "
    f"VALUES ({', '.join('?' for _ in ALERT_COLUMNS)}, ?)"
)


class SQLiteAlerts:
    def __init__(self, store: SQLiteStore):
        self._store = store

    def record(self, alert: dict[str, Any], sent_to: str) -> None:
        self._store.submit(_INSERT, (*(alert[c] for c in ALERT_COLUMNS), sent_to))

    def recent(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        subject: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
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
        rows = self._store.query(
            f"SELECT id, {', '.join(ALERT_COLUMNS)}, sent_to FROM alerts "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [dict(r) for r in rows]

    def counts(self, since: float) -> dict[str, int]:
        rows = self._store.query(
            "SELECT kind, COUNT(*) AS n FROM alerts WHERE created_at >= ? GROUP BY kind", (since,)
        )
        return {r["kind"]: r["n"] for r in rows}
