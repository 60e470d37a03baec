"""The default pipeline of a config, built once per process and shared (like Inspect's
`get_model`): `run`, `arun`, `stream`, `rephrase`, `run_agent` and the CLI's `route`/`models`
reuse it instead of rebuilding config, catalog and store per call.

A config is identified by the object passed, or by its file (path, size and modification
time: an edited file gets a new pipeline), together with `$MIXSTACK_HOME` (the store it
writes to). At exit the shared pipelines are closed, so recorded calls are flushed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING

from mixstack.config import CONFIG_ENV, Config, load_config

if TYPE_CHECKING:
    from mixstack.pipeline import Pipeline

__all__ = ["close_shared", "shared_pipeline"]

#: pipelines kept at once; the least recently used beyond this is closed
_MAX_SHARED = 8
_HOME_ENV = "MIXSTACK_HOME"

_lock = threading.Lock()
# key -> (the Config object when keyed by identity, kept alive so its id stays unique; pipeline)
_shared: OrderedDict[Hashable, tuple[Config | None, Pipeline]] = OrderedDict()


def _key(config: Config | str | Path | None) -> Hashable | None:
    """What identifies a config's pipeline; None when it cannot be cached (missing file)."""
    home = os.environ.get(_HOME_ENV, "")
    if isinstance(config, Config):
        return ("object", id(config), home)
    chosen = config if config is not None else os.environ.get(CONFIG_ENV) or None
    if chosen is None:
        return ("embedded", home)
    try:
        path = Path(chosen).resolve()
        stat = path.stat()
    except OSError:
        return None  # load_config says what is wrong with it
    return ("file", str(path), stat.st_mtime_ns, stat.st_size, home)


def shared_pipeline(config: Config | str | Path | None = None) -> Pipeline:
    """The process's pipeline for `config` (a `Config`, a file, or None: the environment's)."""
    from mixstack.pipeline import Pipeline

    key = _key(config)
    with _lock:
        found = _shared.get(key) if key is not None else None
        if found is not None:
            _shared.move_to_end(key)
            return found[1]
    pipeline = Pipeline(config if isinstance(config, Config) else load_config(config))
    if key is None:
        return pipeline
    with _lock:
        kept = _shared.setdefault(key, (config if isinstance(config, Config) else None, pipeline))[
            1
        ]
        retired = _shared.popitem(last=False)[1][1] if len(_shared) > _MAX_SHARED else None
    if retired is not None:
        retired.close_store()
    return kept


async def close_shared() -> None:
    """Close every shared pipeline (providers and store)."""
    with _lock:
        pipelines = [p for _, p in _shared.values()]
        _shared.clear()
    for pipeline in pipelines:
        try:
            await pipeline.aclose()
        except Exception:
            pipeline.close_store()


def _at_exit() -> None:
    from mixstack._sync import running_sync_loop, stop_sync_loop

    loop = running_sync_loop()
    if loop is not None:
        # the sync calls' connections belong to that loop: close them on it; a failure
        # when leaving the process still leaves the stores to close below
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close_shared(), loop).result(timeout=10)
        stop_sync_loop()
    with _lock:
        pipelines = [p for _, p in _shared.values()]
        _shared.clear()
    for pipeline in pipelines:
        pipeline.close_store()


atexit.register(_at_exit)
