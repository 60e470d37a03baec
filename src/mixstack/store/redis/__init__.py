"""Hot counters in Redis (`redis: redis://…`): rate-limit windows every replica shares,
updated atomically by Lua scripts with Redis's own clock (`rate_scripts.py`; budget holds:
`budgets.py`). A process sends the scripts of one loop turn as one pipeline (`ScriptBatch`).

When Redis cannot be reached, limits fall back to the store's windows (PostgreSQL or
SQLite: slower, still shared and exact) or, with `redis_down: closed`, every limited
request is refused until Redis is back. Never to no limits. Needs `mixstack[redis]`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

from mixstack.errors import RateLimited
from mixstack.store.rates import WINDOW_S, RateRepository, RateVerdict
from mixstack.store.redis import rate_scripts as lua
from mixstack.store.redis.connection import LoopClients, ScriptBatch, is_down, require_client

__all__ = ["RedisDown", "RedisRates", "rate_args"]

log = logging.getLogger("mixstack.store")

RedisDown = Literal["store", "closed"]

#: after a failure, how long to use the fallback before trying Redis again
_RETRY_S = 1.0
#: connections per process, and how long a command may wait (a refused connection fails
#: at once: this bounds only a Redis that hangs)
_CONNECTIONS = 32
_TIMEOUT_S = 5.0


class RedisRates:
    """A `RateRepository` on Redis with the store's windows behind it."""

    def __init__(self, url: str, fallback: RateRepository, on_down: RedisDown = "store"):
        require_client()
        self.url = url
        self.fallback = fallback
        self.on_down = on_down
        self._clients = LoopClients(url, connections=_CONNECTIONS, timeout_s=_TIMEOUT_S)
        self._down_until = 0.0
        #: the calls of one loop turn go out together (budget holds share it: `budgets.py`)
        self.batch = ScriptBatch(self._clients)

    @property
    def up(self) -> bool:
        """Not known to be down (a call may go to Redis)."""
        return time.monotonic() >= self._down_until

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        if self.up:
            try:
                return await self._admit(key_id, rpm, tpm, tokens)
            except Exception as exc:  # connection refused, timeout, a restarting server
                if not is_down(exc):
                    raise
                if self._down_until == 0.0 or time.monotonic() >= self._down_until:
                    log.warning(
                        "Redis at %s is unreachable (%s); rate limits %s",
                        self.url,
                        exc,
                        "come from the store"
                        if self.on_down == "store"
                        else "refuse every request",
                    )
                self._down_until = time.monotonic() + _RETRY_S
        if self.on_down == "closed":
            raise RateLimited(
                f"rate limits are unavailable (Redis at {self.url} is down) and this gateway "
                "fails closed (`redis_down: closed`); retry shortly.",
                retry_after_s=_RETRY_S,
            )
        return await self.fallback.admit(key_id, rpm, tpm, tokens)

    async def _admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        keys = lua.rate_keys(key_id)
        return self.answered(await self.batch.run(lua.ADMIT, keys, rate_args(rpm, tpm, tokens)))

    def answered(self, result: Any) -> RateVerdict:
        """The verdict in an admission script's answer (Redis answered: it is up)."""
        event, reason, wait, window_tokens = result[:4]
        if self._down_until:
            log.warning("Redis at %s is back; rate limits come from it again", self.url)
            self._down_until = 0.0
        if int(event):
            return RateVerdict(int(event), backend="redis")
        return RateVerdict(None, reason, max(float(wait), 0.0), int(window_tokens), "redis")

    def settle(self, key_id: str, admitted: RateVerdict, tokens: int) -> None:
        if admitted.backend != "redis":
            self.fallback.settle(key_id, admitted, tokens)
            return
        if admitted.event is None:
            return
        keys = lua.rate_keys(key_id)[1:2]
        done = self.batch.submit(lua.SETTLE, keys, (admitted.event, tokens), later=True)
        done.add_done_callback(_settled)


def rate_args(rpm: int | None, tpm: int | None, tokens: int) -> tuple[int, int, int, float]:
    """The admission script's ARGV: rpm and tpm (-1: none), tokens, the window."""
    return (-1 if rpm is None else rpm, -1 if tpm is None else tpm, tokens, WINDOW_S)


def _settled(done: asyncio.Future[Any]) -> None:
    if done.cancelled():
        return
    if (exc := done.exception()) is not None:  # the entry keeps its estimate: errs strict
        log.warning("could not settle a rate-limit entry in Redis: %s", exc)
