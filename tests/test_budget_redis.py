"""Budget holds in Redis (a real `redis-server` the tests start), with the store (SQLite here;
PostgreSQL in tests/test_replicas.py) as the record of spend: two repositories with their
own owners stand for two gateway processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from mixstack.errors import BudgetExceeded
from mixstack.guard._keys import KeyStore
from mixstack.store import Hold, KeyUsage, SQLiteStore
from mixstack.store.redis.budgets import RedisBudgets
from tests.services import FAST_HOLDS as FAST
from tests.services import Redis


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "mixstack.db") as opened:
        yield opened


def _key(store: SQLiteStore, budget: float) -> str:
    return KeyStore(store).create(name="r", budget_usd=budget)[1].id


@asynccontextmanager
async def _processes(
    redis: Redis, store: SQLiteStore, on_down: str = "store"
) -> AsyncIterator[tuple[RedisBudgets, RedisBudgets]]:
    # short leases and grace (the defaults are seconds longer) keep the tests quick
    a = RedisBudgets(redis.url, store, on_down, **FAST)  # type: ignore[arg-type]
    b = RedisBudgets(redis.url, store, on_down, **FAST)  # type: ignore[arg-type]
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def _settled(budgets: RedisBudgets, key_id: str) -> KeyUsage:
    """Usage once the settlements queued are done (each is one script, not waited on)."""
    for _ in range(100):
        usage = await budgets.usage(key_id)
        assert usage is not None
        if usage.reserved_usd == 0:
            return usage
        await asyncio.sleep(0.05)
    raise AssertionError(f"holds never given back: {usage}")


def test_holds_never_pass_the_budget_and_settling_gives_them_back(
    redis: Redis, store: SQLiteStore
) -> None:
    key_id = _key(store, 1.0)

    async def run() -> None:
        async with _processes(redis, store) as (a, b):
            by = [a if i % 2 else b for i in range(100)]
            holds = await asyncio.gather(*(p.reserve(key_id, 0.03, 30) for p in by))
            granted = [(p, h) for p, h in zip(by, holds, strict=True) if h is not None]
            assert len(granted) == 33  # $0.99 of $1: one more would pass it
            assert {h.backend for _, h in granted} == {"redis"}
            for process, hold in granted:
                process.settle(hold, 0.02, 20)
            usage = await _settled(a, key_id)
            assert usage.spent_usd == pytest.approx(0.66)
            assert usage.reserved_usd == 0
            # Redis learned the spend: what is left is $0.34, 11 holds of $0.03
            more = await asyncio.gather(*(b.reserve(key_id, 0.03, 30) for _ in range(20)))
            assert sum(h is not None for h in more) == 11

    asyncio.run(run())
    store.flush()
    key = store.keys.get(key_id)
    assert key is not None
    assert key.spent_usd == pytest.approx(0.66)  # the store has the record of spend
    assert key.requests == 33
    assert key.reserved_usd == 0  # nothing held in the store itself


def test_a_process_that_stops_renewing_loses_its_holds_after_its_lease(
    redis: Redis, store: SQLiteStore
) -> None:
    key_id = _key(store, 1.0)

    async def run() -> float:
        async with _processes(redis, store) as (gone, alive):
            assert await gone.reserve(key_id, 0.9, 10) is not None
            await gone.aclose()  # no heartbeat from here on, as after `kill -9`
            assert await alive.reserve(key_id, 0.3, 10) is None
            started = time.monotonic()
            while await alive.reserve(key_id, 0.3, 10) is None:
                assert time.monotonic() - started < 4 * FAST["lease_s"], (
                    "the dead hold was never freed"
                )
                await asyncio.sleep(0.25)
            usage = await alive.usage(key_id)
            assert usage is not None
            return usage.reserved_usd

    assert asyncio.run(run()) == pytest.approx(0.3)


def test_a_redis_restart_rebuilds_from_the_store_and_holds_in_flight(
    redis: Redis, store: SQLiteStore
) -> None:
    key_id = _key(store, 1.0)

    async def run() -> None:
        async with _processes(redis, store) as (a, b):
            first = await a.reserve(key_id, 0.4, 10)
            settled = await a.reserve(key_id, 0.2, 10)
            assert first is not None
            assert settled is not None
            a.settle(settled, 0.2, 10)
            await asyncio.sleep(0.8)  # the spend is committed and confirmed
            redis.stop()
            redis.start()  # empty: no persistence
            # a's hold ($0.4) and the store's spend ($0.2) come back before anything is
            # admitted: $0.5 more would pass the budget
            assert await b.reserve(key_id, 0.5, 10) is None
            late = await b.reserve(key_id, 0.3, 10)
            assert late is not None
            a.settle(first, 0.4, 10)
            b.settle(late, 0.3, 10)
            await _settled(b, key_id)
            assert await b.reserve(key_id, 0.2, 10) is None  # $0.9 spent
            assert await b.reserve(key_id, 0.1, 10) is not None

    asyncio.run(run())


def test_redis_down_hands_the_holds_to_the_store_and_back(redis: Redis, store: SQLiteStore) -> None:
    key_id = _key(store, 1.0)

    async def run() -> None:
        async with _processes(redis, store) as (a, b):
            held = await a.reserve(key_id, 0.6, 10)
            assert held is not None
            redis.stop()
            try:
                # b notices, waits for a's heartbeat to hand its $0.6 to the store
                assert await b.reserve(key_id, 0.5, 10) is None
                during = await b.reserve(key_id, 0.3, 10)
                assert during is not None
                assert during.backend == "redis"  # a Redis hold the store keeps meanwhile
                reserved = store.keys.get(key_id)
                assert reserved is not None
                assert reserved.reserved_usd == pytest.approx(0.9)
            finally:
                redis.start()
            await asyncio.sleep(0.8)  # a and b see Redis back
            # born again from the store: both holds are still counted
            assert await a.reserve(key_id, 0.2, 10) is None
            a.settle(held, 0.6, 10)
            b.settle(during, 0.3, 10)
            await asyncio.sleep(1.0)  # committed, then released in Redis by the heartbeat
            assert await a.reserve(key_id, 0.2, 10) is None  # $0.9 spent
            last = await a.reserve(key_id, 0.1, 10)
            assert isinstance(last, Hold)

    asyncio.run(run())
    store.flush()
    key = store.keys.get(key_id)
    assert key is not None
    assert key.spent_usd == pytest.approx(0.9)
    assert key.reserved_usd == 0  # the store's holds were settled; the last is Redis's


def test_redis_down_fails_closed_when_configured(redis: Redis, store: SQLiteStore) -> None:
    key_id = _key(store, 1.0)

    async def run() -> None:
        async with _processes(redis, store, "closed") as (a, _):
            assert await a.reserve(key_id, 0.1, 10) is not None
            redis.stop()
            try:
                with pytest.raises(BudgetExceeded, match="redis_down: closed"):
                    await a.reserve(key_id, 0.1, 10)
            finally:
                redis.start()

    asyncio.run(run())


def test_an_evicted_budget_waits_for_the_holds_in_flight(redis: Redis, store: SQLiteStore) -> None:
    import redis as redis_py

    key_id = _key(store, 1.0)

    async def run() -> None:
        async with _processes(redis, store) as (a, b):
            held = await a.reserve(key_id, 0.6, 10)
            assert held is not None
            with redis_py.Redis.from_url(redis.url) as client:
                assert client.delete("mixstack:bud:{" + key_id + "}") == 1  # as an eviction
            assert await b.reserve(key_id, 0.5, 10) is None  # a's $0.6 came back first
            assert await b.reserve(key_id, 0.4, 10) is not None

    asyncio.run(run())
