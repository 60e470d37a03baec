"""Dashboard aggregates and paging, stored alerts and the privacy hash chain on each real
store backend (a SQLite file; a PostgreSQL the tests start), and the baselines' alerts."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mixstack.config.monitor import MonitorConfig
from mixstack.monitor._baseline import Baselines, Observation
from mixstack.store import CallFilter, CallRecord, SQLiteStore, Store, apply_migrations, record_call
from tests.backends import Backend


def _record(store: Store, i: int, now: float, **extra: object) -> None:
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


def test_aggregates_add_up_across_stores_sharing_a_database(backend: Backend) -> None:
    now = time.time()
    with backend.open() as first, backend.open() as second:
        for i in range(30):
            _record(first if i % 2 else second, i, now, error="boom" if i == 3 else None,
                    abuse='{"label": "injection"}' if i in (4, 5) else None)  # fmt: skip
        first.flush()
        second.flush()
        totals = first.dashboard.totals(3600, int(now // 3600) - 1)
        assert totals["requests"] == 30
        assert totals["errors"] == 1
        assert totals["flagged"] == 2
        assert totals["prompt_tokens"] == 300
        assert abs(totals["cost_usd"] - 15.0) < 1e-9
        [every] = first.dashboard.latency(60, int(now // 60) - 5, step=10_000)
        assert every["requests"] == 30
        assert every["p50_ms"] == 50.0  # 40 ms falls under the 50 ms bound
        assert every["p99_ms"] == 1000.0
        per_model = {m["group"]: m["requests"] for m in first.dashboard.latency(60, 0)}
        assert per_model == {"m0": 10, "m1": 10, "m2": 10}
        by_key = second.dashboard.series(60, 0, 1_000_000, "caller")
        assert {(r["grp"], r["requests"], r["tokens"]) for r in by_key} == {
            ("key_0", 15, 225),
            ("key_1", 15, 225),
        }
        # what is folded once is not counted again, whichever store asks
        assert second.dashboard.totals(3600, int(now // 3600) - 1) == totals


def test_a_quiet_process_calls_reach_the_others_dashboards_without_a_flush(
    backend: Backend,
) -> None:
    now = time.time()
    with backend.open() as quiet, backend.open() as reader:
        for i in range(3):
            _record(quiet, i, now)  # then nothing: no flush, no further call, no close
        deadline = time.monotonic() + 15
        seen = 0
        while time.monotonic() < deadline:
            seen = reader.dashboard.totals(60, int(now // 60) - 1)["requests"]
            if seen == 3:
                break
            time.sleep(0.1)
        assert seen == 3


def test_keyset_pages_return_every_call_once_newest_first(backend: Backend) -> None:
    now = time.time()
    with backend.open() as store:
        for i in range(23):
            _record(store, i, now - (i // 5))  # ties in created_at across page boundaries
        store.flush()
        seen: list[str] = []
        order: list[tuple[float, int]] = []
        before = None
        while True:
            page = store.dashboard.calls(CallFilter(), before=before, limit=5)
            seen += [r["request_id"] for r in page]
            order += [(r["created_at"], r["id"]) for r in page]
            if len(page) < 5:
                break
            before = (page[-1]["created_at"], page[-1]["id"])
        assert len(seen) == 23
        assert len(set(seen)) == 23
        assert order == sorted(order, reverse=True)
        only = store.dashboard.calls(CallFilter(caller="key_1"), limit=50)
        assert {r["caller"] for r in only} == {"key_1"}
        assert len(only) == 11
        flagged = store.dashboard.calls(CallFilter(flagged=True), limit=50)
        assert flagged == []
        assert {r["redacted"] for r in only} == {0}


def test_alerts_are_stored_and_listed_newest_first(backend: Backend) -> None:
    now = time.time()
    with backend.open() as store:
        for n, (kind, subject) in enumerate(
            [("threshold", "key_a"), ("departure", "support"), ("threshold", "key_a")]
        ):
            alert = {
                "created_at": now - 100 + n,
                "kind": kind,
                "metric": "injection_flags",
                "scope": "key" if subject.startswith("key_") else "workload",
                "subject": subject,
                "value": 6.0 + n,
                "threshold": 5.0 if kind == "threshold" else None,
                "message": f"alert {n}",
            }
            store.alerts.record(alert, "log,metrics")
        store.flush()
        old = {**alert, "created_at": now - 7200, "message": "old"}
        store.alerts.record(old, "log")
        store.flush()
    with backend.open() as other:  # another process lists them
        rows = other.alerts.recent(10)
        assert [r["message"] for r in rows] == ["old", "alert 2", "alert 1", "alert 0"]
        assert rows[1]["threshold"] == 5.0
        assert rows[2]["threshold"] is None
        assert rows[1]["sent_to"] == "log,metrics"
        page = other.alerts.recent(2, before_id=rows[1]["id"])
        assert [r["message"] for r in page] == ["alert 1", "alert 0"]
        assert [r["message"] for r in other.alerts.recent(10, subject="key_a")] == [
            "old",
            "alert 2",
            "alert 0",
        ]
        assert len(other.alerts.recent(10, since=now - 3600)) == 3
        assert other.alerts.counts(now - 3600) == {"threshold": 2, "departure": 1}


def test_the_chain_seals_every_call_once_and_shows_a_changed_or_deleted_row(
    backend: Backend,
) -> None:
    now = time.time()
    with backend.open() as first, backend.open() as second:
        assert first.chain.head() == (0, "0" * 64)
        for i in range(6):
            _record(first if i % 2 else second, i, now)
        first.flush()
        second.flush()
        assert first.chain.unsealed() == 6
        assert first.chain.seal() == 6
        assert second.chain.seal() == 0  # the other process finds nothing left to seal
        assert second.chain.unsealed() == 0
        check = second.chain.verify()
        assert check.ok, check
        assert check.checked == 6
        ids = [r[0] for r in backend.execute("SELECT id FROM calls ORDER BY id")]
        assert first.chain.head()[0] == check.last_call_id == ids[-1]
        backend.execute("UPDATE calls SET locality = 'remote' WHERE id = ?", (ids[1],))
        check = first.chain.verify()
        assert not check.ok
        assert check.broken_at == ids[1]
        assert "changed" in check.reason
        assert first.chain.verify(last=3).ok  # the last three links do not cover it
        backend.execute("DELETE FROM calls WHERE id = ?", (ids[-1],))
        last = first.chain.verify(last=2)
        assert last.broken_at == ids[-1]
        assert "deleted" in last.reason
        backend.execute("UPDATE privacy_chain SET hash = ? WHERE call_id = ?", ("f" * 64, ids[3]))
        edited = second.chain.verify(last=4)
        assert edited.broken_at == ids[3]
        assert "chain itself" in edited.reason


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
        totals = store.dashboard.totals(60, int(now // 60) - 1)
        assert totals["requests"] == 7
        [hist] = store.dashboard.latency(3600, 0, step=1_000_000)
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


def test_a_deleted_link_breaks_the_chain(backend: Backend) -> None:
    now = time.time()
    with backend.open() as store:
        for i in range(5):
            _record(store, i, now)
        store.flush()
        assert store.chain.seal() == 5
        ids = [r[0] for r in backend.execute("SELECT id FROM calls ORDER BY id")]
        backend.execute("DELETE FROM privacy_chain WHERE call_id = ?", (ids[2],))
        check = store.chain.verify()
        assert not check.ok
        assert check.broken_at == ids[3]  # the link after the gap no longer follows
        assert check.checked == 2
