"""One Redis connection pool per event loop, and what counts as Redis being down."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mixstack.errors import ConfigError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["LoopClients", "is_down", "require_client", "run_script"]


def require_client() -> None:
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise ConfigError(
            "`redis:` needs the Redis client; install `mixstack[redis]` (redis-py)."
        ) from None


class LoopClients:
    """One client per event loop (a client's connections belong to the loop they were
    made on), from a bounded pool: a burst of requests queues on a few connections instead
    of opening one each (a hundred connects at once time out on a busy machine and would
    look like Redis being down)."""

    def __init__(self, url: str, *, connections: int, timeout_s: float):
        self.url = url
        self._connections = connections
        self._timeout_s = timeout_s
        self._clients: dict[int, aioredis.Redis] = {}

    def get(self) -> aioredis.Redis:
        import redis.asyncio as aioredis

        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self._connections,
                # waiting for a pooled connection is not Redis being down: a busy process
                # queues; a Redis that is down fails the connection attempts themselves
                timeout=None,
                socket_connect_timeout=self._timeout_s,
                socket_timeout=self._timeout_s,
                decode_responses=True,
                **_checked_on_checkout(),
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients = {loop: client}
        return client

    async def aclose(self) -> None:
        """Close this loop's client (others belong to loops that are gone)."""
        loop = id(asyncio.get_running_loop())
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def _checked_on_checkout() -> dict[str, Any]:
    """Pool options under which a connection the server closed (a Redis restart) is
    reconnected when it is taken from the pool, not used and failed.

    Recent redis-py (8 here) turns maintenance notifications (a Redis Enterprise feature) on
    by default ("auto"), and with them on its pool skips that check: after a restart each
    pooled connection then failed once with "Connection closed by server.", which read as
    Redis being down (a breaker's local half-open trial, limits and holds moving to the
    store) while Redis was up. A self-hosted Redis or Valkey sends no such notifications.
    """
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # a redis-py without them always checks
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def is_down(exc: BaseException) -> bool:
    """A refused connection, a timeout, or a server still loading its data."""
    import redis.exceptions

    return isinstance(
        exc,
        redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OSError,
    ) or (isinstance(exc, redis.exceptions.ResponseError) and "LOADING" in str(exc))


_SHAS: dict[str, str] = {}


async def run_script(
    client: aioredis.Redis, script: str, keys: list[str], args: Iterable[Any]
) -> Any:
    """EVALSHA, loading the script once if this Redis has not seen it (a restart)."""
    import redis.exceptions

    sha = _SHAS.get(script)
    if sha is None:
        sha = _SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
    try:
        return await client.evalsha(sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return await client.eval(script, len(keys), *keys, *args)
