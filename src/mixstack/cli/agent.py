"""`mixstack agent`: run an agent (or the team declared in `agents:`) on a task."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mixstack._types import ImagePart
from mixstack.agents._budget import Budget
from mixstack.agents._policy import AutoApprove, Decision
from mixstack.agents._runtime import AgentResult, AgentRuntime
from mixstack.cli.common import (
    ConfigOption,
    ImageOption,
    JsonOption,
    ModelOption,
    WorkloadOption,
    err_console,
    load,
    print_json,
    read_prompt,
    stdout_console,
)
from mixstack.config import Config
from mixstack.pipeline import Pipeline

__all__ = ["agent_command"]

#: exit code per way a run can end (answer: 0; refused or out of budget: 3; else 1)
_EXIT = {"answer": 0, "refused": 3, "budget": 3}


def agent_command(
    task: Annotated[str | None, typer.Argument(help="The task; `-` or absent reads stdin.")] = None,
    workload: WorkloadOption = None,
    model: ModelOption = None,
    image: ImageOption = None,
    root: Annotated[
        Path | None, typer.Option("--root", help="Folder the file tools are confined to.")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Model calls per agent.")
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", min=0.0, help="USD the whole run may spend.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-total-tokens", min=1, help="Tokens the run may use.")
    ] = None,
    single: Annotated[
        bool, typer.Option("--single", help="One agent even if the config declares a team.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help=(
                "Approve `ask` decisions without prompting; calls with side effects after "
                "flagged tool output are still denied."
            ),
        ),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a model work on a task with tools, under the permission policy and a budget.

    Exit code: 0 answered, 3 refused by policy or out of budget, 1 other stops.
    """
    text = read_prompt(task)
    images = tuple(ImagePart.from_path(p) for p in image or [])
    cfg = load(config)
    limits = Budget.from_config(cfg.agents.budget).with_limits(usd=budget, tokens=max_tokens)
    options: dict[str, Any] = {
        "workload": workload,
        "model": model,
        "root": root,
        "max_steps": max_steps,
        "budget": limits,
        "single": single,
        "approver": AutoApprove() if yes else _terminal_approver(),
    }
    result = asyncio.run(_run(cfg, text, images, options))
    if as_json:
        print_json(result.to_json())
    else:
        _show(result)
    raise typer.Exit(_EXIT.get(result.stopped, 1))


async def _run(
    cfg: Config, task: str, images: tuple[ImagePart, ...], options: dict[str, Any]
) -> AgentResult:
    async with Pipeline(cfg) as pipeline:
        return await AgentRuntime(pipeline, **options).run(task, images)


def _terminal_approver() -> Any:
    """Ask on the terminal when there is one; otherwise `ask` resolves to `ask_default`."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    lock = asyncio.Lock()  # workers running in parallel ask one at a time

    async def approve(tool: str, arguments: dict[str, Any], decision: Decision) -> bool:
        async with lock:
            return await ask(tool, arguments, decision)

    async def ask(tool: str, arguments: dict[str, Any], decision: Decision) -> bool:
        if decision.source == "taint":
            err_console.print(
                "[bold red]warning:[/bold red] earlier tool output was flagged as a possible "
                "prompt injection; it may be what asked for this call."
            )
        err_console.print(
            f"[yellow]approve[/yellow] {escape(tool)}({escape(str(arguments))})? "
            f"[dim]{escape(decision.reason)}[/dim] \\[y/N] ",
            end="",
            soft_wrap=True,
        )
        answer = await asyncio.to_thread(sys.stdin.readline)
        return answer.strip().lower() in ("y", "yes")

    return approve


def _show(result: AgentResult) -> None:
    out = stdout_console()
    out.print(escape(result.result) if result.result else "[dim](no answer)[/dim]")
    for call in result.tool_calls:
        mark = "ok" if call.ok else "failed"
        colour = {"allow": "green", "deny": "red"}.get(call.decision, "yellow")
        err_console.print(
            f"  [dim]{escape(call.agent)}[/dim] {escape(call.tool)}({escape(str(call.args))}) "
            f"[{colour}]{call.decision}[/{colour}] {mark}"
        )
    usage = result.usage
    err_console.print(
        f"[dim]stopped: {escape(result.stopped)} ({escape(result.reason)}); "
        f"{result.steps} steps, {usage.get('prompt_tokens', 0)}+"
        f"{usage.get('completion_tokens', 0)} tokens, ${usage.get('cost_usd', 0):.6f}; "
        f"see `mixstack trace {result.trace_id}`[/dim]"
    )
