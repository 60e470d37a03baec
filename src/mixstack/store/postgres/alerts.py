"""Alerts on PostgreSQL: queued inserts (the engine's writer), newest-first reads by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack.store.alerts import ALERT_COLUMNS

if TYPE_CHECKING:
    from mixstack.store.postgres.engine import PgEngine

__all__ = ["PgAlerts"]

_INSERT = (
    f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}, sent_to) "
    f"VALUES ({', '.join('%s' for _ in ALERT_COLUMNS)}, %s)"
)


class PgAlerts:
    def __init__(self, engine: PgEngine):
        self._db = engine

    def record(self, alert: dict[str, Any], sent_to: str) -> None:
        self._db.submit(_INSERT, (*(alert[c] for c in ALERT_COLUMNS), sent_to))

    def recent(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        subject: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if before_id is not None:
            where.append("id < %s")
            params.append(before_id)
        if subject:
            where.append("subject = %s")
            params.append(subject)
        if since is not None:
            where.append("created_at >= %s")
            params.append(since)
        return self._db.query(
            f"SELECT id, {', '.join(ALERT_COLUMNS)}, sent_to FROM alerts "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
            (*params, limit),
        )

    def counts(self, since: float) -> dict[str, int]:
        rows = self._db.query(
            "SELECT kind, count(*) AS n FROM alerts WHERE created_at >= %s GROUP BY kind", (since,)
        )
        return {r["kind"]: int(r["n"]) for r in rows}
