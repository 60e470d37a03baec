"""`mixstack models`: the catalog, with locality, capabilities, price and availability."""

from __future__ import annotations

from rich.table import Table

from mixstack._shared import shared_pipeline
from mixstack.cli.common import ConfigOption, JsonOption, load, print_json, stdout_console

__all__ = ["models_command"]


def models_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List every model the config and the installed providers know."""
    cfg = load(config)
    catalog = shared_pipeline(cfg).catalog
    rows = [catalog.describe(entry) for entry in catalog]
    if as_json:
        print_json(rows)
        return
    table = Table(title="models")
    for column in (
        "name",
        "provider",
        "locality",
        "capabilities",
        "context",
        "$/1M in/out",
        "available",
    ):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "request", "model"))
    for row in rows:
        table.add_row(
            row["name"] + (" (default)" if row["name"] == cfg.default_model else ""),
            row["provider"],
            row["locality"],
            ", ".join(row["capabilities"]),
            str(row["context_window"]),
            f"{row['price_input_per_1m']:g} / {row['price_output_per_1m']:g}",
            "yes" if row["available"] else f"no: {row['availability']}",
        )
    stdout_console().print(table)
