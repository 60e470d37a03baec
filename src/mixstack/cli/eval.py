"""`mixstack eval`: run a suite against models; `eval compare` and `eval calibrate` on runs.

`mixstack eval SUITE …` is short for `mixstack eval run SUITE …`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from mixstack.cli.common import (
    ConfigOption,
    JsonOption,
    err_console,
    load,
    print_json,
    stdout_console,
)
from mixstack.cli.exits import (
    DEFAULT_MAX_ERROR_RATE,
    EXIT_BELOW_TARGET,
    EXIT_CALLS_FAILED,
    EXIT_CODES_HELP,
    below_target,
    eval_exit_code,
    failing_calls,
)
from mixstack.cli.progress import CountProgress
from mixstack.errors import UserError

__all__ = ["eval_app"]


class _DefaultToRun(TyperGroup):
    """Treat `eval SUITE …` as `eval run SUITE …` when the first word is not a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_DefaultToRun,
    help="Evaluate models on your own tasks: `mixstack eval SUITE.yaml -m MODEL …`.",
    epilog=EXIT_CODES_HELP,
    rich_markup_mode=None,
    no_args_is_help=True,
)


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
    stdout_console().print(table)
    for c in summary["comparisons"]:
        a = f"{c['a']['model']}[{c['a']['variant']}]"
        b = f"{c['b']['model']}[{c['b']['variant']}]"
        if c["diff"] is None:
            continue
        stdout_console().print(
            f"{escape(a)} − {escape(b)}: {100 * c['diff']:+.1f} pts "
            f"(95% CI {100 * c['diff_ci_low']:+.1f} to {100 * c['diff_ci_high']:+.1f}), "
            f"p = {c['p_value']:.3g} on {c['n']} paired cases"
        )
    for a in summary.get("audit") or []:
        v = a["verdicts"]
        kinds = ", ".join(f"{k} {n}" for k, n in a["error_taxonomy"].items() if n) or "none"
        stdout_console().print(
            f"reasoning audit {escape(_label(a['model'], a['variant']))}: {a['traces']} answers"
            f" · sound {v['sound']} · lucky {v['lucky']} · wrong {v['wrong']}"
            f" · unauditable {v['unauditable']} · errors: {escape(kinds)}"
        )
    stdout_console().print(f"[dim]results: {escape(summary['results'])}[/dim]")


def _label(model: str, variant: str) -> str:
    """`model[variant]`, unescaped (escape the whole: rich reads `[variant]` as a style tag)."""
    return f"{model}[{variant}]"


@eval_app.command("run")
def eval_run(
    suite: Annotated[Path, typer.Argument(help="The suite YAML file.")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Model to evaluate (repeatable; default: the suite's).",
        ),
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
        typer.Option(
            "--fail-under",
            min=0.0,
            max=1.0,
            help=f"Exit {EXIT_BELOW_TARGET} if a pass rate is below this.",
        ),
    ] = None,
    max_error_rate: Annotated[
        float,
        typer.Option(
            "--max-error-rate",
            min=0.0,
            max=1.0,
            help=f"Exit {EXIT_CALLS_FAILED} if more than this share of a model's calls errored.",
        ),
    ] = DEFAULT_MAX_ERROR_RATE,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=20, help="Retries of a failed call.")
    ] = 3,
    audit_reasoning: Annotated[
        bool, typer.Option("--audit-reasoning", help="Audit each answer's reasoning steps.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a suite against one or more models and summarize pass rates, cost and latency.

    Exit codes: 0 ok; 6 a pass rate is below --fail-under; 7 calls failed (more than
    --max-error-rate of a model's calls errored, default 5%; errors are not counted as
    failures in the pass rate); 2 usage or config error; 5 a model is not available here.
    """
    from mixstack.evals._evaluate import EvalSettings, evaluate_suite
    from mixstack.evals._runner import RunOptions
    from mixstack.evals._suite import load_suite
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

    progress = CountProgress(err_console, label="eval")

    async def go() -> dict[str, Any]:
        async with Pipeline(load(config)) as pipeline:
            return await evaluate_suite(
                loaded, pipeline, settings, progress=progress, on_start=started
            )

    summary = asyncio.run(go())
    if report is not None:
        from mixstack.evals._report import write_report
        from mixstack.evals._runs import RunDir

        write_report(RunDir(Path(summary["out_dir"])), summary, report)
        summary["report"] = str(report.resolve())
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
        if report is not None:
            stdout_console().print(f"[dim]report: {escape(str(report))}[/dim]")
    code = eval_exit_code(summary, fail_under, max_error_rate)
    if code == EXIT_CALLS_FAILED:
        names = ", ".join(
            f"{r['model']}[{r['variant']}] {r['errors']}/{r['n'] + r['errors']}"
            for r in failing_calls(summary, max_error_rate)
        )
        err_console.print(
            f"[red]calls failed above --max-error-rate {max_error_rate:g}:[/red] {escape(names)}"
        )
    elif code == EXIT_BELOW_TARGET:
        names = ", ".join(
            f"{r['model']}[{r['variant']}] {_pct(r['pass_rate'])}"
            for r in below_target(summary, fail_under or 0.0)
        )
        err_console.print(f"[red]below --fail-under {fail_under:g}:[/red] {escape(names)}")
    if code:
        sys.exit(code)


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[str, typer.Argument(help="Run id or directory (before).")],
    run_b: Annotated[str, typer.Argument(help="Run id or directory (after).")],
    as_json: JsonOption = False,
) -> None:
    """What changed between two runs: flipped cases and metric deltas."""
    from mixstack.evals._compare import compare_runs
    from mixstack.evals._runs import find_run
    from mixstack.store import open_store

    with open_store() as store:
        a, b = find_run(run_a, store), find_run(run_b, store)
    diff = compare_runs(a, b)
    if as_json:
        print_json(diff)
        return
    stdout_console().print(
        f"{diff['compared']} results compared: {diff['fixed']} fixed, {diff['broke']} broke"
        + ("" if diff["same_suite_version"] else " [yellow](suite changed between runs)[/yellow]")
    )
    for m in diff["metrics"]:
        d = m["delta"]
        stdout_console().print(
            f"  {escape(_label(m['model'], m['variant']))}: pass rate "
            f"{_pct(m['a']['pass_rate'])} → {_pct(m['b']['pass_rate'])}"
            + (f" ({100 * d['pass_rate']:+.1f} pts)" if d["pass_rate"] is not None else "")
            + f", errors {m['a']['errors']} → {m['b']['errors']}"
        )
    for f in diff["flipped"][:20]:
        stdout_console().print(
            f"  {escape(f['case'])} {escape('[' + f['variant'] + ']')} {escape(f['model'])}: "
            f"{f['from']} → {f['to']}"
        )
    if len(diff["flipped"]) > 20:
        stdout_console().print(f"  … {len(diff['flipped']) - 20} more (use --json)")


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
    from mixstack.evals._calibrate import calibrate, write_calibration
    from mixstack.evals._runs import find_run
    from mixstack.store import open_store

    with open_store() as store:
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
    stdout_console().print(f"workload {escape(workload)}: recommended {escape(chosen)}")
    stdout_console().print(f"[dim]written to {escape(str(path))}[/dim]")
