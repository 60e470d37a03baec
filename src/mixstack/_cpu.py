"""How many threads a CPU-bound engine (llama.cpp, onnxruntime) should use here and now."""

from __future__ import annotations

import os

__all__ = ["default_threads"]


def default_threads() -> int:
    """The CPUs this process may use, less those other work keeps busy (the 1-minute load
    average, rounded), at least 1.

    llama.cpp's and onnxruntime's threads meet at a barrier after every operation, so one
    thread the kernel descheduled for another process stalls all of them: on 2 cores busy
    with other work, 2 threads decoded SmolLM2 at 1.7 tokens/s and 1 thread at 24-38 (and
    OCR of a small screenshot took 19 s instead of 2). Erring towards fewer threads costs
    at most the idle cores' share; erring the other way costs 15x. The engines choose once,
    when they load."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except (AttributeError, OSError):
        busy = 0
    return max(1, cpus - busy)
