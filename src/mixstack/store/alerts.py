"""Alerts as stored: what the monitor raised, for the dashboard and `mixstack alerts`."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ALERT_COLUMNS", "AlertRepository"]

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
