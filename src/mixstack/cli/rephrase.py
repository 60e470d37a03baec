"""`mixstack rephrase`: turn a rough prompt into a structured one for a use case and model."""

from __future__ import annotations

import asyncio
import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mixstack.cli.common import ConfigOption, JsonOption, err_console, load, print_json, read_prompt
from mixstack.rephrase import RephraseResult, arephrase

__all__ = ["rephrase_command"]


def rephrase_command(
    prompt: Annotated[
        str | None, typer.Argument(help="The rough prompt; `-` or absent reads stdin.")
    ] = None,
    use_case: Annotated[
        str | None,
        typer.Option("--for", help="Use case: chat, code, image, json, agent (default: detect)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Target model or family (anthropic, openai, gemini, small); "
            "default: the model the router would choose.",
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="rules (offline, instant) or model (a model rewrites).")
    ] = "rules",
    rewriter: Annotated[
        str | None,
        typer.Option("--rewriter", help="Model that rewrites in --mode model (default: local)."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="JSON Schema file the answer must match.")
    ] = None,
    with_image: Annotated[
        bool, typer.Option("--with-image", help="The prompt will be sent with an image.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show a diff of rough → rewritten.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rewrite a rough prompt into a structured prompt (role, task, format, uncertainty…)."""
    text = read_prompt(prompt)
    result = asyncio.run(
        arephrase(
            text,
            use_case,
            model,
            mode,
            schema=schema,
            has_image=with_image,
            rewriter=rewriter,
            config=load(config),
        )
    )
    if as_json:
        print_json(result.to_json())
        return
    if diff:
        sys.stdout.writelines(_diff(result))
    else:
        sys.stdout.write(result.prompt + "\n")
    sys.stdout.flush()
    _report(result)


def _diff(result: RephraseResult) -> list[str]:
    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.prompt.splitlines(keepends=True),
        fromfile="rough",
        tofile=f"rephrased ({result.use_case}, {result.target_family})",
    )
    return [ln if ln.endswith("\n") else ln + "\n" for ln in lines]


def _report(result: RephraseResult) -> None:
    """Notes for the human on stderr, so stdout stays the prompt alone."""
    target = result.target_model or result.target_family
    how = "detected" if result.detected else "given"
    err_console.print(
        f"[dim]use case {result.use_case} ({how}), for {target} ({result.target_family}), "
        f"mode {result.mode}[/dim]"
    )
    for note in result.notes:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    for check in result.checks:
        if not check.passed:
            err_console.print(f"[yellow]check {check.name}:[/yellow] {escape(check.detail)}")
    for question in result.questions:
        err_console.print(f"[cyan]?[/cyan] {escape(question)}", soft_wrap=True)
