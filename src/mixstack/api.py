"""The Python API: `arun`/`astream` (async core) and `run`/`stream` (thin sync wrappers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from mixstack.config import Config, load_config
from mixstack.pipeline import Pipeline
from mixstack.types import Chunk, Completion, ImagePart, Request

__all__ = ["arun", "astream", "run", "stream"]

T = TypeVar("T")


def _request(
    prompt: str | Request,
    *,
    model: str | None,
    system: str | None,
    images: tuple[str | Path | ImagePart, ...],
    kwargs: dict[str, Any],
) -> Request:
    if isinstance(prompt, Request):
        return prompt.with_changes(**({"model": model} if model else {}))
    parts = tuple(i if isinstance(i, ImagePart) else ImagePart.from_path(i) for i in images)
    return Request.from_prompt(prompt, model=model, system=system, images=parts, **kwargs)


def _config(config: Config | str | Path | None) -> Config:
    return config if isinstance(config, Config) else load_config(config)


async def arun(
    prompt: str | Request,
    *,
    model: str | None = None,
    system: str | None = None,
    images: tuple[str | Path | ImagePart, ...] = (),
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **kwargs: Any,
) -> Completion:
    """Send one prompt (or a full `Request`) through the pipeline and return the answer."""
    request = _request(prompt, model=model, system=system, images=images, kwargs=kwargs)
    if pipeline is not None:
        return await pipeline.complete(request)
    async with Pipeline(_config(config)) as own:
        return await own.complete(request)


async def astream(
    prompt: str | Request,
    *,
    model: str | None = None,
    system: str | None = None,
    images: tuple[str | Path | ImagePart, ...] = (),
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **kwargs: Any,
) -> AsyncIterator[Chunk]:
    """Stream the answer chunk by chunk; the last chunk carries the usage."""
    request = _request(prompt, model=model, system=system, images=images, kwargs=kwargs)
    own = None if pipeline is not None else Pipeline(_config(config))
    active = pipeline or own
    assert active is not None
    try:
        async for chunk in await active.open_stream(request):
            yield chunk
    finally:
        if own is not None:
            await own.aclose()


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("mixstack.run() was called inside an event loop; await mixstack.arun().")


def run(prompt: str | Request, **kwargs: Any) -> Completion:
    """Sync wrapper of `arun` (same arguments)."""
    return _run_sync(arun(prompt, **kwargs))


def stream(prompt: str | Request, **kwargs: Any) -> Iterator[Chunk]:
    """Sync wrapper of `astream` (same arguments): yields chunks as they arrive."""
    loop = asyncio.new_event_loop()
    agen = cast(AsyncGenerator[Chunk, None], astream(prompt, **kwargs))
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(agen.aclose())
        loop.close()
