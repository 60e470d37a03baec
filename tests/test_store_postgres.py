"""The PostgreSQL backend and Redis's rate windows, against real servers the tests start
(from the Debian packages `postgresql` and `redis-server`, in temp dirs, on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mixstack.errors import BudgetExceeded, ConfigError, RateLimited
from mixstack.guard._budget import Budget
from mixstack.guard._keys import KeyStore
from mixstack.guard._ratelimit import RateLimiter
from mixstack.store import CallRecord, Hold, open_store, shared_rates
from mixstack.store.calls import CALL_COLUMNS
from mixstack.store.postgres import PostgresStore, engine
from mixstack.store.postgres.engine import migration_scripts
from tests.services import Postgres, Redis, postgres_server, redis_server


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture
def db_url(pg: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the module's server (and a home for this process's journals)."""
    monkeypatch.setenv("MIXSTACK_HOME", str(tmp_path))
    name = "t_" + secrets.token_hex(4)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.restart_url(name)


def test_migrations_run_once_under_a_lock_and_a_newer_schema_is_refused(db_url: str) -> None:
    opened: list[int] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            with open_store(db_url) as store:
                opened.append(store.version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]  # replicas starting at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert opened == [len(migration_scripts())] * 4
    with psycopg.connect(db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM mixstack_schema")]
        assert versions == list(range(1, len(migration_scripts()) + 1))  # each step once
        conn.execute("INSERT INTO mixstack_schema (version) VALUES (99)")
    with pytest.raises(ConfigError, match="schema 99, newer than this mixstack"):
        open_store(db_url)


def test_keys_calls_traces_cache_and_runs_round_trip(db_url: str) -> None:
    with open_store(db_url) as store:
        assert isinstance(store, PostgresStore)
        keys = KeyStore(store)
        secret, key = keys.create(name="pg", budget_usd=1.0, rpm=5, models=("fake/*",))
        found = asyncio.run(keys.alookup(secret))
        assert found is not None
        assert (found.id, found.rpm, found.models) == (key.id, 5, ("fake/*",))
        assert keys.revoke(key.id)
        assert not keys.revoke(key.id)
        for i in range(150):  # more than one multi-row INSERT
            store.calls.record(
                CallRecord(
                    request_id=f"r{i}",
                    model="fake/echo",
                    provider="fake",
                    locality="local",
                    front_door="eval" if i % 3 == 0 else "gateway",
                    redacted=i % 2 == 0,
                )
            )
        store.traces.start("tr_abcdef1234", 1.0, "task", "agent", "")
        store.traces.add_step(
            {
                "trace_id": "tr_abcdef1234",
                "seq": 1,
                "created_at": 1.0,
                "kind": "model",
                "agent": "a",
                "prompt_tokens": 3,
                "completion_tokens": 2,
                "cost_usd": 0.0,
                "latency_ms": 1.5,
            }
        )
        store.responses.put("k1", "fake/echo", '{"x": 1}')
        store.flush()
        assert store.calls.count() == 150
        assert store.calls.count(front_door="eval") == 50
        assert store.calls.recent(1)[0]["request_id"] == "r149"
        assert store.calls.by_request_id("r0")["redacted"] is True  # type: ignore[index]
        assert store.traces.get("tr_abcdef")["task"] == "task"  # type: ignore[index]
        assert [s["seq"] for s in store.traces.steps("tr_abcdef1234")] == [1]
        assert asyncio.run(store.responses.get_many(["k1", "k2"])) == {"k1": '{"x": 1}'}


def test_interleaved_call_rows_and_spends_commit_grouped_and_complete(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each keyed call queues its log row and its spend; a batch sends its rows in one
    INSERT and the spends summed per key in one UPDATE, not one statement and round trip
    each; every column comes back as it was recorded."""
    batches: list[list[str]] = []
    write_runs = engine._write_runs

    def spy(conn: Any, batch: list[tuple[str, Any]]) -> None:
        batches.append([sql.split()[0] for sql, _ in batch])
        write_runs(conn, batch)

    monkeypatch.setattr(engine, "_write_runs", spy)
    with open_store(db_url) as store:
        _, key = KeyStore(store).create(name="s")
        store.flush()
        batches.clear()
        rich = CallRecord(
            "rich",
            "m",
            "fake",
            "local",
            caller=key.id,
            prompt_tokens=2**40,
            cost_usd=1e-9,
            latency_ms=0.125,
            ttft_ms=None,
            finish_reason="stop",
            prompt='say "hé" 😀\n\\',
            route='{"model": "m"}',
            pii='[{"type": "EMAIL", "count": 2}]',
            redacted=True,
            created_at=1.5e9,
        )
        store.calls.record(rich)
        for n in range(40):
            record = CallRecord(f"r{n}", "m", "fake", "local", caller=key.id)
            store.calls.record(record)
            store.budgets.settle(Hold(None, key.id, 0.0, 0), 0.01, 10 + n)
        store.flush()
        # 81 writes (a row and a spend a call) went as a few statements, not one each
        assert sum(len(kinds) for kinds in batches) < 20, batches
        for kinds in batches:
            assert kinds.count("UPDATE") <= 1
            assert kinds.count("INSERT") <= 1
        row = store.calls.by_request_id("rich")
        assert row is not None
        assert {c: row[c] for c in CALL_COLUMNS} == dataclasses.asdict(rich)
        again = store.keys.get(key.id)
        assert again is not None
        assert again.spent_usd == pytest.approx(0.40)
        assert again.tokens_used == sum(10 + n for n in range(40))
        assert again.requests == 40
        assert len(store.calls.recent(100)) == 41


def test_a_bad_write_fails_alone_and_the_rest_of_its_batch_commits(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer sends a batch in one transaction; when one write fails, the others are
    written one by one and the failure is logged, not lost in silence."""
    with open_store(db_url) as store:
        assert isinstance(store, PostgresStore)
        for n in range(5):
            store.calls.record(CallRecord(f"ok{n}", "m", "fake", "local"))
        store.engine.submit("INSERT INTO calls (request_id) VALUES (%s)", ("no-model",))
        store.calls.record(CallRecord("ok5", "m", "fake", "local"))
        store.flush()
        assert sorted(r["request_id"] for r in store.calls.recent(10)) == [
            f"ok{n}" for n in range(6)
        ]
    assert "writing them one by one" in caplog.text
    assert "a queued write failed" in caplog.text


def test_budget_holds_are_exact_under_concurrency(db_url: str) -> None:
    """60 concurrent holds of $0.1 on a $1 budget: exactly 10 held, the rest refused."""
    with open_store(db_url) as store:
        _, key = KeyStore(store).create(name="b", budget_usd=1.0)
        budget = Budget(store)

        async def one() -> bool:
            try:
                await budget.reserve(key, 0.1, 10)
            except BudgetExceeded:
                return False
            return True

        async def run() -> list[bool]:
            return await asyncio.gather(*(one() for _ in range(60)))

        assert sum(asyncio.run(run())) == 10
        assert len(store.budgets.held_by(store.budgets.owner)) == 10
    # closing gave this process's holds back
    with open_store(db_url) as store:
        again = store.keys.get(key.id)
        assert again is not None
        assert again.reserved_usd == pytest.approx(0.0)


def test_rpm_is_exact_across_processes_sharing_redis_or_the_store(
    db_url: str, redis: Redis
) -> None:
    async def burst(limiter: RateLimiter, n: int) -> int:
        async def one() -> bool:
            try:
                await limiter.admit("shared", rpm=7, tpm=None, tokens=1)
            except RateLimited:
                return False
            return True

        return sum(await asyncio.gather(*(one() for _ in range(n))))

    with open_store(db_url) as store:
        on_redis = RateLimiter(shared_rates(store, redis.url))
        assert asyncio.run(burst(on_redis, 40)) == 7
        on_store = RateLimiter(store.rates)
        assert asyncio.run(burst(on_store, 40)) == 7


def test_redis_down_falls_back_to_the_store_or_fails_closed(db_url: str, redis: Redis) -> None:
    with open_store(db_url) as store:
        degraded = RateLimiter(shared_rates(store, redis.url, "store"))
        closed = RateLimiter(shared_rates(store, redis.url, "closed"))

        async def admit(limiter: RateLimiter, key: str) -> None:
            await limiter.admit(key, rpm=2, tpm=None, tokens=1)

        asyncio.run(admit(degraded, "a"))
        redis.stop()
        try:
            # Redis is gone: the store's window limits the key, never no limit at all
            asyncio.run(admit(degraded, "a"))
            asyncio.run(admit(degraded, "a"))
            with pytest.raises(RateLimited, match="requests per minute"):
                asyncio.run(admit(degraded, "a"))
            with pytest.raises(RateLimited, match="fails closed"):
                asyncio.run(admit(closed, "b"))
        finally:
            redis.start()


def test_doctor_checks_a_postgres_store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mixstack._doctor import run_checks

    monkeypatch.setenv("MIXSTACK_STORE", db_url)
    [check] = [c for c in run_checks(decode=False) if c.name == "store"]
    assert check.status == "ok"
    assert f"schema {len(migration_scripts())}" in check.detail
    monkeypatch.setenv("MIXSTACK_STORE", db_url.rsplit("/", 1)[0] + "/no_such_db")
    [check] = [c for c in run_checks(decode=False) if c.name == "store"]
    assert check.status == "fail"
