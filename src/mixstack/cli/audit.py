"""`mixstack audit TRACES.jsonl`: check the reasoning of external or logged traces."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mixstack.audit import TraceAudit, TraceInput, audit_trace, judge_trace, load_traces, summarize
from mixstack.cli.common import (
    ConfigOption,
    JsonOption,
    err_console,
    load,
    print_json,
    stdout_console,
)
from mixstack.cli.progress import CountProgress

__all__ = ["audit_command"]


def audit_command(
    traces: Annotated[Path, typer.Argument(help="JSONL: one {question, output, …} per line.")],
    judge: Annotated[
        str | None,
        typer.Option("--judge", help="Also ask this model to judge each step (reported apart)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Audit reasoning traces: verdict, first wrong step and errors per trace, and a summary."""
    inputs = load_traces(traces)
    audits = [_audit(t) for t in inputs]
    if judge is not None:
        audits = asyncio.run(_judge_all(inputs, audits, judge, config))
    report = audit_report(inputs, audits)
    if as_json:
        print_json(report)
    else:
        _print(report)


def _audit(trace: TraceInput) -> TraceAudit:
    return audit_trace(
        trace.question,
        trace.output,
        reference=trace.reference,
        context=trace.context,
        expected=trace.expected,
        reasoning=trace.reasoning,
        trace_id=trace.id,
    )


async def _judge_all(
    inputs: list[TraceInput], audits: list[TraceAudit], model: str, config: Path | None
) -> list[TraceAudit]:
    from mixstack.pipeline import Pipeline

    judged: list[TraceAudit] = []
    async with Pipeline(load(config)) as pipeline:
        pipeline.catalog.get(model)  # an unknown judge is a usage error before any call
        # one model call per trace: counts and ETA on stderr (stdout stays the report)
        bar = CountProgress(err_console, label="judge")
        bar.start(model, len(inputs), 0)
        try:
            for trace, audit in zip(inputs, audits, strict=True):
                report = await judge_trace(
                    pipeline, model, trace.question, audit.steps, audit.answer,
                    context=trace.context,
                )  # fmt: skip
                judged.append(audit.with_judge(report))
                bar.advance(model)
        finally:
            bar.stop()
    return judged


def audit_report(inputs: list[TraceInput], audits: list[TraceAudit]) -> dict[str, Any]:
    by_model: dict[str, list[TraceAudit]] = defaultdict(list)
    for trace, audit in zip(inputs, audits, strict=True):
        if trace.model:
            by_model[trace.model].append(audit)
    report: dict[str, Any] = {
        "traces": [a.to_json() for a in audits],
        "summary": summarize(audits),
    }
    if by_model:
        report["models"] = [{"model": m, **summarize(a)} for m, a in sorted(by_model.items())]
    return report


def _print(report: dict[str, Any]) -> None:
    console = stdout_console()
    table = Table(title="reasoning audit")
    for column in ("id", "verdict", "first wrong step", "errors"):
        table.add_column(column, overflow="fold")
    colors = {"sound": "green", "lucky": "yellow", "wrong": "red", "unauditable": "dim"}
    for t in report["traces"]:
        step = t["first_error_step"]
        first = "" if step is None else f"{step}: {t['first_error_text']}"
        errors = "; ".join(f"[{e['kind']}] {e['detail']}" for e in t["errors"])
        if t["judge"] is not None:
            j = t["judge"]
            errors += f"\njudge: {j['error'] or j['wrong_steps'] or 'no wrong step'}"
        verdict = f"[{colors[t['verdict']]}]{t['verdict']}[/]"
        table.add_row(escape(str(t["id"])), verdict, escape(first), escape(errors))
    console.print(table)
    groups = [("all", report["summary"])] + [(m["model"], m) for m in report.get("models", [])]
    for name, s in groups:
        v = s["verdicts"]
        lucky = "n/a" if s["lucky_rate"] is None else f"{s['lucky_rate']:.0%}"
        kinds = ", ".join(f"{k} {n}" for k, n in s["error_taxonomy"].items() if n) or "none"
        console.print(
            f"[bold]{escape(name)}[/]: {s['traces']} traces · sound {v['sound']} · "
            f"lucky {v['lucky']} · wrong {v['wrong']} · unauditable {v['unauditable']} · "
            f"lucky among right answers {lucky} · errors: {escape(kinds)}"
        )
