"""The `mixstack` command: one sub-command per module, errors as one line and an exit code."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from mixstack.cli.agent import agent_command
from mixstack.cli.alerts import alerts_command
from mixstack.cli.audit import audit_command
from mixstack.cli.chat import chat_command
from mixstack.cli.common import err_console
from mixstack.cli.demo import demo_command
from mixstack.cli.doctor import doctor_command
from mixstack.cli.eval import eval_app
from mixstack.cli.exits import EXIT_CODES_HELP
from mixstack.cli.keys import keys_app
from mixstack.cli.logs import logs_command
from mixstack.cli.models import models_command
from mixstack.cli.rephrase import rephrase_command
from mixstack.cli.route import route_command
from mixstack.cli.run import run_command
from mixstack.cli.serve import serve_command
from mixstack.cli.sweep import sweep_command
from mixstack.cli.trace import trace_command
from mixstack.cli.tune import tune_app
from mixstack.errors import MixstackError

__all__ = ["app", "main"]

app = typer.Typer(
    name="mixstack",
    help="The open control plane for mixed open/closed AI stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=EXIT_CODES_HELP,
    # plain help: no `<bool>` tags on flags, no box drawing when piped into a pager or docs
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("mixstack")
        except PackageNotFoundError:  # run from a source tree that was never installed
            found = "unknown (not installed)"
        typer.echo(f"mixstack {found}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """The open control plane for mixed open/closed AI stacks."""


app.command("run")(run_command)
app.command("chat")(chat_command)
app.command("models")(models_command)
app.command("logs")(logs_command)
app.command("demo")(demo_command)
app.command("doctor")(doctor_command)
app.command("route")(route_command)
app.command("serve")(serve_command)
app.add_typer(keys_app, name="keys")
app.command("rephrase")(rephrase_command)
app.add_typer(eval_app, name="eval")
app.command("audit")(audit_command)
app.command("sweep")(sweep_command)
app.command("agent")(agent_command)
app.command("trace")(trace_command)
app.command("alerts")(alerts_command)
app.add_typer(tune_app, name="tune")


def main() -> None:
    try:
        app()
    except MixstackError as exc:
        err_console.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
