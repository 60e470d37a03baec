"""`mixstack chat`: an interactive multi-turn conversation."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.markup import escape

from mixstack.cli.common import (
    DEFAULT_MAX_TOKENS,
    MAX_TOKENS_HELP,
    ConfigOption,
    ModelOption,
    WorkloadOption,
    err_console,
    load,
    note_if_cut,
)
from mixstack.config import Config
from mixstack.errors import MixstackError
from mixstack.pipeline import Pipeline
from mixstack.types import Message, Request, SamplingParams

__all__ = ["chat_command"]

_HELP = "Type a message; /reset clears the conversation, /exit (or Ctrl-D) quits."


def chat_command(
    model: ModelOption = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help=MAX_TOKENS_HELP)
    ] = DEFAULT_MAX_TOKENS,
    workload: WorkloadOption = None,
    config: ConfigOption = None,
) -> None:
    """Chat with a model, turn after turn."""
    asyncio.run(_chat(model, system, max_tokens, workload, load(config)))


def _read_line(interactive: bool) -> str | None:
    if interactive:
        err_console.print("[bold]you>[/bold] ", end="")
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")


async def _chat(
    model: str | None,
    system: str | None,
    max_tokens: int,
    workload: str | None,
    config: Config,
) -> None:
    interactive = sys.stdin.isatty()
    history: list[Message] = [Message.system(system)] if system else []
    async with Pipeline(config) as pipeline:
        name = model or pipeline.config.default_model
        if not name.startswith("workload/"):
            pipeline.catalog.get(name)  # an unknown model fails before the first turn
        if interactive:
            err_console.print(f"chatting with [bold]{name}[/bold]. {_HELP}")
        while (line := _read_line(interactive)) is not None:
            command = line.strip()
            if command in ("/exit", "/quit"):
                break
            if command == "/reset":
                history = history[:1] if system else []
                err_console.print("(conversation cleared)")
                continue
            if not command:
                continue
            history.append(Message.user(line))
            request = Request(
                messages=tuple(history),
                model=model,
                workload=workload,
                params=SamplingParams(max_tokens=max_tokens),
            )
            try:
                call = await pipeline.open_stream(request, front_door="cli-chat")
                async for chunk in call:
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
            except MixstackError as exc:
                history.pop()
                err_console.print(f"[red]error:[/red] {escape(exc.message)}")
                continue
            sys.stdout.write("\n")
            sys.stdout.flush()
            assert call.completion is not None
            note_if_cut(call.completion.finish_reason, max_tokens)
            history.append(Message.assistant(call.completion.text))
