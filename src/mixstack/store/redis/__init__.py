"""Hot counters in Redis (`redis: redis://…`): rate-limit windows every replica shares,
updated atomically by Lua scripts with Redis's own clock (budget holds: `budgets.py`).

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
from mixstack.store.redis.connection import LoopClients, is_down, require_client

__all__ = ["RedisDown", "RedisRates"]

log = logging.getLogger("mixstack.store")

RedisDown = Literal["store", "closed"]

# KEYS: the window's entries (zset id → time), their tokens (hash id → n), the id counter
# ARGV: rpm (-1: none), tpm (-1: none), tokens, window seconds
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
if #old > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  redis.call('HDEL', KEYS[2], unpack(old))
end
local count = redis.call('ZCARD', KEYS[1])
local sum = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do sum = sum + tonumber(v) end
if rpm >= 0 and count >= rpm then
  local at = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  return {0, 'rpm', tostring(tonumber(at[2]) + window - now), sum}
end
if tpm >= 0 and sum > 0 and sum + tokens > tpm then
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local remaining, allowed, wait = sum, math.max(tpm - tokens, 0), window
  for i = 1, #entries, 2 do
    remaining = remaining - tonumber(redis.call('HGET', KEYS[2], entries[i]) or '0')
    if remaining <= allowed then wait = tonumber(entries[i + 1]) + window - now break end
  end
  return {0, 'tpm', tostring(wait), sum}
end
local id = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', KEYS[2], id, tokens)
redis.call('EXPIRE', KEYS[1], math.ceil(window) * 2)
redis.call('EXPIRE', KEYS[2], math.ceil(window) * 2)
return {id, '', '0', sum}
"""
# an entry that left the window meanwhile stays gone
_SETTLE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""
#: after a failure, how long to use the fallback before trying Redis again
_RETRY_S = 1.0
#: connections per process, and how long a command may wait (a refused connection fails
#: at once: this bounds only a Redis that hangs)
_CONNECTIONS = 32
_TIMEOUT_S = 5.0


def _keys(key_id: str) -> list[str]:
    tag = "{" + key_id + "}"  # one hash slot per key (Redis Cluster)
    return [f"mixstack:rl:{tag}:at", f"mixstack:rl:{tag}:tok", f"mixstack:rl:{tag}:id"]


class RedisRates:
    """A `RateRepository` on Redis with the store's windows behind it."""

    def __init__(self, url: str, fallback: RateRepository, on_down: RedisDown = "store"):
        require_client()
        self.url = url
        self.fallback = fallback
        self.on_down = on_down
        self._clients = LoopClients(url, connections=_CONNECTIONS, timeout_s=_TIMEOUT_S)
        self._down_until = 0.0
        self._admit_sha: Any = None
        self._settle_sha: Any = None

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        if time.monotonic() >= self._down_until:
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
        client = self._clients.get()
        args = (-1 if rpm is None else rpm, -1 if tpm is None else tpm, tokens, WINDOW_S)
        result = await client.eval(_ADMIT, 3, *_keys(key_id), *args)
        event, reason, wait, window_tokens = result
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
        task = asyncio.get_running_loop().create_task(self._settle(key_id, admitted.event, tokens))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    async def _settle(self, key_id: str, event: int, tokens: int) -> None:
        try:
            await self._clients.get().eval(_SETTLE, 1, _keys(key_id)[1], event, tokens)
        except Exception as exc:  # the entry keeps its estimate: the window errs strict
            log.warning("could not settle a rate-limit entry in Redis: %s", exc)


_PENDING: set[asyncio.Task[None]] = set()
