"""The privacy view of the call log: where each call's bytes went, under which policy.

Each row says which endpoint (host) received the request, its locality, the PII the guard
found (types and counts, never values), the policy applied, whether the request left
redacted, and the routing decision. Refused requests appear too: they went nowhere.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from rich.table import Table

from mixstack.cli.common import stdout_console
from mixstack.store import Store

__all__ = ["privacy_rows", "show_privacy"]


def _host(endpoint: str) -> str:
    if not endpoint:
        return "-"
    if "://" not in endpoint:
        return endpoint
    parts = urlsplit(endpoint)
    return parts.netloc or endpoint


def privacy_rows(store: Store, limit: int) -> list[dict[str, Any]]:
    rows = store.calls.recent(limit)
    out = []
    for row in rows:
        route = json.loads(row["route"]) if row["route"] else None
        refused = bool(route and route.get("refused"))
        out.append(
            {
                "request_id": row["request_id"],
                "created_at": row["created_at"],
                "front_door": row["front_door"],
                "workload": row["workload"],
                "policy": row["policy"],
                "outcome": "refused" if refused else ("error" if row["error_type"] else "sent"),
                "model": row["model"] or None,
                "locality": row["locality"] or None,
                "endpoint": None if refused else row["endpoint"],
                "host": None if refused else _host(row["endpoint"]),
                "pii": json.loads(row["pii"] or "[]"),
                "redacted": bool(row["redacted"]),
                "route": route,
            }
        )
    return out


def show_privacy(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"where the last {len(rows)} calls went")
    for column in ("time", "request", "workload", "policy", "outcome", "model", "host", "pii"):
        table.add_column(column, overflow="fold", no_wrap=column in ("request", "model"))
    for row in rows:
        when = dt.datetime.fromtimestamp(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        pii = ", ".join(f"{p['type']}×{p['count']}" for p in row["pii"]) or "-"
        if row["redacted"]:
            pii += " (redacted)"
        where = row["host"] or "-"
        if row["locality"]:
            where += f" ({row['locality']})"
        table.add_row(
            when,
            row["request_id"],
            row["workload"] or "-",
            row["policy"] or "-",
            row["outcome"],
            row["model"] or "-",
            where,
            pii,
        )
    # wide enough to stay readable when piped into a file or a pager
    stdout_console().print(table)
