"""Scans of long texts in a helper process, so they never stall the process that serves.

Scanning a long text (a megabyte prompt: regular expressions, the entity model, the
injection classifier) is CPU work that holds the GIL. In a worker thread it still stalls
the gateway's event loop: every socket call of every other request waits for the GIL
(the convoy effect), and a health check took up to 350 ms. Long texts therefore go to one
helper process, started on first use; the calling thread (one of `offload.py`'s workers)
waits for its answer on a pipe, without holding the GIL. Scans on the main thread stay
where they are.

The helper is a plain `python` subprocess running `serve_stdio()`, not a `multiprocessing` child:
spawning one of those re-imports the caller's main script, which a library must never do
to its user. Calls are pickled frames on its stdin and stdout, one call at a time.

If the helper cannot start or dies, the text is scanned here instead, and a warning says
so: a scan is never skipped to save time.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, ParamSpec, TypeVar, cast

__all__ = ["LONG_TEXT", "offloaded", "run", "serve_stdio", "stop"]

log = logging.getLogger("mixstack.guard")

P = ParamSpec("P")
T = TypeVar("T")

#: characters from which a scan goes to the helper process (a few ms of scanning below it)
LONG_TEXT = 32_000
_HELPER_ENV = "MIXSTACK_SCAN_HELPER"
_FRAME = struct.Struct("!Q")

_lock = threading.Lock()
_helper: list[subprocess.Popen[bytes]] = []


def offloaded(text: str) -> bool:
    """Whether a scan of `text` should run in the helper process: a long text, scanned off
    the main thread (a worker keeping an event loop free; on the main thread itself the
    caller waits either way, and a one-shot command would only pay the helper's start)."""
    return (
        len(text) >= LONG_TEXT
        and threading.current_thread() is not threading.main_thread()
        and not os.environ.get(_HELPER_ENV)
    )


def _write(stream: IO[bytes], payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError("the scan helper closed its pipe")
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the scan helper closed its pipe")
    return pickle.loads(data)  # our own child process, on our own pipe: trusted


def _started() -> subprocess.Popen[bytes]:
    """The helper process, started if it is not running (call with `_lock` held)."""
    if _helper and _helper[0].poll() is None:
        return _helper[0]
    _helper.clear()
    env = {**os.environ, _HELPER_ENV: "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from mixstack.guard._helper_process import serve_stdio; serve_stdio()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    _helper.append(proc)
    return proc


def stop() -> None:
    """Stop the helper process (a new one starts on the next long text)."""
    with _lock:
        for proc in _helper:
            proc.kill()
            proc.wait()
        _helper.clear()


def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in the helper process; here if the helper is unavailable.

    `fn` must be a module-level function, its arguments and result picklable.
    """
    with _lock:
        try:
            proc = _started()
            _write(cast(IO[bytes], proc.stdin), (fn, args, kwargs))
            ok, value = _read(cast(IO[bytes], proc.stdout))
        except (OSError, EOFError, pickle.PickleError) as exc:
            log.warning("the scan helper process failed (%s); scanning this text here", exc)
            _helper.clear()
            return fn(*args, **kwargs)
    if not ok:
        raise cast(BaseException, value)
    return cast(T, value)


def serve_stdio() -> None:
    """The helper's loop: a call in on stdin, its result (or the exception it raised) out.

    Frames go out on a copy of the original stdout; stdout itself now points at stderr, so
    a library that prints cannot corrupt a frame.
    """
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, frames)


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    while True:
        try:
            fn, args, kwargs = _read(stdin)
        except EOFError:
            return
        try:
            reply: tuple[bool, object] = (True, fn(*args, **kwargs))
        except Exception as exc:  # raised again in the caller
            reply = (False, exc)
        _write(stdout, reply)
