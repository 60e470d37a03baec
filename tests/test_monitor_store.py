"""Dashboard aggregates and paging on a real SQLite store, and the baselines' alerts."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mixstack.config.monitor import MonitorConfig
from mixstack.monitor.baseline import Baselines, Observation
from mixstack.store import CallRecord, SQLiteStore, apply_migrations, record_call
from mixstack.store.dashboard import CallFilter, call_page, latency_percentiles, overview_totals


def _record(store: SQLiteStore, i: int, now: float, **extra: object) -> None:
    fields: dict[str, object] = {
        "request_id": f"req_{i}",
        "model": f"m{i % 3}",
        "provider": "p",
        "locality": "local",
        "caller": f"key_{i % 2}",
        "workload": "w",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.5,
        "latency_ms": 40.0 if i % 10 else 900.0,
        "created_at": now - i,
    }
    fields.update(extra)
    record_call(store, CallRecord(**fields))  # type: ignore[arg-type]


def test_aggregates_add_up_across_stores_sharing_a_database(tmp_path: Path) -> None:
    now = time.time()
    with SQLiteStore(tmp_path / "x.db") as first, SQLiteStore(tmp_path / "x.db") as second:
        for i in range(30):
            _record(first if i % 2 else second, i, now, error="boom" if i == 3 else None,
                    abuse='{"label": "injection"}' if i in (4, 5) else None)  # fmt: skip
        first.flush()
        second.flush()
        totals = overview_totals(first, 3600, int(now // 3600) - 1)
        assert totals["requests"] == 30
        assert totals["errors"] == 1
        assert totals["flagged"] == 2
        assert totals["prompt_tokens"] == 300
        assert abs(totals["cost_usd"] - 15.0) < 1e-9
        [every] = latency_percentiles(first, 60, int(now // 60) - 5, step=10_000)
        assert every["requests"] == 30
        assert every["p50_ms"] == 50.0  # 40 ms falls under the 50 ms bound
        assert every["p99_ms"] == 1000.0
        per_model = {m["group"]: m["requests"] for m in latency_percentiles(first, 60, 0)}
        assert per_model == {"m0": 10, "m1": 10, "m2": 10}


def test_keyset_pages_return_every_call_once_newest_first(tmp_path: Path) -> None:
    now = time.time()
    with SQLiteStore(tmp_path / "x.db") as store:
        for i in range(23):
            _record(store, i, now - (i // 5))  # ties in created_at across page boundaries
        store.flush()
        seen: list[str] = []
        before = None
        while True:
            page = call_page(store, CallFilter(), before=before, limit=5)
            seen += [r["request_id"] for r in page]
            if len(page) < 5:
                break
            before = (page[-1]["created_at"], page[-1]["id"])
        assert len(seen) == 23
        assert len(set(seen)) == 23
        only = call_page(store, CallFilter(caller="key_1"), limit=50)
        assert {r["caller"] for r in only} == {"key_1"}
        assert len(only) == 11


def test_migration_counts_calls_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, upto=6)
    now = time.time()
    for i in range(7):
        conn.execute(
            "INSERT INTO calls (request_id, created_at, model, provider, locality, latency_ms) "
            "VALUES (?, ?, 'old/m', 'p', 'local', 12)",
            (f"r{i}", now - i),
        )
    conn.close()
    with SQLiteStore(path) as store:
        totals = overview_totals(store, 60, int(now // 60) - 1)
        assert totals["requests"] == 7
        [hist] = latency_percentiles(store, 3600, 0, step=1_000_000)
        assert hist["requests"] == 7
        assert hist["p50_ms"] == 15.0


def test_baselines_alert_on_departure_and_threshold_with_a_cooldown() -> None:
    clock = [10_000.0]
    config = MonitorConfig(bucket_s=60, warmup_buckets=5, departure_factor=10, cooldown_s=300)
    baselines = Baselines(config, clock=lambda: clock[0])
    for _ in range(10):  # ten quiet minutes: 2 requests each
        for _ in range(2):
            assert baselines.observe("key", "k", Observation(tokens=100)) == []
        clock[0] += 60
    alerts = []
    for _ in range(25):  # then a burst: 25 requests in one minute
        alerts += baselines.observe("key", "k", Observation(tokens=100))
    kinds = {(a.kind, a.metric) for a in alerts}
    assert ("departure", "requests") in kinds
    departure = next(a for a in alerts if a.metric == "requests")
    assert departure.value == 21  # the first request over max(10 x 2, floor 20)
    assert "baseline 2" in departure.message
    assert len([a for a in alerts if a.metric == "requests"]) == 1  # cooldown
    flags = []
    for _ in range(6):
        flags += baselines.observe("workload", "w", Observation(injection_flag=True))
    [threshold] = [a for a in flags if a.kind == "threshold"]
    assert threshold.metric == "injection_flags"
    assert threshold.value == 6  # default limit: more than 5 in 10 minutes
    assert baselines.snapshot()[0]["subject"] == "k"
