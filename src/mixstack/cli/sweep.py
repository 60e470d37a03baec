"""`mixstack sweep SUITE`: accuracy per prompt length × needle depth, per model."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mixstack.cli.common import (
    ConfigOption,
    JsonOption,
    err_console,
    load,
    print_json,
    stdout_console,
)
from mixstack.cli.progress import CountProgress
from mixstack.errors import InvalidRequestError

__all__ = ["parse_depths", "parse_lengths", "sweep_command"]


def parse_lengths(text: str) -> list[int]:
    """`1k,2k,4k` (k = 1024 tokens) or plain token counts, ascending and unique."""
    out: set[int] = set()
    for raw in text.split(","):
        item = raw.strip().lower()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(k?)", item)
        if not m:
            raise InvalidRequestError(
                f"--lengths: {raw.strip()!r} is not a length; "
                "use token counts like 512 or 1k,2k,4k."
            )
        value = float(m.group(1)) * (1024 if m.group(2) else 1)
        if value < 16:
            raise InvalidRequestError(f"--lengths: {raw.strip()!r} is too short; use ≥ 16 tokens.")
        out.add(int(value))
    return sorted(out)


def parse_depths(text: str) -> list[float]:
    out: set[float] = set()
    for raw in text.split(","):
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            raise InvalidRequestError(
                f"--depths: {raw.strip()!r} is not a depth; "
                "use fractions from 0 (start) to 1 (end)."
            )
        out.add(value)
    return sorted(out)


def sweep_command(
    suite_path: Annotated[
        Path, typer.Argument(metavar="SUITE", help="Suite YAML whose cases mark `needle:`.")
    ],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model to sweep (repeatable).")
    ] = None,
    lengths: Annotated[
        str, typer.Option("--lengths", help="Prompt lengths in tokens (k = 1024).")
    ] = "1k,2k,4k,8k",
    depths: Annotated[
        str, typer.Option("--depths", help="Where the key context goes: 0 = start, 1 = end.")
    ] = "0,0.25,0.5,0.75,1",
    filler: Annotated[
        Path | None, typer.Option("--filler", help="Plain-text filler (default: shipped text).")
    ] = None,
    distractors: Annotated[
        int, typer.Option("--distractors", min=0, max=20, help="Near-miss facts per prompt.")
    ] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N cases.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64)] = 1,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place each case's key context at each depth of filler padded to each length; run it."""
    from mixstack.evals._suite import load_suite
    from mixstack.sweep import SweepSettings, render_report

    suite = load_suite(suite_path)
    cfg = load(config)
    settings = SweepSettings(
        models=list(dict.fromkeys(model or suite.models or [cfg.default_model])),
        lengths=parse_lengths(lengths),
        depths=parse_depths(depths),
        distractors=distractors,
        filler=filler,
        concurrency=concurrency,
        limit=limit,
    )
    result = asyncio.run(_run(suite, cfg, settings, quiet=as_json))
    if report is not None:
        report.write_text(render_report(result), encoding="utf-8")
        if not as_json:
            err_console.print(f"report written to {escape(str(report))}")
    if as_json:
        print_json(result)
    else:
        _print(result)


async def _run(suite: Any, cfg: Any, settings: Any, *, quiet: bool) -> dict[str, Any]:
    from mixstack.pipeline import Pipeline
    from mixstack.sweep import run_sweep, summarize_sweep

    def planned(message: str) -> None:
        if not quiet:
            err_console.print(f"[dim]{escape(message)}[/dim]")

    # counts, elapsed time and ETA on stderr, under --json too (stdout stays the JSON)
    bar = CountProgress(err_console, label="sweep")
    async with Pipeline(cfg) as pipeline:
        for name in settings.models:
            pipeline.catalog.get(name)
        try:
            outcome = await run_sweep(suite, pipeline, settings, on_progress=planned, progress=bar)
        finally:
            bar.stop()
        pipeline.flush()
    filler = str(settings.filler) if settings.filler else "shipped (generated, no facts)"
    return summarize_sweep(outcome, settings, suite=suite.name, filler=filler)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _print(result: dict[str, Any]) -> None:
    console = stdout_console()
    for m in result["models"]:
        table = Table(title=f"{m['model']}: accuracy by length × depth")
        table.add_column("length")
        for depth in result["depths"]:
            table.add_column(str(depth), justify="right")
        table.add_column("all", justify="right")
        table.add_column("drop", justify="right")
        cells = {(c["length"], c["depth"]): c["accuracy"] for c in m["grid"]}
        for row in m["by_length"]:
            table.add_row(
                str(row["length"]),
                *[_pct(cells.get((row["length"], d))) for d in result["depths"]],
                _pct(row["accuracy"]),
                _pct(row["relative_drop"]),
            )
        console.print(table)
        console.print(
            f"effective length: {m['effective_length'] or 'n/a'} tokens · "
            f"distractor answers: {_pct(m['distractor_rate'])} · "
            f"tokens: {escape(m['tokenizer'] or '')}"
        )
        for skip in m["skipped"]:
            where = f" (case {skip['case']})" if skip["case"] else ""
            console.print(
                f"[dim]skipped {skip['length']}{escape(where)}: {escape(skip['reason'])}[/dim]"
            )
