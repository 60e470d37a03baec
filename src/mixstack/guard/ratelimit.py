"""Requests and tokens per minute per key: a sliding 60-second window kept in memory.

A request is admitted with its estimated tokens and corrected to the real count when it
ends. The window is per gateway process; several replicas share limits through Redis (not
built in yet), so with `--workers N` each process enforces the key's full limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from mixstack.errors import RateLimited

__all__ = ["RateLimiter", "Ticket"]

WINDOW_S = 60.0


class Ticket:
    """One admitted request in a key's window; `settle` replaces its token estimate."""

    __slots__ = ("at", "tokens", "window")

    def __init__(self, window: _Window | None, at: float, tokens: int):
        self.window = window
        self.at = at
        self.tokens = tokens

    def settle(self, tokens: int) -> None:
        if self.window is not None and self.at > self.window.horizon:
            self.window.token_sum += tokens - self.tokens
        self.tokens = tokens


class _Window:
    __slots__ = ("entries", "horizon", "token_sum")

    def __init__(self) -> None:
        self.entries: deque[Ticket] = deque()
        self.token_sum = 0
        #: entries at or before this time have left the window
        self.horizon = -math.inf

    def prune(self, now: float) -> None:
        cutoff = now - WINDOW_S
        entries = self.entries
        while entries and entries[0].at <= cutoff:
            gone = entries.popleft()
            self.token_sum -= gone.tokens
            self.horizon = gone.at


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def admit(self, key_id: str, *, rpm: int | None, tpm: int | None, tokens: int) -> Ticket:
        """Admit one request or raise `RateLimited` with the seconds until it would fit."""
        now = self._clock()
        if rpm is None and tpm is None:
            return Ticket(None, now, tokens)
        window = self._windows.get(key_id)
        if window is None:
            window = self._windows[key_id] = _Window()
        window.prune(now)
        entries = window.entries
        if rpm is not None and len(entries) >= rpm:
            wait = entries[len(entries) - rpm].at + WINDOW_S - now
            raise RateLimited(
                f"key {key_id} is over its limit of {rpm} requests per minute; "
                f"retry after {math.ceil(wait)} s.",
                retry_after_s=wait,
            )
        if tpm is not None and tokens > tpm:
            # alone over the limit: no wait would let it through, so say what to change
            raise RateLimited(
                f"this request needs about {tokens} tokens, more than key {key_id}'s limit of "
                f"{tpm} tokens per minute; send a shorter prompt or lower max_tokens.",
                retry_after_s=WINDOW_S,
            )
        if tpm is not None and window.token_sum > 0 and window.token_sum + tokens > tpm:
            wait = self._tokens_free_at(window, tpm - tokens) - now
            raise RateLimited(
                f"key {key_id} is over its limit of {tpm} tokens per minute "
                f"({window.token_sum} used, this request needs about {tokens}); "
                f"retry after {math.ceil(wait)} s or lower max_tokens.",
                retry_after_s=wait,
            )
        ticket = Ticket(window, now, tokens)
        entries.append(ticket)
        window.token_sum += tokens
        return ticket

    @staticmethod
    def _tokens_free_at(window: _Window, allowed: int) -> float:
        """When enough old entries have left the window for the sum to drop to `allowed`."""
        remaining = window.token_sum
        for entry in window.entries:
            remaining -= entry.tokens
            if remaining <= max(allowed, 0):
                return entry.at + WINDOW_S
        last = window.entries[-1].at if window.entries else 0.0
        return last + WINDOW_S
