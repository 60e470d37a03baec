"""`mixstack eval`: run a suite against models; `eval compare` and `eval calibrate` on runs.

`mixstack eval SUITE …` is short for `mixstack eval run SUITE …`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from typer.core import TyperGroup

from mixstack.cli.common import ConfigOption, JsonOption, err_console, load, print_json
from mixstack.errors import UserError

__all__ = ["eval_app"]

console = Console(highlight=False)


class _DefaultToRun(TyperGroup):
    """Treat `eval SUITE …` as `eval run SUITE …` when the first word is not a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_DefaultToRun,
    help="Evaluate models on your own tasks: `mixstack eval SUITE.yaml -m MODEL …`.",
    no_args_is_help=True,
)


class _BarProgress:
    def __init__(self) -> None:
        self._bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, model: str, total: int, done: int) -> None:
        if not self._tasks:
            self._bars.start()
        self._tasks[model] = self._bars.add_task(model, total=total, completed=done)

    def advance(self, model: str) -> None:
        self._bars.advance(self._tasks[model])

    def stop(self) -> None:
        self._bars.stop()


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"{summary['suite']} · run {summary['run_id']}")
    for col in ("model", "variant", "n", "pass", "95% CI", "errors", "cost $", "$/correct", "p50"):
        table.add_column(col, justify="left" if col in ("model", "variant") else "right")
    for r in summary["runs"]:
        table.add_row(
            escape(r["model"]),
            escape(r["variant"]),
            str(r["n"]),
            _pct(r["pass_rate"]),
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}",
            str(r["errors"]),
            f"{r['cost_usd']:.4f}",
            _num(r["cost_per_correct"], ".4f"),
            _num(r["latency_p50_ms"], ".0f") + (" ms" if r["latency_p50_ms"] is not None else ""),
        )
    console.print(table)
    for c in summary["comparisons"]:
        a = f"{c['a']['model']}[{c['a']['variant']}]"
        b = f"{c['b']['model']}[{c['b']['variant']}]"
        if c["diff"] is None:
            continue
        console.print(
            f"{escape(a)} − {escape(b)}: {100 * c['diff']:+.1f} pts "
            f"(95% CI {100 * c['diff_ci_low']:+.1f} to {100 * c['diff_ci_high']:+.1f}), "
            f"p = {c['p_value']:.3g} on {c['n']} paired cases"
        )
    console.print(f"[dim]results: {escape(summary['results'])}[/dim]")


@eval_app.command("run")
def eval_run(
    suite: Annotated[Path, typer.Argument(help="The suite YAML file.")],
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model to evaluate (repeatable; default: the suite's)."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            max=256,
            help="Calls in flight per model (in-process local models take one at a time).",
        ),
    ] = 4,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the models again instead of the cache.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run directory (an unfinished run there is resumed)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume the last unfinished run of this suite.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report.")
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option("--fail-under", min=0.0, max=1.0, help="Exit 1 if a pass rate is below."),
    ] = None,
    retries: Annotated[int, typer.Option("--retries", min=0, max=20)] = 3,
    audit_reasoning: Annotated[
        bool, typer.Option("--audit-reasoning", help="Audit each answer's reasoning steps.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a suite against one or more models and summarize pass rates, cost and latency."""
    from mixstack.evals.evaluate import EvalSettings, evaluate_suite
    from mixstack.evals.runner import RunOptions
    from mixstack.evals.suite import load_suite
    from mixstack.pipeline import Pipeline

    loaded = load_suite(suite)
    settings = EvalSettings(
        models=list(model or []),
        options=RunOptions(concurrency=concurrency, retries=retries, use_cache=not no_cache),
        out_dir=out,
        resume=resume,
        audit_reasoning=audit_reasoning,
    )

    def started(meta: dict[str, Any]) -> None:
        resumed = f", resuming after {meta['resumed']} results" if meta["resumed"] else ""
        err_console.print(
            f"[dim]run {meta['run_id']}: {meta['cases']} cases × {len(meta['variants'])} "
            f"variants × {len(meta['models'])} models{resumed}[/dim]"
        )

    async def go() -> dict[str, Any]:
        async with Pipeline(load(config)) as pipeline:
            return await evaluate_suite(
                loaded, pipeline, settings, progress=_BarProgress(), on_start=started
            )

    summary = asyncio.run(go())
    if report is not None:
        from mixstack.evals.report import write_report
        from mixstack.evals.runs import RunDir

        write_report(RunDir(Path(summary["out_dir"])), summary, report)
        summary["report"] = str(report.resolve())
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
        if report is not None:
            console.print(f"[dim]report: {escape(str(report))}[/dim]")
    if fail_under is not None:
        low = [r for r in summary["runs"] if r["pass_rate"] is None or r["pass_rate"] < fail_under]
        if low:
            names = ", ".join(f"{r['model']}[{r['variant']}] {_pct(r['pass_rate'])}" for r in low)
            err_console.print(f"[red]below --fail-under {fail_under:g}:[/red] {escape(names)}")
            sys.exit(1)


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[str, typer.Argument(help="Run id or directory (before).")],
    run_b: Annotated[str, typer.Argument(help="Run id or directory (after).")],
    as_json: JsonOption = False,
) -> None:
    """What changed between two runs: flipped cases and metric deltas."""
    from mixstack.evals.compare import compare_runs
    from mixstack.evals.runs import find_run
    from mixstack.store import Store

    with Store.open_default() as store:
        a, b = find_run(run_a, store), find_run(run_b, store)
    diff = compare_runs(a, b)
    if as_json:
        print_json(diff)
        return
    console.print(
        f"{diff['compared']} results compared: {diff['fixed']} fixed, {diff['broke']} broke"
        + ("" if diff["same_suite_version"] else " [yellow](suite changed between runs)[/yellow]")
    )
    for m in diff["metrics"]:
        d = m["delta"]
        console.print(
            f"  {escape(m['model'])}[{escape(m['variant'])}]: pass rate "
            f"{_pct(m['a']['pass_rate'])} → {_pct(m['b']['pass_rate'])}"
            + (f" ({100 * d['pass_rate']:+.1f} pts)" if d["pass_rate"] is not None else "")
            + f", errors {m['a']['errors']} → {m['b']['errors']}"
        )
    for f in diff["flipped"][:20]:
        console.print(
            f"  {escape(f['case'])} [{escape(f['variant'])}] {escape(f['model'])}: "
            f"{f['from']} → {f['to']}"
        )
    if len(diff["flipped"]) > 20:
        console.print(f"  … {len(diff['flipped']) - 20} more (use --json)")


@eval_app.command("calibrate")
def eval_calibrate(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    target: Annotated[
        float, typer.Option("--target", min=0.0, max=1.0, help="Pass rate the model must meet.")
    ] = 0.9,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Variant to use (default: the first).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Calibration file (default: in MIXSTACK_HOME).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the routing calibration: per workload, the cheapest model meeting the target."""
    from mixstack.evals.calibrate import calibrate, write_calibration
    from mixstack.evals.runs import find_run
    from mixstack.store import Store

    with Store.open_default() as store:
        found = find_run(run, store)
    summary = found.summary()
    if summary is None:
        raise UserError(f"{found.path} has no summary.json; finish or resume the run first.")
    workload = summary.get("workload") or "default"
    entry = calibrate(summary, target, variant)
    path = write_calibration(workload, entry, target, out)
    if as_json:
        print_json({"path": str(path), "workload": workload, "target": target, **entry})
        return
    chosen = entry["recommended"] or "none (no model's lower bound meets the target)"
    console.print(f"workload {escape(workload)}: recommended {escape(chosen)}")
    console.print(f"[dim]written to {escape(str(path))}[/dim]")
