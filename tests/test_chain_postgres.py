"""The privacy hash chain and the dashboard's aggregates on PostgreSQL when replicas'
commits interleave: a call committed late is sealed after larger ids (never skipped),
concurrent writers and sealers seal each call exactly once, calls stored before the
migration count, and a call hashes to the same digest on either backend."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.store import CallFilter, CallRecord, Store, open_store
from mixstack.store.postgres.engine import migration_scripts
from tests.backends import Backend
from tests.conftest import FAKE_MODELS


def _call(i: int, now: float, **extra: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "request_id": f"req_{i:06d}",
        "model": f"m{i % 3}",
        "provider": "p",
        "locality": "local",
        "caller": f"key_{i % 2}",
        "workload": "w",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.25,
        "latency_ms": 40.0 + i % 7,
        "pii": '[{"type": "EMAIL_ADDRESS", "count": 1}]' if i % 5 == 0 else "[]",
        "redacted": i % 5 == 0,
        "route": '{"model": "m", "reason": "ranked first"}',
        "created_at": now - i * 0.01,
    }
    fields.update(extra)
    return CallRecord(**fields)


def _links(url: str) -> list[tuple[int, int]]:
    with psycopg.connect(url) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute("SELECT seq, call_id FROM privacy_chain ORDER BY seq")
        ]


def test_a_call_committed_after_larger_ids_are_sealed_is_sealed_next(pg_database: str) -> None:
    now = time.time()
    with open_store(pg_database) as store, psycopg.connect(pg_database) as late:
        # another replica's transaction takes an id first and commits last
        late.execute(
            "INSERT INTO calls (request_id, created_at, model, provider, locality) "
            "VALUES ('req_late', %s, 'm0', 'p', 'local')",
            (now,),
        )
        for i in range(5):
            store.calls.record(_call(i, now))
        store.flush()
        assert store.chain.seal() == 5  # the uncommitted call is not there to seal
        assert store.dashboard.totals(60, int(now // 60) - 1)["requests"] == 5
        late.commit()
        assert store.chain.unsealed() == 1
        assert store.chain.seal() == 1
        links = _links(pg_database)
        late_id = min(call_id for _, call_id in links)
        assert links[-1] == (6, late_id)  # sealed last, though its id is the smallest
        assert [seq for seq, _ in links] == [1, 2, 3, 4, 5, 6]
        assert store.chain.verify().ok
        assert store.chain.verify().checked == 6
        assert store.dashboard.totals(60, int(now // 60) - 1)["requests"] == 6
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute("UPDATE calls SET model = 'elsewhere' WHERE id = %s", (late_id,))
        check = store.chain.verify()
        assert (check.broken_at, check.checked) == (late_id, 5)
        assert "changed" in check.reason


def test_replicas_writing_and_sealing_at_once_seal_each_call_once(pg_database: str) -> None:
    now = time.time()
    stores = [open_store(pg_database) for _ in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(store: Store, start: int) -> None:
        try:
            for i in range(start, start + 150):
                store.calls.record(_call(i, now))
                if i % 10 == 0:
                    time.sleep(0.002)  # bursts, so replicas' batches interleave
            store.flush()
        except BaseException as exc:
            errors.append(exc)

    def seal(store: Store) -> None:
        try:
            while not stop.is_set():
                store.chain.seal(batch=40)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(s, n * 1000)) for n, s in enumerate(stores)]
    sealers = [threading.Thread(target=seal, args=(s,)) for s in stores]
    for thread in writers + sealers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in sealers:
        thread.join()
    try:
        assert errors == []
        while stores[0].chain.seal():
            pass
        links = _links(pg_database)
        assert [seq for seq, _ in links] == list(range(1, 451))
        assert len({call_id for _, call_id in links}) == 450
        check = stores[1].chain.verify()
        assert check.ok, check
        assert check.checked == 450
        totals = stores[2].dashboard.totals(3600, int(now // 3600) - 1)
        assert totals["requests"] == 450
        assert totals["prompt_tokens"] == 4500
        assert abs(totals["cost_usd"] - 112.5) < 1e-6
        by_key = {
            r["grp"]: r["requests"] for r in stores[0].dashboard.series(60, 0, 10**9, "caller")
        }
        assert by_key == {"key_0": 225, "key_1": 225}
    finally:
        for store in stores:
            store.close()


def test_calls_stored_before_the_migration_are_counted_and_sealed(pg_database: str) -> None:
    now = time.time()
    [(_, first)] = [s for s in migration_scripts() if s[0] == 1]
    with psycopg.connect(pg_database, autocommit=True) as conn:  # a store at schema 1
        conn.execute(first.encode())
        conn.execute("CREATE TABLE mixstack_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO mixstack_schema (version) VALUES (1)")
        for i in range(7):
            conn.execute(
                "INSERT INTO calls (request_id, created_at, model, provider, locality, "
                "latency_ms) VALUES (%s, %s, 'old/m', 'p', 'local', 12)",
                (f"r{i}", now - i),
            )
    with open_store(pg_database) as store:
        assert store.version == len(migration_scripts())
        assert store.dashboard.totals(60, int(now // 60) - 1)["requests"] == 7
        [hist] = store.dashboard.latency(3600, 0, step=1_000_000)
        assert (hist["requests"], hist["p50_ms"]) == (7, 15.0)
        assert store.chain.seal() == 0  # the page above sealed them while folding
        check = store.chain.verify()
        assert (check.ok, check.checked) == (True, 7)


def test_both_backends_hash_and_sum_the_same_calls_the_same_way(
    pg_database: str, tmp_path: Any
) -> None:
    now = time.time()
    sqlite = Backend("sqlite", f"sqlite:///{tmp_path / 'x.db'}")
    postgres = Backend("postgresql", pg_database)
    answers = []
    for backend in (sqlite, postgres):
        with backend.open() as store:
            for i in range(40):
                store.calls.record(
                    _call(
                        i,
                        now,
                        error="boom" if i == 7 else None,
                        abuse='{"label": "injection"}' if i == 9 else None,
                    )
                )
            store.flush()
            assert store.chain.seal() == 40
            board = store.dashboard
            span_since = (60, int(now // 60) - 2)
            page = [
                {k: v for k, v in row.items() if k != "id"}
                for row in board.calls(CallFilter(), limit=200)
            ]
            answers.append(
                (
                    board.totals(*span_since),
                    board.series(*span_since, 1, "model"),
                    board.latency(*span_since),
                    board.latency(*span_since, step=1),
                    page,
                    store.alerts.counts(0),
                )
            )
        digests = backend.execute(
            "SELECT request_id, digest FROM privacy_chain ORDER BY request_id"
        )
        answers.append(digests)  # type: ignore[arg-type]
    sqlite_view, sqlite_digests, pg_view, pg_digests = answers
    assert len(sqlite_digests) == 40
    assert pg_digests == sqlite_digests
    assert pg_view == sqlite_view


def test_the_gateway_seals_and_folds_committed_calls_in_the_background(pg_database: str) -> None:
    now = time.time()
    gateway = Gateway(parse_config({"store": pg_database, "models": FAKE_MODELS}))
    store = gateway.pipeline.store

    async def background() -> None:
        for i in range(12):
            store.calls.record(_call(i, now))
        store.flush()
        task = asyncio.create_task(gateway.monitor.run(interval_s=0.05))
        deadline = time.monotonic() + 15
        while store.chain.unsealed() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        await gateway.pipeline.aclose()

    asyncio.run(background())
    with psycopg.connect(pg_database) as conn:  # folded and sealed with no page asking
        [(requests,)] = conn.execute(
            "SELECT sum(requests) FROM call_stats WHERE span = 60 AND dim = 'model'"
        ).fetchall()
        [(links,)] = conn.execute("SELECT count(*) FROM privacy_chain").fetchall()
    assert (requests, links) == (12, 12)
