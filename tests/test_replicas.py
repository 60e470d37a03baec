"""Three real `mixstack serve` replicas sharing one PostgreSQL and one Redis (started by the
tests from the Debian packages): budgets, rpm limits and revocations hold across all of
them, and a `kill -9` of one replica loses no call a client got an answer for. Also
`mixstack serve --workers 2` on SQLite sharing one rpm limit through the database."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mixstack.guard._keys import KeyStore
from mixstack.store import KeyUsage, VirtualKey, open_store
from mixstack.store.redis.budgets import RedisBudgets
from tests.services import Postgres, Redis, Replicas, postgres_server, redis_server
from tests.upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json

#: $1 per 1k tokens: a request of ~10 prompt + 20 completion tokens holds about $0.03
PRICE = {"input_per_1m": 1000.0, "output_per_1m": 1000.0}
#: the largest hold of one request here (prompt bound + completion, both sides priced)
HOLD = (11 + 4 + 20) * PRICE["input_per_1m"] / 1e6 * 2


#: how long the flaky model takes to answer (a half-open trial stays in flight this long)
TRIAL_S = 3.0
#: when each call of the flaky model reached the endpoint (monotonic seconds)
FLAKY_ARRIVALS: list[float] = []


def _slow_answer(body: dict[str, Any]) -> Scripted:
    text = str(body["messages"][-1]["content"])
    if text.startswith("fail"):  # a model whose endpoint fails (its circuit opens)
        return Scripted(status=500, json_body={"error": {"message": "boom"}})
    if text.startswith("flaky"):  # the same model answering again, slowly: a trial in flight
        FLAKY_ARRIVALS.append(time.monotonic())
        return Scripted(json_body=chat_json("ok"), delay_s=TRIAL_S)
    # "slow …" requests stay in flight long enough to kill the replica serving them
    return Scripted(json_body=chat_json("ok"), delay_s=8.0 if text.startswith("slow") else 0.02)


@pytest.fixture(scope="module")
def recording() -> Iterator[tuple[RecordingUpstream, str]]:
    recorder = RecordingUpstream(_slow_answer)
    with ServerThread(recorder.app) as server:
        yield recorder, server.url


@pytest.fixture(scope="module")
def upstream(recording: tuple[RecordingUpstream, str]) -> str:
    return recording[1]


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(
    pg: Postgres, redis: Redis, upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replicas, str, Path]]:
    root = tmp_path_factory.mktemp("replicas")
    config = root / "mixstack.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": name,
                        "provider": "openai",
                        "base_url": upstream + "/v1",
                        "price": PRICE,
                        "retries": 0,
                    }
                    for name in ("up/m", "up/flaky")
                ],
                "default_model": "up/m",
                "gateway": {"key_cache_s": 0.5, "default_completion_tokens": 20},
                # a circuit opens after 5 failures in a row (on any replica), one trial 2 s on
                "circuit": {"threshold": 5, "cooldown_s": 2.0},
            }
        )
    )
    home = root / "home"
    env = {
        **os.environ,
        "MIXSTACK_HOME": str(home),
        "MIXSTACK_STORE": pg.url,
        "MIXSTACK_REDIS": redis.url,
    }
    env.pop("MIXSTACK_CONFIG", None)
    with open_store(pg.url, home=home) as store:  # the schema, before three replicas race
        assert store.version >= 1
    with Replicas(config, env, 3, logs=root) as replicas:
        yield replicas, pg.url, home


async def _fire(urls: list[str], secret: str, n: int) -> list[httpx.Response]:
    """`n` requests at once, spread round-robin over the replicas."""
    answers = await _fire_tolerant(urls, secret, n)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


async def _fire_tolerant(
    urls: list[str], secret: str, n: int, text: str = "hi", model: str = "up/m"
) -> list[httpx.Response | BaseException]:
    """`_fire`, with a request that failed (its replica was killed) as its exception."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(i: int) -> httpx.Response:
            return await client.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": f"{text} {i}"}],
                    "max_tokens": 20,
                },
                headers={"authorization": f"Bearer {secret}"},
            )

        return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


def _key(url: str, home: Path, **limits: Any) -> tuple[str, str]:
    with open_store(url, home=home) as store:
        secret, key = KeyStore(store).create(name="replicas", **limits)
    return secret, key.id


def test_budget_is_never_exceeded_by_more_than_one_hold(
    cluster: tuple[Replicas, str, Path], redis: Redis
) -> None:
    replicas, url, home = cluster
    secret, key_id = _key(url, home, budget_usd=1.0)
    answers = asyncio.run(_fire(replicas.urls, secret, 300))
    # an admitted request settles once, answered or not (the upstream here is a thread of
    # this busy test process and may drop one); refusals are 429 (insufficient quota)
    admitted = [a for a in answers if a.status_code != 429]
    refused = [a for a in answers if a.status_code == 429]
    assert any(a.status_code == 200 for a in admitted), answers[0].text[:300]
    assert refused, "300 requests of ~$0.03 each on a $1 budget must be refused at some point"
    assert all("budget" in a.json()["error"]["message"] for a in refused)
    key = _settled(url, home, key_id, len(admitted))
    # the spend stays within the budget plus the largest single hold (the estimate a real
    # cost may exceed), and every hold was given back
    assert key.spent_usd <= 1.0 + HOLD
    assert key.reserved_usd == pytest.approx(0.0, abs=1e-9)
    # the holds lived in Redis, which learned every spend and holds nothing now
    spent, held = _wait_redis_settled(redis, url, home, key_id)
    assert spent == pytest.approx(key.spent_usd)
    assert held == 0


def _wait_redis_settled(redis: Redis, url: str, home: Path, key_id: str) -> tuple[float, float]:
    for _ in range(150):
        spent, held = _redis_numbers(redis, url, home, key_id)
        if held == 0:
            break
        time.sleep(0.1)
    return spent, held


def _redis_numbers(redis: Redis, url: str, home: Path, key_id: str) -> tuple[float, float]:
    """(spend, USD held now) for the key as Redis's budget numbers have them (holds of a
    process whose lease ended are freed on reading)."""

    async def read() -> KeyUsage | None:
        with open_store(url, home=home) as store:
            budgets = RedisBudgets(redis.url, store)
            try:
                return await budgets.usage(key_id)
            finally:
                await budgets.aclose()

    usage = asyncio.run(read())
    assert usage is not None
    return usage.spent_usd, usage.reserved_usd


def _settled(url: str, home: Path, key_id: str, requests: int) -> VirtualKey:
    """The key once the replicas' queued settlements are committed (a few ms each)."""
    with open_store(url, home=home) as store:
        for _ in range(100):
            key = store.keys.get(key_id)
            assert key is not None
            if key.requests >= requests:
                break
            time.sleep(0.1)
    assert key.requests == requests
    return key


def test_rpm_admits_exactly_the_limit_across_replicas(
    cluster: tuple[Replicas, str, Path],
) -> None:
    replicas, url, home = cluster
    secret, _ = _key(url, home, rpm=50)
    answers = asyncio.run(_fire(replicas.urls, secret, 300))
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) == 250
    assert statuses.count(200) + statuses.count(502) == 50  # 502: the upstream thread, busy
    # one window for all three: a per-process limit would have admitted up to 150


def test_a_revoked_key_is_refused_by_every_replica_within_a_second(
    cluster: tuple[Replicas, str, Path],
) -> None:
    replicas, url, home = cluster
    secret, key_id = _key(url, home)
    assert [a.status_code for a in asyncio.run(_fire(replicas.urls, secret, 3))] == [200] * 3
    with open_store(url, home=home) as store:
        assert KeyStore(store).revoke(key_id)
    time.sleep(1.0)  # key_cache_s is 0.5: every replica has looked the key up again
    after = asyncio.run(_fire(replicas.urls, secret, 3))
    assert [a.status_code for a in after] == [401] * 3
    assert all("revoked" in a.json()["error"]["message"] for a in after)


def test_a_redis_restart_mid_run_never_overspends(
    cluster: tuple[Replicas, str, Path], redis: Redis
) -> None:
    replicas, url, home = cluster
    secret, key_id = _key(url, home, budget_usd=1.0)

    async def load() -> list[httpx.Response]:
        task = asyncio.ensure_future(_fire(replicas.urls, secret, 300))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(redis.stop)  # every number Redis had is gone (no persistence)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(redis.start)
        return await task

    answers = asyncio.run(load())
    admitted = [a for a in answers if a.status_code != 429]
    refused = [a for a in answers if a.status_code == 429]
    assert any(a.status_code == 200 for a in admitted)
    assert refused
    assert all("budget" in a.json()["error"]["message"] for a in refused)
    key = _settled(url, home, key_id, len(admitted))
    assert key.spent_usd <= 1.0 + HOLD
    assert key.reserved_usd == pytest.approx(0.0, abs=1e-9)  # the store's holds came back
    assert _wait_redis_settled(redis, url, home, key_id)[1] == 0


def test_a_circuit_opened_on_one_replica_is_open_on_all_with_one_trial(
    cluster: tuple[Replicas, str, Path], recording: tuple[RecordingUpstream, str]
) -> None:
    replicas, url, home = cluster
    recorder = recording[0]
    secret, _ = _key(url, home)
    urls = replicas.urls

    def calls(texts: list[str]) -> list[httpx.Response]:
        async def run() -> list[httpx.Response | BaseException]:
            return await _fire_tolerant(urls, secret, len(urls) * 3, texts[0], "up/flaky")

        answers = asyncio.run(run())
        assert all(isinstance(a, httpx.Response) for a in answers), answers
        return answers  # type: ignore[return-value]

    def flaky_hits() -> int:
        return sum(str(r["messages"][-1]["content"]).startswith("flaky") for r in recorder.requests)

    # five failures on the first replica open the model's circuit
    with httpx.Client(timeout=30) as client:
        for i in range(5):
            failed = client.post(
                f"{urls[0]}/v1/chat/completions",
                json={"model": "up/flaky", "messages": [{"role": "user", "content": f"fail {i}"}]},
                headers={"authorization": f"Bearer {secret}"},
            )
            assert failed.status_code >= 500
    time.sleep(0.6)  # every replica has read the shared state
    before = flaky_hits()
    paused = calls(["flaky"])  # 9 calls, 3 on each replica
    assert flaky_hits() == before  # none reached the endpoint
    assert all("paused" in a.json()["error"]["message"] for a in paused), paused[0].text
    time.sleep(2.2)  # the cooldown is over: one trial, on whichever replica gets there first
    arrived = len(FLAKY_ARRIVALS)
    tried = calls(["flaky"])
    trial, *later = FLAKY_ARRIVALS[arrived:]
    # while the trial is in flight no other call reaches the endpoint, on any replica; a
    # call that reaches its breaker after the trial closed the circuit rightly goes through
    assert all(t >= trial + TRIAL_S - 0.2 for t in later), [t - trial for t in later]
    assert flaky_hits() == before + 1 + len(later)
    statuses = [a.status_code for a in tried]
    assert statuses.count(200) == 1 + len(later)
    assert all("paused" in a.json()["error"]["message"] for a in tried if a.status_code != 200)
    time.sleep(0.6)  # the trial succeeded: closed on every replica
    assert [a.status_code for a in calls(["flaky"])] == [200] * 9


def test_kill_9_of_a_replica_loses_no_acknowledged_call(
    cluster: tuple[Replicas, str, Path],
) -> None:
    replicas, url, home = cluster
    secret, _ = _key(url, home)

    async def load() -> list[httpx.Response | BaseException]:
        task = asyncio.ensure_future(_fire_tolerant(replicas.urls, secret, 150))
        await asyncio.sleep(0.3)
        os.killpg(replicas.procs[0].pid, signal.SIGKILL)  # mid-load
        return await task

    results = asyncio.run(load())
    replicas.procs[0].wait(timeout=10)
    acknowledged = [
        r.headers["x-mixstack-request-id"]
        for r in results
        if isinstance(r, httpx.Response) and r.status_code == 200
    ]
    assert acknowledged
    # the others keep serving
    assert [a.status_code for a in asyncio.run(_fire(replicas.urls[1:], secret, 4))] == [200] * 4
    # a store opened on the killed replica's machine replays its journal
    with open_store(url, home=home) as store:
        store.flush()
        missing = [rid for rid in acknowledged if store.calls.by_request_id(rid) is None]
    assert missing == []


def test_redis_down_degrades_to_postgres_limits_not_to_none(
    cluster: tuple[Replicas, str, Path], redis: Redis
) -> None:
    replicas, url, home = cluster
    secret, _ = _key(url, home, rpm=20)
    alive = [u for u, p in zip(replicas.urls, replicas.procs, strict=True) if p.poll() is None]
    assert len(alive) >= 2
    redis.stop()
    try:
        answers = asyncio.run(_fire(alive, secret, 60))
        statuses = [a.status_code for a in answers]
        # PostgreSQL's window, under a per-key lock: still one exact limit for all replicas
        # (502: admitted, but the upstream thread of this busy test process dropped it)
        assert statuses.count(200) + statuses.count(502) == 20
        assert statuses.count(429) == 40
    finally:
        redis.start()


def test_the_budget_holds_of_a_killed_replica_are_freed(
    cluster: tuple[Replicas, str, Path], redis: Redis
) -> None:
    replicas, url, home = cluster
    alive = [i for i, p in enumerate(replicas.procs) if p.poll() is None]
    assert len(alive) >= 2
    victim, survivor = alive[0], replicas.urls[alive[1]]
    secret, key_id = _key(url, home, budget_usd=1.0)

    async def load() -> None:
        # 20 slow calls (~$0.7 held) on the victim, killed while they are in flight
        task = asyncio.ensure_future(
            _fire_tolerant([replicas.urls[victim]], secret, 20, text="slow")
        )
        with open_store(url, home=home) as store:
            budgets = RedisBudgets(redis.url, store)
            for _ in range(200):
                usage = await budgets.usage(key_id)
                if usage is not None and usage.reserved_usd >= 20 * 0.03:
                    break
                await asyncio.sleep(0.05)
            await budgets.aclose()
        os.killpg(replicas.procs[victim].pid, signal.SIGKILL)
        await task

    asyncio.run(load())
    replicas.procs[victim].wait(timeout=10)
    numbers = _redis_numbers(redis, url, home, key_id)
    assert numbers[1] >= 20 * 0.03, numbers  # held by the dead replica
    assert _wait_redis_settled(redis, url, home, key_id) == (0.0, 0.0)  # its lease ended
    # the whole budget is there again: 25 calls of ≤ $0.035 fit in it
    answers = asyncio.run(_fire([survivor], secret, 25))
    assert [a.status_code for a in answers].count(429) == 0


def _counted(metrics: str, label: str) -> float:
    """The sum of `mixstack_requests_total` over the series with this label."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("mixstack_requests_total{") and label in line
    )


def test_serve_workers_on_sqlite_share_one_rpm_limit(tmp_path: Path, upstream: str) -> None:
    config = tmp_path / "mixstack.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "up/m",
                        "provider": "openai",
                        "base_url": upstream + "/v1",
                        "retries": 0,
                    }
                ],
                "default_model": "up/m",
            }
        )
    )
    home = tmp_path / "home"
    env = {**os.environ, "MIXSTACK_HOME": str(home)}
    for name in ("MIXSTACK_STORE", "MIXSTACK_REDIS", "MIXSTACK_CONFIG"):
        env.pop(name, None)
    with open_store(None, home=home) as store:
        secret, _ = KeyStore(store).create(name="w", rpm=3)
        admin, _ = KeyStore(store).create(name="ops", admin=True)
    with Replicas(config, env, 1, workers=2, logs=tmp_path) as server:
        answers = asyncio.run(_fire(server.urls * 2, secret, 20))
        assert [a.status_code for a in answers].count(200) == 3
        # whichever worker answers the scrape, the counters are the sum over both workers
        for _ in range(6):
            text = httpx.get(
                f"{server.urls[0]}/metrics",
                headers={"authorization": f"Bearer {admin}"},
                timeout=10,
            ).text
            assert _counted(text, 'status="200"') == 3
            assert _counted(text, 'status="429"') == 17
