"""`mixstack serve`: the OpenAI-compatible gateway over the pipeline (uvicorn)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Annotated

import typer

from mixstack.cli.common import ConfigOption, err_console, load
from mixstack.config import CONFIG_ENV

__all__ = ["serve_command"]


def serve_command(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default: gateway.host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port (default: gateway.port, 4000)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Server processes (default: 1)."),
    ] = None,
) -> None:
    """Serve the OpenAI Chat Completions API in front of every configured model."""
    import uvicorn

    from mixstack.gateway import create_app
    from mixstack.gateway._connections import server_options
    from mixstack.gateway._metrics import MULTIPROC_ENV
    from mixstack.guard._budget import Budget
    from mixstack.store import open_store

    cfg = load(config)
    settings = cfg.gateway
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    with open_store(cfg.store, home=cfg.home) as store:
        # holds of a server that died mid-request; other live servers' holds are kept
        Budget.reclaim_holds(store)
    err_console.print(
        f"mixstack gateway on http://{host}:{port}/v1 ({workers} worker"
        f"{'s' if workers > 1 else ''}; auth: {settings.auth}); Ctrl-C stops it."
    )
    # no X-Forwarded-* rewriting (the gateway never reads the client's address) and no
    # `server:` header: less work on every request
    options = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        # header and idle timeouts, a connection cap (slowloris)
        **server_options(settings),
    }
    if workers == 1:
        uvicorn.run(create_app(cfg, serving=True), **options)
        return
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    # each worker is a fresh interpreter: metrics go to files the scraped worker sums
    own_dir = MULTIPROC_ENV not in os.environ
    if own_dir:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="mixstack-metrics-")
    try:
        uvicorn.run(
            "mixstack.gateway:app_from_env",
            factory=True,
            workers=workers,
            **options,
        )
    finally:
        if own_dir:
            shutil.rmtree(os.environ.pop(MULTIPROC_ENV), ignore_errors=True)
