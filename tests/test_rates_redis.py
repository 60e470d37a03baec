"""Rate windows in Redis and the scripts' batching (a real `redis-server` the tests start):
the running token sum stays equal to the window's entries as they come, settle and expire;
the calls of one loop turn go out as one pipeline, each caller getting its own answer;
a keyed request is admitted and held in one script when Redis holds both."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from mixstack.guard._keys import KeyStore
from mixstack.store import RateAsk, SQLiteStore
from mixstack.store.redis import RedisRates, connection, rate_args
from mixstack.store.redis import rate_scripts as lua
from mixstack.store.redis.budgets import RedisBudgets
from mixstack.store.redis.connection import LoopClients, ScriptBatch, is_down, run_script
from tests.services import FAST_HOLDS as FAST
from tests.services import Redis

INCR = "return redis.call('INCR', KEYS[1])"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "mixstack.db") as opened:
        yield opened


class CountingBatch(ScriptBatch):
    """Counts the pipelines it sends."""

    sends = 0

    async def _send(self, calls: list[Any]) -> None:
        self.sends += 1
        await super()._send(calls)


def _window(redis: Redis, key_id: str) -> tuple[int, int]:
    """(sum the window keeps, sum of its entries)."""
    at, tok, _ = lua.rate_keys(key_id)
    client = redis_sync.Redis.from_url(redis.url, decode_responses=True)
    entries = client.hgetall(tok)
    kept = int(entries.pop("sum", 0))
    assert client.zcard(at) == len(entries)
    return kept, sum(int(v) for v in entries.values())


def test_one_turns_calls_go_as_one_pipeline_each_with_its_own_answer(redis: Redis) -> None:
    async def run() -> None:
        clients = LoopClients(redis.url, connections=4, timeout_s=2.0)
        batch = CountingBatch(clients)
        answers = await asyncio.gather(*(batch.run(INCR, ["n"], ()) for _ in range(100)))
        assert sorted(answers) == list(range(1, 101))
        assert batch.sends == 1
        # a failing script fails its own caller only
        outcomes: list[object] = await asyncio.gather(
            batch.run(INCR, ["n"], ()),
            batch.run("return redis.call('NOPE')", ["n"], ()),
            return_exceptions=True,
        )
        good, bad = outcomes
        assert good == 101
        assert isinstance(bad, ResponseError)
        # a server that lost its scripts gets them again, in full
        await clients.get().script_flush()
        assert await asyncio.gather(*(batch.run(INCR, ["n"], ()) for _ in range(3))) == [
            102,
            103,
            104,
        ]
        # a caller that leaves does not take the others' answers with it
        left = asyncio.ensure_future(batch.run(INCR, ["n"], ()))
        stays = asyncio.ensure_future(batch.run(INCR, ["n"], ()))
        await asyncio.sleep(0)
        left.cancel()
        assert await stays in (105, 106)
        await batch.aclose()
        await clients.aclose()

    asyncio.run(run())


@contextlib.asynccontextmanager
async def _batch(redis: Redis, timeout_s: float) -> AsyncIterator[ScriptBatch]:
    """A batcher on `redis`, closed with its clients on the way out."""
    clients = LoopClients(redis.url, connections=2, timeout_s=timeout_s)
    batch = ScriptBatch(clients)
    try:
        yield batch
    finally:
        await batch.aclose()
        await clients.aclose()


def test_a_redis_that_goes_down_fails_every_call_and_one_that_is_back_answers(
    redis: Redis,
) -> None:
    async def run() -> None:
        async with _batch(redis, timeout_s=1.0) as batch:
            assert await batch.run(INCR, ["n"], ()) == 1  # the batch's connection is open
            redis.stop()
            outcomes = await asyncio.gather(
                *(batch.run(INCR, ["n"], ()) for _ in range(5)), return_exceptions=True
            )
            assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
            redis.start()  # empty, and without the script: it is sent again in full
            assert await batch.run(INCR, ["n"], ()) == 1

    asyncio.run(run())


def test_a_redis_that_stops_answering_times_the_batch_out_and_is_used_again_after(
    redis: Redis,
) -> None:
    async def run() -> None:
        async with _batch(redis, timeout_s=0.3) as batch:
            assert await batch.run(INCR, ["n"], ()) == 1
            # every client's commands wait for 1.5 s: the batch's answers do not come in time
            redis_sync.Redis.from_url(redis.url).execute_command("CLIENT", "PAUSE", 1500, "ALL")
            began = asyncio.get_running_loop().time()
            outcomes = await asyncio.gather(
                *(batch.run(INCR, ["n"], ()) for _ in range(3)), return_exceptions=True
            )
            waited = asyncio.get_running_loop().time() - began
            assert all(isinstance(o, RedisTimeout) and is_down(o) for o in outcomes), outcomes
            assert waited < 1.2  # one deadline for the batch, not one per answer after another
            await asyncio.sleep(1.5)
            # a new connection: the timed-out one may still get the old answers
            assert await batch.run(INCR, ["n"], ()) in (2, 5)

    asyncio.run(run())


def test_without_hiredis_the_batch_packs_with_redis_py(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "_hiredis_pack", lambda: None)

    async def run() -> None:
        async with _batch(redis, timeout_s=2.0) as batch:
            answers = await asyncio.gather(*(batch.run(INCR, ["n"], ()) for _ in range(3)))
            assert sorted(answers) == [1, 2, 3]

    asyncio.run(run())


def test_the_running_sum_follows_entries_that_come_settle_and_expire(redis: Redis) -> None:
    async def run() -> None:
        a = RedisRates(redis.url, fallback=None)  # type: ignore[arg-type]
        b = RedisRates(redis.url, fallback=None)  # type: ignore[arg-type]
        admitted = await asyncio.gather(
            *((a if i % 2 else b).admit("k", None, 10_000, 100) for i in range(60))
        )
        assert all(v.event is not None for v in admitted)
        assert _window(redis, "k") == (6000, 6000)
        for n, verdict in enumerate(admitted[:30]):
            a.settle("k", verdict, n)  # 0 + 1 + … + 29 = 435 for these 30
        await a.batch.aclose()
        assert _window(redis, "k") == (3000 + 435, 3000 + 435)
        # the window is full by tokens: refused, with the tokens it holds
        refused = await a.admit("k", None, 3500, 100)
        assert (refused.event, refused.reason, refused.window_tokens) == (None, "tpm", 3435)
        # entries that leave the window take their tokens with them (a 0.5 s window here)
        client = a._clients.get()
        await asyncio.sleep(0.6)
        args = (*rate_args(None, 50, 7)[:3], 0.5)
        answer = await run_script(client, lua.ADMIT, lua.rate_keys("k"), args)
        assert int(answer[0]) > 0  # admitted, into a window left empty
        assert int(answer[3]) == 0
        assert _window(redis, "k") == (7, 7)

    asyncio.run(run())


def test_a_window_written_without_a_running_sum_is_counted_once(redis: Redis) -> None:
    at, tok, ids = lua.rate_keys("old")
    client = redis_sync.Redis.from_url(redis.url, decode_responses=True)
    now = float(client.time()[0])
    client.zadd(at, {"1": now, "2": now})
    client.hset(tok, mapping={"1": 40, "2": 50})
    client.set(ids, 2)

    async def run() -> None:
        rates = RedisRates(redis.url, fallback=None)  # type: ignore[arg-type]
        refused = await rates.admit("old", None, 100, 20)
        assert (refused.event, refused.window_tokens) == (None, 90)
        assert (await rates.admit("old", None, 100, 10)).event is not None

    asyncio.run(run())
    assert _window(redis, "old") == (100, 100)


def test_rpm_is_exact_when_admitted_and_held_in_one_script(
    redis: Redis, store: SQLiteStore
) -> None:
    key_id = KeyStore(store).create(name="j", budget_usd=1.0, rpm=7)[1].id
    ask = RateAsk(7, None, 10)

    async def run() -> None:
        processes = []
        for _ in range(2):
            rates = RedisRates(redis.url, store.rates)
            processes.append(RedisBudgets(redis.url, store, rates=rates, **FAST))  # type: ignore[arg-type]
        first = processes[0]
        # the key's numbers are not loaded yet: nothing happens, the caller takes two steps
        assert await first.reserve_admitted(key_id, 0.01, 10, None, ask) is None
        assert _window(redis, key_id) == (0, 0)
        assert await first.reserve(key_id, 0.01, 10) is not None  # loads them
        outcomes = await asyncio.gather(
            *(processes[i % 2].reserve_admitted(key_id, 0.01, 10, None, ask) for i in range(40))
        )
        decided = [o for o in outcomes if o is not None]
        assert len(decided) == 40
        admitted = [v for v, hold in decided if v.event is not None]
        held = [hold for _, hold in decided if hold is not None]
        assert len(admitted) == len(held) == 7
        assert {v.reason for v, _ in decided if v.event is None} == {"rpm"}
        for process in processes:
            await process.aclose()

    asyncio.run(run())


def test_a_request_the_budget_refuses_counts_in_the_window_without_tokens(
    redis: Redis, store: SQLiteStore
) -> None:
    key_id = KeyStore(store).create(name="b", budget_usd=0.05, rpm=100)[1].id

    async def run() -> None:
        rates = RedisRates(redis.url, store.rates)
        budgets = RedisBudgets(redis.url, store, rates=rates, **FAST)  # type: ignore[arg-type]
        await budgets.reserve(key_id, 0.0, 0)  # loads the key's numbers
        ask = RateAsk(100, 1000, 30)
        both = await budgets.reserve_admitted(key_id, 0.04, 30, None, ask)
        assert both is not None
        assert both[0].event is not None
        assert both[1] is not None
        refused = await budgets.reserve_admitted(key_id, 0.04, 30, None, ask)
        assert refused is not None
        verdict, hold = refused
        assert verdict.event is not None
        assert hold is None
        at, tok, _ = lua.rate_keys(key_id)
        client = redis_sync.Redis.from_url(redis.url, decode_responses=True)
        assert client.zcard(at) == 2
        assert client.hget(tok, str(verdict.event)) == "0"
        assert _window(redis, key_id) == (30, 30)
        await budgets.aclose()

    asyncio.run(run())


def test_a_callers_next_request_sees_its_last_one_settled(redis: Redis, store: SQLiteStore) -> None:
    """Settlements wait for the next batch, at its head: a client calling one request after
    another is never refused for a hold its finished call no longer has."""
    key_id = KeyStore(store).create(name="seq", budget_usd=0.05, rpm=100)[1].id

    async def run() -> None:
        rates = RedisRates(redis.url, store.rates)
        budgets = RedisBudgets(redis.url, store, rates=rates, **FAST)  # type: ignore[arg-type]
        await budgets.reserve(key_id, 0.0, 0)  # loads the key's numbers
        ask = RateAsk(100, None, 30)
        for _ in range(3):  # each holds $0.04 of $0.05 and spends $0.001
            both = await budgets.reserve_admitted(key_id, 0.04, 30, None, ask)
            assert both is not None
            verdict, hold = both
            assert hold is not None, "refused for a hold already settled"
            budgets.settle(hold, 0.001, 3)
            rates.settle(key_id, verdict, 3)
            await asyncio.sleep(0)  # the settlement is queued; the next call comes at once
        usage = await budgets.usage(key_id)
        assert usage is not None
        assert usage.spent_usd == pytest.approx(0.002)  # the third is still settling
        await budgets.aclose()

    asyncio.run(run())
