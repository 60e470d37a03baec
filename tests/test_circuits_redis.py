"""Circuit breakers sharing their state through a real Redis (started by the test): two
`Breakers` stand for two processes; with Redis down each keeps its own state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mixstack.resilience import SYNC_S, Breakers
from mixstack.store.redis.circuits import RedisCircuits
from tests.services import Redis, redis_server

CIRCUIT = "up/a @ http://127.0.0.1:9/v1"


@pytest.fixture
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


def test_failures_on_one_process_open_the_circuit_on_the_other(redis: Redis) -> None:
    async def run() -> None:
        one = Breakers(3, 1.5, RedisCircuits(redis.url))
        two = Breakers(3, 1.5, RedisCircuits(redis.url))
        assert await two.allow(CIRCUIT)
        for _ in range(2):
            await one.failure(CIRCUIT)
        await two.failure(CIRCUIT)  # the third in a row, wherever it happens
        assert not await one.allow(CIRCUIT)
        await asyncio.sleep(SYNC_S * 2)
        assert two.states() == {CIRCUIT: "open"}
        await asyncio.sleep(1.1)  # the cooldown: one trial between both
        trials = await asyncio.gather(*(b.allow(CIRCUIT) for b in (one, two, one, two)))
        assert trials.count(True) == 1
        await (one if trials.index(True) % 2 == 0 else two).success(CIRCUIT)
        await asyncio.sleep(SYNC_S * 2)
        assert await one.allow(CIRCUIT)
        assert await two.allow(CIRCUIT)

    asyncio.run(run())


def test_with_redis_down_each_process_keeps_its_own_breakers(redis: Redis) -> None:
    async def run() -> None:
        one = Breakers(2, 30.0, RedisCircuits(redis.url))
        two = Breakers(2, 30.0, RedisCircuits(redis.url))
        redis.stop()
        try:
            await one.failure(CIRCUIT)
            await one.failure(CIRCUIT)
            assert not await one.allow(CIRCUIT)  # still a breaker, per process
            assert await two.allow(CIRCUIT)
        finally:
            redis.start()

    asyncio.run(run())


def test_breakers_reused_on_a_later_event_loop_keep_reading_the_shared_state(
    redis: Redis,
) -> None:
    reused = Breakers(1, 30.0, RedisCircuits(redis.url))
    assert asyncio.run(reused.allow(CIRCUIT))  # its reader started on this loop, now gone

    async def later() -> None:
        other = Breakers(1, 30.0, RedisCircuits(redis.url))
        assert await reused.allow(CIRCUIT)
        await other.failure(CIRCUIT)
        await asyncio.sleep(SYNC_S * 2)
        assert not await reused.allow(CIRCUIT)

    asyncio.run(later())
