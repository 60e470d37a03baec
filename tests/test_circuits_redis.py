"""Circuit breakers sharing their state through a real Redis (started by the test): two
`Breakers` stand for two processes; with Redis down each keeps its own state."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from mixstack._resilience import SYNC_S, Breakers
from mixstack.store.redis.circuits import CircuitState, RedisCircuits
from tests.services import Redis

CIRCUIT = "up/a @ http://127.0.0.1:9/v1"


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


def _warm(breakers: list[Breakers]) -> Any:
    """Each process's pool holds several connections (as after a burst of calls)."""

    async def warm(b: Breakers) -> None:
        assert b.shared is not None
        await asyncio.gather(*(b.shared.states() for _ in range(6)))

    return asyncio.gather(*(warm(b) for b in breakers))


def test_after_a_redis_restart_one_trial_runs_across_all_processes(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The pooled connections a restart dropped are replaced, not taken for Redis being down
    (which sent a trial on each process's own breaker)."""

    async def run() -> None:
        processes = [Breakers(2, 1.0, RedisCircuits(redis.url)) for _ in range(3)]
        try:
            for b in processes:
                assert await b.allow(CIRCUIT)
            await _warm(processes)
            await asyncio.to_thread(redis.stop)
            await asyncio.to_thread(redis.start)
            await asyncio.sleep(SYNC_S * 2)
            caplog.clear()  # a reader may have found Redis down during the restart
            with caplog.at_level(logging.WARNING):
                for _ in range(2):
                    await processes[0].failure(CIRCUIT)
                await asyncio.sleep(SYNC_S * 2)
                assert [b.states() for b in processes] == [{CIRCUIT: "open"}] * 3
                await asyncio.sleep(1.0)  # the cooldown
                trials = await asyncio.gather(
                    *(b.allow(CIRCUIT) for _ in range(3) for b in processes)
                )
            assert trials.count(True) == 1
            assert caplog.messages == []  # Redis was up: nothing fell back to a process
        finally:
            for b in processes:
                await b.aclose()

    asyncio.run(run())


def test_a_trial_claim_asked_again_by_its_claimant_is_granted_to_it_alone(redis: Redis) -> None:
    """A claim retried after its reply was lost (a dropped connection) is not a second trial."""

    async def run() -> None:
        circuits = RedisCircuits(redis.url)
        try:
            for _ in range(2):
                await circuits.failed(CIRCUIT, 2)
            assert await circuits.claim_trial(CIRCUIT, 0.0, 30.0, claimant="one")
            assert await circuits.claim_trial(CIRCUIT, 0.0, 30.0, claimant="one")
            assert not await circuits.claim_trial(CIRCUIT, 0.0, 30.0, claimant="two")
            assert not await circuits.claim_trial(CIRCUIT, 0.0, 30.0)
            states = await circuits.states()
            assert states is not None
            assert states[CIRCUIT].trial
            await circuits.failed(CIRCUIT, 2)  # the trial failed: open again, no holder
            assert not await circuits.claim_trial(CIRCUIT, 30.0, 30.0, claimant="one")
        finally:
            await circuits.aclose()

    asyncio.run(run())


def test_with_redis_down_a_trial_on_a_process_own_breaker_is_logged(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        breakers = Breakers(2, 0.5, RedisCircuits(redis.url))
        redis.stop()
        try:
            with caplog.at_level(logging.WARNING, logger="mixstack._resilience"):
                for _ in range(2):
                    await breakers.failure(CIRCUIT)
                assert not await breakers.allow(CIRCUIT)
                await asyncio.sleep(0.6)  # the cooldown
                assert await breakers.allow(CIRCUIT)
                assert not await breakers.allow(CIRCUIT)  # one trial per process
            trials = [r.getMessage() for r in caplog.records if r.name == "mixstack._resilience"]
            assert len(trials) == 1
            assert "half-open trial on its own breaker" in trials[0]
            assert "other replicas may send one too" in trials[0]
        finally:
            await breakers.aclose()
            redis.start()

    asyncio.run(run())


class _LosesOneCancel:
    """Shared state whose reads (after the first) drop the first cancellation they get, as
    Python 3.11's `asyncio.wait_for` inside the Redis client can."""

    def __init__(self) -> None:
        self.reads = 0
        self.lost = 0

    async def failed(self, circuit: str, threshold: int) -> CircuitState | None:
        return None

    async def succeeded(self, circuit: str) -> None:
        return None

    async def claim_trial(self, circuit: str, cooldown_s: float, lease_s: float) -> bool | None:
        return None

    async def states(self) -> dict[str, CircuitState] | None:
        self.reads += 1
        if self.reads > 1:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                if self.lost:
                    raise
                self.lost += 1
        return {}

    async def aclose(self) -> None:
        return None


async def _reading(shared: _LosesOneCancel) -> Breakers:
    breakers = Breakers(2, 1.0, shared)
    assert await breakers.allow(CIRCUIT)  # the first read; the reader reads on
    while shared.reads < 2:
        await asyncio.sleep(0.01)
    return breakers


def test_closing_breakers_ends_their_reader_even_if_a_cancel_is_lost() -> None:
    async def run() -> None:
        shared = _LosesOneCancel()
        breakers = await _reading(shared)
        await asyncio.wait_for(breakers.aclose(), 30)  # it used to wait forever
        assert shared.lost == 1

    asyncio.run(run())


def test_an_event_loop_ends_though_its_breakers_reader_lost_a_cancel() -> None:
    """`asyncio.run` cancels the reader of breakers nobody closed, and waits for it."""
    shared = _LosesOneCancel()

    async def run() -> None:
        await _reading(shared)

    ended = threading.Event()

    def loop() -> None:
        asyncio.run(run())
        ended.set()

    threading.Thread(target=loop, daemon=True).start()
    assert ended.wait(30), "the event loop is still waiting for the breakers' reader"
    assert shared.lost == 1
