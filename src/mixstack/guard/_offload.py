"""CPU-heavy guard work (PII scans of large prompts, OCR, image decoding) off the event loop.

A gateway serves every client from one event loop: a 100 KB prompt scanned inline stalls
them all. Requests above `INLINE_CHARS` of text, or carrying image bytes, are prepared in a
small pool of worker threads instead (small ones stay inline: a thread hand-off costs more
than scanning a few KB). The pool is bounded, and so is the time a request may take there:
past `SCAN_TIMEOUT_S` the client gets a clear 400 rather than a hung request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mixstack._types import ImagePart, Request, TextPart
from mixstack.errors import GuardBusy, ScanTooSlow

__all__ = ["GuardBusy", "ScanTooSlow", "offload_worthy", "run_guarded"]

T = TypeVar("T")

#: requests with more text than this are scanned in a worker thread
INLINE_CHARS = 16_384
WORKERS = 2
#: requests that may wait for a worker before new ones are turned away (503-like 429)
QUEUE = 64
SCAN_TIMEOUT_S = 60.0


class _Pool:
    """The worker threads and the count of requests using them (created on first use)."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="mixstack-guard")
        self.waiting = 0


_lock = threading.Lock()
#: the process's one pool, made on first use (import stays free of threads)
_pools: list[_Pool] = []


def _shared() -> _Pool:
    with _lock:
        if not _pools:
            _pools.append(_Pool())
        return _pools[0]


def offload_worthy(request: Request) -> bool:
    """Whether preparing this request could take long enough to stall an event loop."""
    chars = 0
    for message in request.messages:
        for part in message.content:
            if isinstance(part, TextPart):
                chars += len(part.text)
            elif isinstance(part, ImagePart) and part.data is not None:
                return True
        for call in message.tool_calls:
            chars += len(call.arguments)
    return chars > INLINE_CHARS


async def run_guarded(work: Callable[[], T], *, timeout_s: float = SCAN_TIMEOUT_S) -> T:
    """Run `work` in the guard's worker pool; `ScanTooSlow` past the time cap."""
    pool = _shared()
    if pool.waiting >= QUEUE:
        raise GuardBusy()
    pool.waiting += 1
    try:
        future = asyncio.get_running_loop().run_in_executor(pool.executor, work)
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise ScanTooSlow(timeout_s) from None
    finally:
        pool.waiting -= 1
