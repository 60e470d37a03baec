"""`mixstack logs`: the latest calls from the store, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from mixstack.cli.common import ConfigOption, JsonOption, load, print_json, stdout_console
from mixstack.store import open_store, recent_calls

__all__ = ["logs_command"]


def logs_command(
    n: Annotated[int, typer.Option("-n", min=1, help="How many calls to show.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    privacy: Annotated[
        bool,
        typer.Option(
            "--privacy", help="Where each call went: host, locality, policy, PII found, refusals."
        ),
    ] = False,
) -> None:
    """Show the latest calls recorded by every front door."""
    cfg = load(config)
    if privacy:
        from mixstack.cli.privacy_log import privacy_rows, show_privacy

        with open_store(cfg.store, home=cfg.home) as store:
            found = privacy_rows(store, n)
        if as_json:
            print_json(found)
        else:
            show_privacy(found)
        return
    with open_store(cfg.store, home=cfg.home) as store:
        rows = recent_calls(store, n)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"last {len(rows)} calls")
    for column in ("time", "request", "model", "locality", "tokens in/out", "latency ms", "error"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "request", "model"))
    for row in rows:
        when = dt.datetime.fromtimestamp(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            when,
            row["request_id"],
            row["model"],
            row["locality"],
            f"{row['prompt_tokens']}/{row['completion_tokens']}",
            f"{row['latency_ms']:.0f}",
            (row["error"] or "")[:60],
        )
    stdout_console().print(table)
