"""Process leases: who owns a budget hold, and whether that owner is still alive.

An owner id is `host:pid:random`. A live process renews its lease every third of
`LEASE_S`; an owner is gone when its lease lapsed, or at once when it ran on this host and
its pid no longer exists (a gateway restarted after a crash frees its old holds at start).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

__all__ = ["Heartbeat", "new_owner", "owner_gone"]

log = logging.getLogger("mixstack.store")


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def owner_gone(host: str, pid: int, expires_at: float, now: float) -> bool:
    if expires_at <= now:
        return True
    return host == socket.gethostname() and pid != os.getpid() and not _pid_alive(pid)


class Heartbeat:
    """A daemon thread that calls `beat` every `every_s` until stopped."""

    def __init__(self, beat: Callable[[], None], every_s: float, name: str):
        self._beat = beat
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except Exception as exc:  # the next beat retries; the lease lapses if none can
                if self._stop.is_set():
                    return
                log.warning("renewing this process's store lease failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
