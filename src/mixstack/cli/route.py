"""`mixstack route`: the routing decision for a prompt, without calling any model.

`mixstack route replay --config NEW.yaml [--since DATE]` re-routes the logged calls under a
new config and shows how the share per model, the share leaving the machine and the
estimated cost would change.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mixstack._shared import shared_pipeline
from mixstack._types import ImagePart, Request, SamplingParams
from mixstack.catalog import Catalog
from mixstack.cli.common import (
    ConfigOption,
    ImageOption,
    JsonOption,
    ModelOption,
    WorkloadOption,
    load,
    print_json,
    read_prompt,
    stdout_console,
)
from mixstack.config import load_config
from mixstack.errors import InvalidRequestError, PolicyError
from mixstack.guard._pii import PiiScanner, format_counts, request_texts
from mixstack.providers.base import ProviderRegistry
from mixstack.router import RouteDecision, Router, RouteRefused
from mixstack.router._replay import ReplayReport, replay_calls
from mixstack.store import open_store

__all__ = ["route_command", "show_route"]


def route_command(
    prompt: Annotated[
        str | None,
        typer.Argument(help="The prompt (`-` or absent reads stdin), or `replay` to replay logs."),
    ] = None,
    workload: WorkloadOption = None,
    model: ModelOption = None,
    image: ImageOption = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1)] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="replay: calls from this date (YYYY-MM-DD[THH:MM])"),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="also show which privacy recognizer fired on which (masked) span"
        ),
    ] = False,
) -> None:
    """Show which model would answer a prompt and why, without calling any model."""
    if prompt == "replay":
        _replay(config, since, as_json)
        return
    if since is not None:
        raise InvalidRequestError("--since only applies to `mixstack route replay`.")
    cfg = load(config)
    text = read_prompt(prompt)
    images = tuple(ImagePart.from_path(p) for p in image or [])
    request = Request.from_prompt(
        text,
        model=model,
        images=images,
        workload=workload,
        params=SamplingParams(max_tokens=max_tokens),
    )
    router = shared_pipeline(cfg).router
    findings: list[dict[str, Any]] = []
    if explain:
        workload_name = router.chooser.choose(request).name
        findings = explain_findings(router.scanner_for(workload_name), request)
    try:
        decision = router.decide(request, scan="always")
    except PolicyError as exc:
        _refused(exc, as_json, findings if explain else None)
        raise
    if as_json:
        out = decision.to_json()
        if explain:
            out["findings"] = findings
        print_json(out)
        return
    show_route(decision)
    if explain:
        show_findings(findings)


def explain_findings(scanner: PiiScanner, request: Request) -> list[dict[str, Any]]:
    """Every finding in the request's texts: type, recognizer, score and the masked span."""
    out: list[dict[str, Any]] = []
    for index, text in enumerate(request_texts(request)):
        for span in scanner.scan(text):
            out.append(
                {
                    "text": index,
                    "start": span.start,
                    "end": span.end,
                    "type": span.type,
                    "recognizer": span.recognizer,
                    "score": round(span.score, 2),
                    "masked": mask(text[span.start : span.end]),
                }
            )
    return out


def mask(value: str) -> str:
    """The first character of each word kept, the rest hidden: enough to see what fired."""
    return re.sub(r"(?<=\w)\w", "•", value)


def show_findings(findings: list[dict[str, Any]]) -> None:
    if not findings:
        stdout_console().print("[bold]findings[/bold]   none")
        return
    table = Table(title="privacy findings (masked)")
    for column in ("span", "type", "recognizer", "score", "value"):
        table.add_column(column, no_wrap=column != "value")
    for f in findings:
        table.add_row(
            f"{f['text']}:{f['start']}-{f['end']}",
            f["type"],
            f["recognizer"],
            f"{f['score']:.2f}",
            escape(f["masked"]),
        )
    stdout_console().print(table)


def _refused(exc: PolicyError, as_json: bool, findings: list[dict[str, Any]] | None = None) -> None:
    if not as_json:
        if findings is not None:
            show_findings(findings)
        return
    out: dict[str, Any] = {"refused": True, "error": exc.message, "type": exc.error_type}
    if findings is not None:
        out["findings"] = findings
    if isinstance(exc, RouteRefused):
        out["workload"] = exc.workload
        out["policy"] = exc.policy
        out["pii"] = [c.to_json() for c in exc.pii]
        out["excluded"] = [{"model": e.model, "reason": e.reason} for e in exc.excluded]
    print_json(out)


def show_route(d: RouteDecision) -> None:
    stdout_console().print(f"[bold]workload[/bold]   {d.workload} ({d.workload_source})")
    stdout_console().print(f"[bold]policy[/bold]     {d.policy}")
    stdout_console().print(f"[bold]pii[/bold]        {format_counts(d.pii)}")
    stdout_console().print(f"[bold]model[/bold]      {d.model} ({d.locality}) — {d.reason}")
    stdout_console().print(f"[bold]est. cost[/bold]  ${d.estimated_cost_usd:.6f}")
    if d.redacted:
        stdout_console().print(
            "[bold]redacted[/bold]   yes: PII leaves as placeholders, restored in the answer"
        )
    stdout_console().print(f"[bold]candidates[/bold] {', '.join(d.candidates) or '-'}")
    stdout_console().print(f"[bold]fallbacks[/bold]  {', '.join(d.fallbacks) or '-'}")
    for note in d.notes:
        stdout_console().print(f"[bold]note[/bold]       {note}")
    if d.excluded:
        table = Table(title="excluded")
        table.add_column("model", no_wrap=True)
        table.add_column("reason", overflow="fold")
        for e in d.excluded:
            table.add_row(e.model, e.reason)
        stdout_console().print(table)


def _since(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(
            f"--since {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM."
        ) from exc
    return when.timestamp()


def _replay(new_config: Path | None, since: str | None, as_json: bool) -> None:
    if new_config is None:
        raise InvalidRequestError(
            "`mixstack route replay` needs the new policy: pass --config NEW.yaml."
        )
    new = load_config(new_config)
    start = _since(since)
    with open_store(new.store, home=new.home) as store:
        rows = store.calls.since(start)
    catalog = Catalog(new, ProviderRegistry(new))
    router = Router(new, catalog, check_availability=False)
    report = replay_calls(rows, router, catalog)
    if as_json:
        print_json(report.to_json())
        return
    _show_replay(report, new_config)


def _show_replay(report: ReplayReport, path: Path) -> None:
    before, after = report.before.to_json(), report.after.to_json()
    stdout_console().print(
        f"{report.before.calls} logged calls re-routed under {path}; {report.changed} change"
    )
    models = sorted(set(before["share_by_model"]) | set(after["share_by_model"]))
    table = Table(title="share of calls per model")
    for column in ("model", "before", "after"):
        table.add_column(column)
    for m in models:
        b, a = before["share_by_model"].get(m, 0.0), after["share_by_model"].get(m, 0.0)
        table.add_row(m, f"{b:.1%}", f"{a:.1%}")
    stdout_console().print(table)
    for key, label in (
        ("share_leaving_machine", "leaving the machine"),
        ("share_remote", "sent to remote models"),
    ):
        stdout_console().print(f"{label:22} {before[key]:.1%} → {after[key]:.1%}")
    stdout_console().print(
        f"{'estimated cost':22} ${before['estimated_cost_usd']:.6f} → "
        f"${after['estimated_cost_usd']:.6f}"
    )
    stdout_console().print(f"{'refused':22} {before['refused']} → {after['refused']}")
    if report.changes:
        changes = Table(title="changed calls")
        for column in ("request", "when", "workload", "before", "after", "why"):
            changes.add_column(column, overflow="fold")
        for c in report.changes:
            when = dt.datetime.fromtimestamp(c.created_at).isoformat(timespec="seconds")
            cells = (c.request_id, when, c.workload, c.before or "refused", c.after or "refused")
            changes.add_row(*(escape(x) for x in cells), escape(c.reason))
        stdout_console().print(changes)
    sys.stdout.flush()
