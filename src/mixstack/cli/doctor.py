"""`mixstack doctor`: check the install, the embedded models, the llama.cpp build and the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mixstack._doctor import run_checks
from mixstack.cli.common import ConfigOption, JsonOption, print_json

__all__ = ["doctor_command"]

_MARK = {"ok": "[green]ok[/green]  ", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def doctor_command(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    no_decode: Annotated[
        bool, typer.Option("--no-decode", help="Skip loading the models and the decode check.")
    ] = False,
) -> None:
    """Check that the default path works here; exit 0 only when it does."""
    checks = run_checks(config, decode=not no_decode)
    failed = [c for c in checks if c.status == "fail"]
    if as_json:
        print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        console = Console(highlight=False, soft_wrap=True)
        for c in checks:
            console.print(f"{_MARK[c.status]} {escape(c.name)}: {escape(c.detail)}")
            if c.fix and c.status != "ok":
                console.print(f"       fix: {escape(c.fix)}")
        verdict = "[green]all good[/green]" if not failed else f"[red]{len(failed)} failed[/red]"
        console.print(verdict)
    if failed:
        raise typer.Exit(1)
