"""Shared pieces of the CLI commands: options, prompt input, output helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mixstack.config import Config, load_config
from mixstack.errors import InvalidRequestError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ConfigOption",
    "ImageOption",
    "JsonOption",
    "ModelOption",
    "WorkloadOption",
    "err_console",
    "load",
    "note_if_cut",
    "print_json",
    "read_prompt",
    "stdout_console",
]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="mixstack.yaml to use (default: $MIXSTACK_CONFIG or built-in)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="provider/model or workload/<name>.")
]
ImageOption = Annotated[
    list[Path] | None, typer.Option("--image", help="Attach an image (repeatable).")
]
WorkloadOption = Annotated[
    str | None, typer.Option("--workload", "-w", help="Workload policy to apply.")
]

err_console = Console(stderr=True, highlight=False)

#: the answer cap of `run` and `chat` when --max-tokens is not given: a small local model
#: asked an open question may write on for its whole context, minutes on a CPU
DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_HELP = "Answer length cap; an answer cut at it says so on stderr."

#: piped output has no width; wide enough that no table cell or line is ever wrapped
PIPE_WIDTH = 10_000


def stdout_console() -> Console:
    """A console for stdout, built at use (tests and pipes swap sys.stdout): the terminal's
    width on a terminal, else no wrapping at all (rich's 80-column default split table cells
    mid-word in `mixstack models | cat`)."""
    stream = sys.stdout
    if stream is not None and stream.isatty():
        return Console(highlight=False)
    return Console(highlight=False, width=PIPE_WIDTH)


def load(config: Path | None) -> Config:
    return load_config(config)


def read_prompt(prompt: str | None) -> str:
    """The prompt from the argument, or from stdin when the argument is absent or `-`."""
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InvalidRequestError("no prompt given; pass it as an argument or on stdin.")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise InvalidRequestError("the prompt is empty; pass text as an argument or on stdin.")
    return prompt


def note_if_cut(finish_reason: str, max_tokens: int) -> None:
    """Say on stderr that an answer stopped at the cap, not where the model ended it."""
    if finish_reason == "length":
        err_console.print(
            f"(answer cut at --max-tokens {max_tokens}; raise it for a longer one)",
            soft_wrap=True,
        )


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
