"""`mixstack trace`: what an agent run did, step by step (terminal, HTML or JSON)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mixstack.agents._trace import load_trace, recent_traces
from mixstack.agents._trace_view import print_timeline, render_html
from mixstack.cli.common import (
    ConfigOption,
    JsonOption,
    err_console,
    load,
    print_json,
    stdout_console,
)
from mixstack.errors import InvalidRequestError
from mixstack.store import open_store

__all__ = ["trace_command"]


def trace_command(
    trace_id: Annotated[
        str | None, typer.Argument(help="Trace id (or a unique prefix, or `last`); none lists.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML page here.")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, help="How many traces to list.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an agent run's timeline, or list the latest runs."""
    cfg = load(config)
    with open_store(cfg.store, home=cfg.home) as store:
        if trace_id is None:
            rows = recent_traces(store, n)
            if as_json:
                print_json(rows)
            else:
                _list(rows)
            return
        trace = load_trace(store, trace_id)
    if trace is None:
        raise InvalidRequestError(
            f"no trace {trace_id!r}; run `mixstack trace` to list the recent ones."
        )
    if html is not None:
        html.write_text(render_html(trace), encoding="utf-8")
        err_console.print(f"wrote {html}")
    if as_json:
        print_json(trace)
    elif html is None:
        print_timeline(trace)


def _list(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"last {len(rows)} agent runs")
    for column in ("time", "trace", "kind", "stopped", "steps", "cost $", "task"):
        table.add_column(column, overflow="fold", no_wrap=column == "trace")
    for row in rows:
        when = dt.datetime.fromtimestamp(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            when,
            str(row["id"]),
            str(row["kind"]),
            str(row["stopped"] or "running"),
            str(row["steps"]),
            f"{row['cost_usd'] or 0:.6f}",
            str(row["task"])[:60],
        )
    stdout_console().print(table)
