"""One Redis connection pool per event loop, and what counts as Redis being down."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mixstack.errors import ConfigError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["LoopClients", "ScriptBatch", "is_down", "require_client", "run_script"]


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
        #: how long a command may take before Redis counts as down
        self.timeout_s = timeout_s
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
                socket_connect_timeout=self.timeout_s,
                socket_timeout=self.timeout_s,
                decode_responses=True,
                **_checked_on_checkout(),
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients = {loop: client}
        return client

    async def own_connection(self) -> Any:
        """A connection to the same server, with the same credentials and database, kept by
        its caller outside the pool and with no timer of its own on each command (redis-py
        arms one a command, a task each on this Python): the caller bounds each exchange."""
        pool = self.get().connection_pool
        conn = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
        await conn.connect()  # type: ignore[no-untyped-call]
        return conn

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


def _sha(script: str) -> str:
    sha = _SHAS.get(script)
    if sha is None:
        sha = _SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
    return sha


async def run_script(
    client: aioredis.Redis, script: str, keys: list[str], args: Iterable[Any]
) -> Any:
    """EVALSHA, loading the script once if this Redis has not seen it (a restart)."""
    import redis.exceptions

    try:
        return await client.evalsha(_sha(script), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return await client.eval(script, len(keys), *keys, *args)


_Call = tuple[str, list[str], tuple[Any, ...], "asyncio.Future[Any]"]


_Pack = Callable[[tuple[Any, ...]], bytes]


@functools.cache
def _hiredis_pack() -> _Pack | None:
    try:
        from hiredis import pack_command
    except ImportError:
        return None
    return pack_command


def _packer(conn: Any) -> _Pack:
    """hiredis's packer (C; redis-py's own is pure Python, a fifth of a batch's work),
    or the connection's where hiredis is not installed."""
    pack = _hiredis_pack()
    if pack is None:
        return lambda command: b"".join(conn.pack_command(*command))
    return pack


#: how long a call that may wait (a settlement) waits for a batch to ride with
LATER_S = 0.02


class ScriptBatch:
    """Script calls made in one turn of the event loop, sent as one pipeline.

    Under load a gateway process admits, holds and settles many requests per turn of its
    loop; each EVALSHA on its own costs the client a full command's work, and both sides a
    system call and a wake-up. Queued calls go out together (a plain pipeline, not a
    transaction: each script is atomic on its own) on one connection this batcher keeps,
    one batch in flight at a time: what comes meanwhile goes with the next. Each caller
    gets its own answer or error. A call that may wait (`later=True`: settlements, which
    only give back what a request held) rides at the head of the next batch, so a caller's
    next request sees its last one settled, or goes after `LATER_S` when none comes: one
    request at a time then costs one round trip, not two. A script the
    server has not seen goes in full (EVAL) the first time, and after the connection broke
    (a restart); one flushed meanwhile (`SCRIPT FLUSH`) is sent again in full, alone.
    """

    def __init__(self, clients: LoopClients):
        self._clients = clients
        self._queue: list[_Call] = []
        self._later: list[_Call] = []
        self._later_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sender: asyncio.Task[None] | None = None
        self._conn: Any = None
        #: the scripts the kept connection's server has been sent
        self._known: set[str] = set()

    def submit(
        self, script: str, keys: list[str], args: Iterable[Any], *, later: bool = False
    ) -> asyncio.Future[Any]:
        """Queue one call; its future holds the script's answer or error."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a batcher's state belongs to one loop (tests run several)
            self._loop, self._queue, self._later, self._timer = loop, [], [], None
            self._sender, self._conn, self._later_due = None, None, False
            self._known = set()
        future: asyncio.Future[Any] = loop.create_future()
        call = (script, keys, tuple(args), future)
        if later:
            self._later.append(call)
            if self._timer is None:
                self._timer = loop.call_later(LATER_S, self._due)
        else:
            self._queue.append(call)
            self._kick()
        return future

    async def run(self, script: str, keys: list[str], args: Iterable[Any]) -> Any:
        """One call, batched with the others of this turn; its answer or its error."""
        return await self.submit(script, keys, args)

    async def aclose(self) -> None:
        """Send what waits, wait for it, and give the connection back."""
        if self._loop is not asyncio.get_running_loop():
            return
        if self._later:
            self._due()
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()

    def _due(self) -> None:
        self._timer = None
        self._later_due = True
        self._kick()

    def _kick(self) -> None:
        if self._loop is not None and (self._sender is None or self._sender.done()):
            self._sender = self._loop.create_task(self._send_all())

    async def _send_all(self) -> None:
        while self._queue or (self._later and self._later_due):
            # what waited goes first: a settlement is in before the admissions after it
            calls, self._queue, self._later = self._later + self._queue, [], []
            self._later_due = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            await self._send(calls)

    def _command(self, script: str, keys: list[str], args: tuple[Any, ...]) -> tuple[Any, ...]:
        """EVALSHA of a script this connection's server has; else EVAL, which loads it
        (a NOSCRIPT answered later would run the call after the ones behind it)."""
        if script in self._known:
            return ("EVALSHA", _sha(script), len(keys), *keys, *args)
        return ("EVAL", script, len(keys), *keys, *args)

    async def _send(self, calls: list[_Call]) -> None:
        from redis.exceptions import NoScriptError, ResponseError
        from redis.exceptions import TimeoutError as RedisTimeout

        answers: list[Any] = []
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = await self._clients.own_connection()
            pack = _packer(conn)
            commands = [self._command(script, keys, args) for script, keys, args, _ in calls]
            self._known.update(script for script, *_ in calls)
            try:
                # one deadline for the batch, sent and answered, not a timer a command
                async with asyncio.timeout(self._clients.timeout_s):
                    await conn.send_packed_command(
                        b"".join(map(pack, commands)), check_health=False
                    )
                    for _ in calls:
                        try:
                            answers.append(await conn.read_response(timeout=math.inf))
                        except ResponseError as exc:  # this script's error: the others go on
                            answers.append(exc)
            except TimeoutError:
                await conn.disconnect(nowait=True)
                raise RedisTimeout("Timeout talking to Redis") from None
        except BaseException as exc:  # the connection failed (and was closed): every call did
            self._known.clear()  # a restarted server has no scripts
            for *_, future in calls:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        client = self._clients.get()
        for (script, keys, args, future), sent in zip(calls, answers, strict=True):
            answer = sent
            if isinstance(sent, NoScriptError):  # flushed: out of turn, this once
                self._known.discard(script)
                try:
                    answer = await client.eval(script, len(keys), *keys, *args)
                except Exception as exc:
                    answer = exc
            if future.done():  # its caller was cancelled
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
