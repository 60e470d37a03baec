"""`mixstack keys`: virtual API keys of the gateway (shown once, stored hashed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from mixstack.cli.common import ConfigOption, JsonOption, load, print_json, stdout_console
from mixstack.errors import InvalidRequestError
from mixstack.guard._keys import KeyStore, VirtualKey, parse_expiry
from mixstack.store import open_store

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Create, list and revoke the gateway's virtual API keys.", rich_markup_mode=None
)


@keys_app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    budget: Annotated[
        float | None, typer.Option("--budget", min=0.0, help="Spend cap in USD.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=0, help="Cap on tokens used in total.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", min=1, help="Tokens per minute.")] = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="Allowed model patterns, e.g. 'local/*' (repeatable)."),
    ] = None,
    admin: Annotated[
        bool,
        typer.Option("--admin", help="An admin key: may also read /metrics, /health details, /ui."),
    ] = False,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Expiry: a duration (30d, 12h, 2w) or an ISO date."),
    ] = None,
    budget_period: Annotated[
        str | None,
        typer.Option(
            "--budget-period",
            help="Reset spend and tokens to zero every period: daily, weekly or monthly.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key; its secret is printed once and never stored."""
    cfg = load(config)
    expires_at = parse_expiry(expires) if expires is not None else None
    with open_store(cfg.store, home=cfg.home) as store:
        secret, key = KeyStore(store).create(
            name=name,
            budget_usd=budget,
            max_tokens=max_tokens,
            rpm=rpm,
            tpm=tpm,
            models=tuple(models or ()),
            admin=admin,
            expires_at=expires_at,
            budget_period=budget_period,
        )
    if as_json:
        print_json({**key.to_json(), "key": secret})
        return
    typer.echo(secret)
    typer.echo(f"created {key.id}; this is the only time the key is shown.", err=True)


@keys_app.command("list")
def list_command(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List keys with their limits and what they have used (never the secrets)."""
    cfg = load(config)
    with open_store(cfg.store, home=cfg.home) as store:
        keys = KeyStore(store).list(include_revoked=all_keys)
    if as_json:
        print_json([k.to_json() for k in keys])
        return
    table = Table(title="keys")
    columns = ("id", "name", "prefix", "role", "spent / budget $", "tokens", "rpm", "tpm")
    for column in (*columns, "models", "expires"):
        table.add_column(column, overflow="fold")
    for k in keys:
        budget = "-" if k.budget_usd is None else f"{k.budget_usd:g}"
        if k.budget_period:
            budget += f" {k.budget_period}"
        tokens = f"{k.tokens_used}" + ("" if k.max_tokens is None else f" / {k.max_tokens}")
        table.add_row(
            k.id + _status(k),
            k.name,
            k.prefix + "…",
            "admin" if k.admin else "user",
            f"{k.spent_usd:.6f} / {budget}",
            tokens,
            str(k.rpm or "-"),
            str(k.tpm or "-"),
            ", ".join(k.models) or "all",
            _when(k.expires_at),
        )
    stdout_console().print(table)


def _status(key: VirtualKey) -> str:
    if not key.active:
        return " (revoked)"
    return " (expired)" if key.expired() else ""


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


@keys_app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key id (key_…), from `mixstack keys list`.")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key; requests with it get 401 within seconds."""
    cfg = load(config)
    with open_store(cfg.store, home=cfg.home) as store:
        if not KeyStore(store).revoke(key_id):
            raise InvalidRequestError(
                f"no active key {key_id!r}; run `mixstack keys list` to see the key ids."
            )
    typer.echo(f"revoked {key_id}")
