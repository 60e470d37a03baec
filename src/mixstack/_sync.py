"""The one way the sync API runs the async core: a per-process event loop in a daemon thread.

One long-lived loop (rather than `asyncio.run` per call) lets sync calls share the default
pipeline and its keep-alive connections, which belong to the loop that opened them, and saves
building and tearing down a loop per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync", "running_sync_loop", "stop_sync_loop", "sync_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def sync_loop() -> asyncio.AbstractEventLoop:
    """The process's loop for sync calls, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="mixstack-sync", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def running_sync_loop() -> asyncio.AbstractEventLoop | None:
    """The sync loop if it was started and still runs."""
    return _loop if _loop is not None and _loop.is_running() else None


def stop_sync_loop() -> None:
    """Stop the sync loop (at exit, after the shared pipelines closed on it)."""
    global _loop, _thread
    with _lock:
        loop, thread, _loop, _thread = _loop, _thread, None, None
    if loop is None or thread is None:
        return
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not thread.is_alive():
        loop.close()


def _refuse_inside_loop(what: str, awaitable: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    # blocking here would freeze the caller's loop (and deadlock if it is the one we need)
    raise RuntimeError(f"{what} was called inside an event loop; await {awaitable} instead.")


def _wait(future: Future[T]) -> T:
    try:
        return future.result()
    except BaseException:
        # Ctrl-C (or any interruption) while waiting: stop the work on the loop too
        future.cancel()
        raise


def run_sync(
    coro: Coroutine[Any, Any, T],
    *,
    what: str = "mixstack.run()",
    awaitable: str = "mixstack.arun()",
) -> T:
    """Run `coro` on the sync loop and wait for its result (errors propagate as raised)."""
    try:
        _refuse_inside_loop(what, awaitable)
    except RuntimeError:
        coro.close()
        raise
    return _wait(asyncio.run_coroutine_threadsafe(coro, sync_loop()))


async def _next(items: AsyncIterator[T]) -> list[T]:
    """The next item, or nothing at the end."""
    try:
        return [await items.__anext__()]
    except StopAsyncIteration:
        return []


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        closing: Awaitable[Any] = aclose()
        await closing


def iterate_sync(
    items: AsyncIterator[T],
    *,
    what: str = "mixstack.stream()",
    awaitable: str = "mixstack.astream()",
) -> Iterator[T]:
    """Yield what an async iterator yields, each item awaited on the sync loop."""
    _refuse_inside_loop(what, awaitable)
    loop = sync_loop()
    try:
        while True:
            got = _wait(asyncio.run_coroutine_threadsafe(_next(items), loop))
            if not got:
                return
            yield got[0]
    finally:
        _wait(asyncio.run_coroutine_threadsafe(_close(items), loop))
