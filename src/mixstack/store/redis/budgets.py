"""Budget holds in Redis (`redis: redis://…`): every replica takes and frees holds in one
Lua script against the same numbers, in one round trip each; the store stays the record of
spend.

How the numbers stay true (the scripts are in `budget_scripts.py`):

- A hold is counted under its process (`u:<owner>`), whose lease a heartbeat renews every
  second; a process killed with `kill -9` stops renewing and its holds are freed when the
  lease ends (`LEASE_S`).
- Settling frees the hold and adds the real spend in Redis (one script) and queues the
  spend to the store. Redis's numbers are loaded from the store when they are born: after a
  Redis restart, an eviction or an outage, admissions wait `GRACE_S` while every live
  process uploads the holds (and the recent spend) it has, then the store's spend and its
  holds in flight are read in one snapshot. Spend that may be in both is counted twice
  until the next load: the error is always on the side of refusing, never of overspending.
- Redis down: with `redis_down: store` each process hands the holds it has over to the
  store, waits `GRACE_S` so that every other process has done so too, then holds in the
  store (PostgreSQL or SQLite) until Redis answers again; with `redis_down: closed` budgeted
  requests are refused meanwhile. Never no budget.

Needs one Redis primary (or Valkey): the scripts touch a key's hash and one shared hash,
which Redis Cluster would place in different slots.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixstack.errors import BudgetExceeded
from mixstack.store.budgets import BudgetRepository, Hold, KeyUsage, Ledger
from mixstack.store.lease import new_owner
from mixstack.store.rates import RateAsk, RateVerdict
from mixstack.store.redis import budget_scripts as lua
from mixstack.store.redis import rate_args
from mixstack.store.redis.connection import (
    LoopClients,
    ScriptBatch,
    is_down,
    require_client,
    run_script,
)
from mixstack.store.redis.rate_scripts import rate_keys

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from mixstack.store.base import Store
    from mixstack.store.redis import RedisDown, RedisRates

__all__ = ["GRACE_S", "LEASE_S", "RedisBudgets"]

log = logging.getLogger("mixstack.store")

#: a process's holds in Redis outlive it by at most this (its heartbeat renews them)
LEASE_S = 5.0
#: the heartbeat: lease renewal, uploads after a rebuild, noticing Redis down or back
BEAT_S = 1.0
#: how long admissions wait after Redis's numbers are born again (or after Redis goes down)
#: for every live process to have uploaded (or handed to the store) what it holds
GRACE_S = 3.5
#: a Redis that hangs counts as down after this
_TIMEOUT_S = 2.0
_NANO = 1e9
_GEN = "mixstack:bud:gen"


def _hash(key_id: str) -> str:
    return "mixstack:bud:{" + key_id + "}"


def _nano(usd: float) -> int:
    # holds round up, a budget rounds to the nearest: never admits past it
    return math.ceil(usd * _NANO - 1e-6)


@dataclass(slots=True)
class _Item:
    """A hold this process took, until Redis and the store both know how it ended."""

    key_id: str
    cost: int  # nano-USD
    tokens: int
    #: the epoch of the key's numbers that count this hold ('' none)
    held_in: str = ""
    #: the epoch of the key's numbers that count its spend ('' none yet)
    spent_in: str = ""
    settled: bool = False
    spent: int = 0
    used: int = 0
    #: the store has the spend
    committed: bool = False
    #: the hold lives in the store (taken while Redis was down, or handed over to it)
    store_hold: Hold | None = None
    #: a script about it is under way (the heartbeat leaves it alone meanwhile)
    busy: bool = False


class RedisBudgets:
    """A `BudgetRepository` on Redis with the store's holds behind it."""

    def __init__(
        self,
        url: str,
        store: Store,
        on_down: RedisDown = "store",
        *,
        lease_s: float = LEASE_S,
        beat_s: float = BEAT_S,
        grace_s: float = GRACE_S,
        rates: RedisRates | None = None,
    ):
        require_client()
        if not beat_s < lease_s or not beat_s < grace_s:
            raise ValueError("the heartbeat must be shorter than the lease and the grace")
        self.lease_s, self.beat_s, self.grace_s = lease_s, beat_s, grace_s
        self.url = url
        self.store = store
        self.fallback: BudgetRepository = store.budgets
        self.on_down = on_down
        self._clients = LoopClients(url, connections=32, timeout_s=_TIMEOUT_S)
        #: holds and settlements of one loop turn go out as one pipeline, with the rate
        #: windows' when they live in the same Redis
        self._rates = rates
        self._batch = rates.batch if rates is not None else ScriptBatch(self._clients)
        self._owner = new_owner()
        self._ids = itertools.count(1)
        self._items: dict[int, _Item] = {}
        #: monotonic time Redis went down (None: up)
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._heartbeat: asyncio.Task[None] | None = None
        self._handover: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def owner(self) -> str:
        return self._owner

    # -- taking a hold --------------------------------------------------------------------

    async def reserve(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None = None
    ) -> Hold | None:
        self._ensure_heartbeat()
        if self._down_since is None or await self._try_recover():
            try:
                return await self._reserve_redis(key_id, cost_usd, tokens, period_start)
            except Exception as exc:
                if not is_down(exc):
                    raise
                self._went_down(exc)
        return await self._reserve_store(key_id, cost_usd, tokens, period_start)

    async def _reserve_redis(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None
    ) -> Hold | None:
        cost = _nano(cost_usd)
        args = self._reserve_args(key_id, cost, tokens, period_start)
        deadline = time.monotonic() + 4 * self.grace_s
        while True:
            answer = await self._batched(lua.RESERVE, key_id, *args)
            kind, epoch = answer[0], answer[1]
            if kind == "ok":
                return self._add(_Item(key_id, cost, tokens, held_in=epoch), cost_usd)
            if kind == "no":
                return None
            if time.monotonic() > deadline:
                raise BudgetExceeded(
                    f"key {key_id}'s budget in Redis at {self.url} is still being rebuilt "
                    "from the store; retry shortly."
                )
            if kind == "wait":
                await asyncio.sleep(min(float(answer[2]), self.grace_s) + 0.01)
            elif kind == "load" and not await self._load(key_id, epoch):
                return None

    async def reserve_admitted(
        self,
        key_id: str,
        cost_usd: float,
        tokens: int,
        period_start: float | None,
        rate: RateAsk,
    ) -> tuple[RateVerdict, Hold | None] | None:
        """The rate window's admission and the hold in one script (see `AdmittingBudgets`);
        None when that cannot decide: Redis is down, or the key's numbers are being
        rebuilt (nothing was admitted or held; take the two steps)."""
        rates = self._rates
        if rates is None or not rates.up or self._down_since is not None:
            return None
        self._ensure_heartbeat()
        cost = _nano(cost_usd)
        args = self._reserve_args(key_id, cost, tokens, period_start)
        keys = [_hash(key_id), _GEN, *rate_keys(key_id)]
        try:
            answer = await self._batch.run(
                lua.RESERVE_ADMITTED, keys, (*args, *rate_args(rate.rpm, rate.tpm, rate.tokens))
            )
        except Exception as exc:
            if not is_down(exc):
                raise
            self._went_down(exc)
            return None
        kind, epoch = answer[0], answer[1]
        if kind not in ("rate", "ok", "no"):
            return None
        verdict = rates.answered(answer[2:])
        if kind != "ok":
            return verdict, None
        return verdict, self._add(_Item(key_id, cost, tokens, held_in=epoch), cost_usd)

    def _reserve_args(
        self, key_id: str, cost: int, tokens: int, period_start: float | None
    ) -> tuple[Any, ...]:
        """ARGV of `reserve` in the budget scripts."""
        period = "-1" if period_start is None else repr(period_start)
        return (key_id, self._owner, cost, tokens, self.lease_s, self.grace_s, period)

    async def _load(self, key_id: str, epoch: str) -> bool:
        """Redis's numbers for the key, from the store's; False for a key the store lacks."""
        ledger = await self.fallback.ledger(key_id)
        if ledger is None:
            return False
        await self._eval(lua.LOAD, key_id, epoch, *_ledger_args(ledger))
        return True

    async def _reserve_store(
        self, key_id: str, cost_usd: float, tokens: int, period_start: float | None
    ) -> Hold | None:
        if self.on_down == "closed":
            raise BudgetExceeded(
                f"budget holds are unavailable (Redis at {self.url} is down) and this gateway "
                "fails closed (`redis_down: closed`); retry shortly."
            )
        assert self._down_since is not None
        # every other process hands its Redis holds to the store first
        wait = self._down_since + self.grace_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._handover is not None:
            await asyncio.shield(self._handover)
        if self._down_since is None:  # back meanwhile: a store hold now could miss the load
            return await self.reserve(key_id, cost_usd, tokens, period_start)
        hold = await self.fallback.reserve(key_id, cost_usd, tokens, period_start)
        if hold is None:
            return None
        return self._add(_Item(key_id, _nano(cost_usd), tokens, store_hold=hold), cost_usd)

    def _add(self, item: _Item, cost_usd: float) -> Hold:
        hold_id = next(self._ids)
        self._items[hold_id] = item
        return Hold(hold_id, item.key_id, cost_usd, item.tokens, "redis")

    # -- settling ---------------------------------------------------------------------------

    def settle(self, hold: Hold, cost_usd: float, tokens: int) -> None:
        item = self._items.get(hold.id) if hold.backend == "redis" and hold.id else None
        if item is None:
            self.fallback.settle(hold, cost_usd, tokens)
            return
        item.settled, item.spent, item.used = True, _nano(cost_usd), tokens
        if item.busy:  # being handed over to the store, which settles it after
            return
        if item.store_hold is not None:
            self.fallback.settle(item.store_hold, cost_usd, tokens)
            return
        # the store keeps the record of spend; Redis frees the hold and learns the spend
        self.fallback.settle(Hold(None, hold.key_id, 0.0, 0), cost_usd, tokens)
        if item.held_in and self._down_since is None:
            item.busy = True
            epoch = item.held_in
            args = (
                self._owner,
                epoch,
                self.lease_s,
                -item.cost,
                -item.tokens,
                item.spent,
                item.used,
            )
            # a future with a callback, not a task: settling is on every keyed request's path
            done = self._batch.submit(lua.APPLY, [_hash(item.key_id), _GEN], args, later=True)
            done.add_done_callback(lambda answer: self._settled_in_redis(item, epoch, answer))

    @staticmethod
    def _settled_in_redis(item: _Item, epoch: str, answer: asyncio.Future[Any]) -> None:
        item.busy = False
        if answer.cancelled():
            return
        if (exc := answer.exception()) is not None:
            # the heartbeat tries again; the hold errs strict meanwhile
            log.warning("could not settle a budget hold in Redis: %s", exc)
            return
        # settled here, or its epoch is gone (and the hold with it): the heartbeat brings its
        # spend into the new one
        item.held_in = ""
        if answer.result():
            item.spent_in = epoch

    # -- the heartbeat ----------------------------------------------------------------------

    def _ensure_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        beat = self._heartbeat
        if beat is None or beat.done() or beat.get_loop() is not loop:
            self._heartbeat = loop.create_task(self._beat_forever())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.beat_s)
            try:
                await self._beat()
            except Exception as exc:
                if is_down(exc):
                    self._went_down(exc)
                else:
                    log.warning("the budget heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        if self._down_since is not None and not await self._try_recover():
            return
        waiting = [i for i in self._items.values() if i.settled and not i.committed]
        if waiting:
            await asyncio.to_thread(self.store.flush)  # the store has every spend so far
            for item in waiting:
                item.committed = True
        for key_id in {i.key_id for i in self._items.values()}:
            args = (key_id, self._owner, self.lease_s, self.grace_s)
            epoch = await self._eval(lua.TOUCH, key_id, *args)
            await self._sync(key_id, str(epoch))

    async def _sync(self, key_id: str, epoch: str) -> None:
        """Bring the key's numbers in `epoch` in line with this process's holds."""
        mine = [(n, i) for n, i in self._items.items() if i.key_id == key_id]
        for number, item in mine:
            if item.store_hold is not None and item.committed:
                # the store freed it and has its spend; Redis may count it as in flight
                released = (item.store_hold.id, item.spent, item.used)
                await self._eval(lua.RELEASE, key_id, *released)
                del self._items[number]
        held = tokens = spent = used = 0
        uploaded: list[_Item] = []
        freed: list[_Item] = []
        charged: list[_Item] = []
        for _, item in mine:
            if item.store_hold is not None or item.busy:
                continue
            if item.held_in == epoch and item.settled:
                held, tokens = held - item.cost, tokens - item.tokens
                freed.append(item)
            elif item.held_in != epoch and not item.settled:
                held, tokens = held + item.cost, tokens + item.tokens
                uploaded.append(item)
            if item.settled and item.spent_in != epoch:
                spent, used = spent + item.spent, used + item.used
                charged.append(item)
        if uploaded or freed or charged:
            args = (self._owner, epoch, self.lease_s, held, tokens, spent, used)
            if not await self._eval(lua.APPLY, key_id, *args):
                return  # the epoch moved on: the next beat brings them into the new one
            for item in uploaded:
                item.held_in = epoch  # settled meanwhile: the next beat frees it
            for item in freed:
                item.held_in = ""
            for item in charged:
                item.held_in, item.spent_in = "", epoch
        # a spend the store has and these numbers count (epoch confirmed after the commit)
        for number, item in list(self._items.items()):
            if (
                item.key_id == key_id
                and item.committed
                and item.spent_in == epoch
                and not item.held_in
                and item.store_hold is None
            ):
                del self._items[number]

    # -- Redis down and back ------------------------------------------------------------------

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is not None:
            self._retry_at = time.monotonic() + self.beat_s
            return
        log.warning(
            "Redis at %s is unreachable (%s); budget holds %s",
            self.url,
            exc,
            "move to the store" if self.on_down == "store" else "refuse every budgeted request",
        )
        self._down_since = time.monotonic()
        self._retry_at = self._down_since + self.beat_s
        if self.on_down == "store":
            self._handover = self._spawn(self._hand_over())

    async def _hand_over(self) -> None:
        """This process's holds in flight go to the store (its holds are Redis's no more)."""
        for item in list(self._items.values()):
            if item.store_hold is not None or item.settled or item.busy:
                continue
            item.busy = True
            try:
                hold = await self.fallback.adopt(item.key_id, item.cost / _NANO, item.tokens)
            finally:
                item.busy = False
            item.held_in = ""
            if item.settled:  # the call ended meanwhile: its spend goes with the hold
                usd = item.spent / _NANO
                self.fallback.settle(hold or Hold(None, item.key_id, 0.0, 0), usd, item.used)
                item.store_hold = hold
                continue
            if hold is None:
                log.warning(
                    "the store refused to carry over a budget hold of key %s ($%.6f); the "
                    "key may overspend by it",
                    item.key_id,
                    item.cost / _NANO,
                )
                continue
            item.store_hold = hold

    async def _try_recover(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            if self.on_down == "store":
                # the numbers Redis kept missed what went to the store: born again
                await self._eval(lua.RECOVER, None)
            else:
                await self._clients.get().ping()
        except Exception as exc:
            if not is_down(exc):
                raise
            self._retry_at = time.monotonic() + self.beat_s
            return False
        log.warning("Redis at %s is back; budget holds live in it again", self.url)
        self._down_since, self._handover = None, None
        return True

    # -- the rest of the repository ---------------------------------------------------------

    async def adopt(self, key_id: str, cost_usd: float, tokens: int) -> Hold | None:
        return await self.fallback.adopt(key_id, cost_usd, tokens)

    async def ledger(self, key_id: str) -> Ledger | None:
        return await self.fallback.ledger(key_id)

    async def usage(self, key_id: str) -> KeyUsage | None:
        if self._down_since is None:
            try:
                loaded, spent, held, used, tokens = await self._eval(lua.USAGE, key_id)
            except Exception as exc:
                if not is_down(exc):
                    raise
            else:
                if int(loaded):
                    usd, reserved = float(spent) / _NANO, float(held) / _NANO
                    return KeyUsage(usd, reserved, int(float(used)), int(float(tokens)))
        return await self.fallback.usage(key_id)

    def held_by(self, owner: str) -> list[Hold]:
        if owner != self._owner:
            return self.fallback.held_by(owner)
        return [
            Hold(n, i.key_id, i.cost / _NANO, i.tokens, "redis")
            for n, i in self._items.items()
            if not i.settled
        ]

    def reclaim(self) -> int:
        """The store's holds of processes that are gone; Redis's end with their leases."""
        return self.fallback.reclaim()

    async def aclose(self) -> None:
        """Stop the heartbeat and wait for the scripts under way (the holds still in flight
        end with the lease)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._batch.aclose()
        await self._clients.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    async def _eval(self, script: str, key_id: str | None, *args: Any) -> Any:
        client: aioredis.Redis = self._clients.get()
        keys = [_GEN] if key_id is None else [_hash(key_id), _GEN]
        return await run_script(client, script, keys, args)

    async def _batched(self, script: str, key_id: str, *args: Any) -> Any:
        """A script on the request path, sent with the others of this loop turn."""
        return await self._batch.run(script, [_hash(key_id), _GEN], args)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _ledger_args(ledger: Ledger) -> list[Any]:
    args: list[Any] = [
        -1 if ledger.budget_usd is None else round(ledger.budget_usd * _NANO),
        -1 if ledger.max_tokens is None else ledger.max_tokens,
        "-1" if ledger.period_start is None else repr(ledger.period_start),
        round(ledger.spent_usd * _NANO),
        ledger.tokens_used,
    ]
    for hold in ledger.holds:
        args += [hold.id, _nano(hold.cost_usd), hold.tokens]
    return args
