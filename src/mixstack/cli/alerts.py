"""`mixstack alerts`: the alerts the gateway's monitor raised, newest first."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mixstack.cli.common import ConfigOption, JsonOption, load, print_json
from mixstack.errors import InvalidRequestError
from mixstack.store import open_store

__all__ = ["alerts_command"]

_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _since(value: str | None) -> float | None:
    if not value:
        return None
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise InvalidRequestError(
            f"--since {value!r} is not a duration; use a number and m, h or d (e.g. 30m, 24h)."
        )
    return time.time() - int(number) * _UNITS[unit]


def alerts_command(
    n: Annotated[int, typer.Option("-n", min=1, help="How many alerts to show.")] = 50,
    since: Annotated[
        str | None, typer.Option("--since", help="Only alerts newer than this (30m, 24h, 7d).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Only alerts about this key id or workload.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the alerts raised by the gateway's monitor (baselines, thresholds, prompt leaks)."""
    cfg = load(config)
    cutoff = _since(since)
    with open_store(cfg.store, home=cfg.home) as store:
        rows = store.alerts.recent(n, subject=key, since=cutoff)
    if as_json:
        print_json(rows)
        return
    if not rows:
        Console().print("no alerts")
        return
    table = Table(title=f"last {len(rows)} alerts")
    for column in ("time", "kind", "subject", "metric", "value", "limit", "message"):
        table.add_column(column, overflow="fold")
    for row in rows:
        when = dt.datetime.fromtimestamp(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        limit = "" if row["threshold"] is None else f"{row['threshold']:g}"
        table.add_row(
            when,
            row["kind"],
            f"{row['scope']} {row['subject']}",
            row["metric"],
            f"{row['value']:g}",
            limit,
            row["message"],
        )
    Console().print(table)
