"""Readable views of a stored trace: a terminal timeline (rich) and a self-contained HTML page."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

__all__ = ["print_timeline", "render_html"]

_COLOURS = {
    "model": "blue",
    "tool": "green",
    "plan": "magenta",
    "critic": "magenta",
    "handoff": "yellow",
    "compose": "yellow",
    "stop": "red",
}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def render_html(trace: dict[str, Any]) -> str:
    """One HTML file with inline CSS and no scripts or external resources."""
    from jinja2 import Environment

    source = (
        resources.files("mixstack.agents")
        .joinpath("templates/trace.html.j2")
        .read_text(encoding="utf-8")
    )
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source).render(trace=trace, started=_when(trace.get("created_at")))


def _step_line(step: dict[str, Any]) -> Text:
    colour = _COLOURS.get(step["kind"], "white")
    line = Text()
    line.append(f"{step['seq']:>3} ", style="dim")
    line.append(f"{step['kind']:<8}", style=f"bold {colour}")
    line.append(f" {step.get('agent') or '':<10} ", style="dim")
    if step.get("model"):
        line.append(step["model"] + " ")
    if step["kind"] == "compose":
        why = (step.get("detail") or {}).get("why", "")
        line.append(f"answer composed from the {step.get('tool')} result: the model's ", "bold")
        line.append(f"answer {why} ", "bold")
    elif step.get("tool"):
        args = json.dumps(step.get("arguments") or {}, ensure_ascii=False)
        line.append(f"{step['tool']}({args[:120]}) ", style="bold")
    decision = step.get("decision")
    if decision:
        tone = {"allow": "green", "deny": "red"}.get(decision.get("action", ""), "yellow")
        line.append(f"[{decision.get('action')}] ", style=tone)
    if step.get("ok") is False:
        line.append(f"✗ {step.get('error') or 'failed'} ", style="red")
    if step.get("findings"):
        kinds = sorted({f.get("kind", "?") for f in step["findings"]})
        line.append(f"⚠ injection: {', '.join(kinds)} ", style="yellow")
    numbers = []
    if step.get("prompt_tokens") or step.get("completion_tokens"):
        numbers.append(f"{step['prompt_tokens']}+{step['completion_tokens']} tok")
    if step.get("cost_usd"):
        numbers.append(f"${step['cost_usd']:.6f}")
    numbers.append(f"{step.get('latency_ms') or 0:.0f} ms")
    line.append(" · ".join(numbers), style="dim")
    return line


def print_timeline(trace: dict[str, Any], console: Console | None = None) -> None:
    out = console or Console(highlight=False)
    header = (
        f"[bold]{escape(trace['id'])}[/bold]  {escape(trace.get('kind') or '')}  "
        f"started {_when(trace.get('created_at'))}  "
        f"stopped: [bold]{escape(trace.get('stopped') or 'running')}[/bold]\n"
        f"task: {escape(trace.get('task') or '')}"
    )
    out.print(Panel(header, expand=False))
    for step in trace["steps"]:
        parts: list[Any] = [_step_line(step)]
        decision = step.get("decision")
        if decision and decision.get("reason"):
            parts.append(Text(f"      decision: {decision['reason']}", style="dim"))
        preview = step.get("preview") or (step.get("error") if step["kind"] == "stop" else None)
        if preview:
            shown = preview if len(preview) <= 300 else preview[:300] + "…"
            parts.append(Text("      " + shown.replace("\n", "\n      "), style="italic"))
        out.print(Group(*parts))
    out.print(
        f"[bold]result:[/bold] {escape(trace.get('result') or '(none)')}\n"
        f"[dim]{trace.get('prompt_tokens', 0)}+{trace.get('completion_tokens', 0)} tokens, "
        f"${trace.get('cost_usd') or 0:.6f}, {(trace.get('wall_ms') or 0) / 1000:.1f} s, "
        f"{len(trace['steps'])} steps[/dim]"
    )
