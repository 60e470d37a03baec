from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from mixstack.store import CallRecord, SQLiteStore, apply_migrations, recent_calls, record_call
from mixstack.store.db import migration_scripts


def _schema(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        return [(name, " ".join((sql or "").split())) for name, sql in rows]
    finally:
        conn.close()


def test_fresh_and_migrated_databases_have_the_same_schema(tmp_path: Path) -> None:
    latest = len(migration_scripts())
    fresh = tmp_path / "fresh.db"
    SQLiteStore(fresh).close()
    # a database left at every older version, then opened by the current code
    for start in range(latest):
        old = tmp_path / f"old{start}.db"
        conn = sqlite3.connect(old)
        assert apply_migrations(conn, upto=start) == start
        conn.close()
        with SQLiteStore(old) as store:
            assert store.version == latest
        assert _schema(old) == _schema(fresh)


def test_wal_mode_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        mode = store.query_one("PRAGMA journal_mode")
        assert mode is not None
        assert mode[0] == "wal"
        for i in range(5):
            record_call(
                store,
                CallRecord(
                    request_id=f"r{i}",
                    model="fake/echo",
                    provider="fake",
                    locality="local",
                    prompt_tokens=i,
                    created_at=1000.0 + i,
                ),
            )
        store.flush()
        rows = recent_calls(store, 3)
    assert [r["request_id"] for r in rows] == ["r4", "r3", "r2"]
    assert rows[0]["prompt_tokens"] == 4


def test_rows_survive_reopen_and_bad_writes_do_not_poison_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    bad = store.write("INSERT INTO no_such_table VALUES (1)")
    record_call(store, CallRecord(request_id="ok", model="m/x", provider="p", locality="local"))
    store.close()
    assert isinstance(bad.exception(), sqlite3.OperationalError)
    with SQLiteStore(path) as again:
        assert [r["request_id"] for r in recent_calls(again)] == ["ok"]


def test_concurrent_openers_migrate_once(tmp_path: Path) -> None:
    """Several processes (gateway workers) opening a new store at once all succeed."""
    import subprocess
    import sys

    path = tmp_path / "race.db"
    code = "import sys; from mixstack.store import SQLiteStore; SQLiteStore(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    with SQLiteStore(path) as store:
        assert store.version == len(migration_scripts())


def test_a_run_of_queued_inserts_lands_whole_and_a_bad_row_loses_only_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Queued inserts are written as one multi-row statement; a row that breaks a
    constraint falls back to row-by-row, so only that row is lost (and logged)."""
    store = SQLiteStore(tmp_path / "s.db")
    store.write("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").result()
    with caplog.at_level(logging.WARNING, logger="mixstack.store"):
        for batch in range(3):
            for i in range(300):
                value = None if (batch, i) == (1, 7) else i  # one NOT NULL violation
                store.submit("INSERT INTO t (k, v) VALUES (?, ?)", (f"{batch}-{i}", value))
            store.flush()
    rows = store.query("SELECT k, v FROM t ORDER BY k")
    store.close()
    assert len(rows) == 899
    assert "1-7" not in {r["k"] for r in rows}
    assert {r["v"] for r in rows} == set(range(300))
    assert any("NOT NULL" in r.getMessage() for r in caplog.records)


def test_queued_updates_and_named_parameters_still_apply_in_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write("CREATE TABLE c (k TEXT PRIMARY KEY, n INTEGER)").result()
    store.submit("INSERT INTO c VALUES (:k, :n)", {"k": "a", "n": 0})
    for _ in range(50):
        store.submit("UPDATE c SET n = n + 1 WHERE k = ?", ("a",))
    store.submit("INSERT INTO c VALUES (:k, :n)", {"k": "b", "n": 5})
    store.flush()
    rows = {r["k"]: r["n"] for r in store.query("SELECT k, n FROM c")}
    store.close()
    assert rows == {"a": 50, "b": 5}


def test_text_sqlite_cannot_encode_is_stored_escaped_and_the_writer_lives_on(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write("CREATE TABLE t (k TEXT)").result()
    for i in range(3):  # a run of queued rows with one bad value, then a waited-on write
        store.submit("INSERT INTO t VALUES (?)", ("bad \ud800" if i == 1 else f"ok {i}",))
    store.write("INSERT INTO t VALUES (?)", ("lone \udfff",)).result()
    store.flush()
    rows = sorted(r["k"] for r in store.query("SELECT k FROM t"))
    store.close()
    assert rows == ["bad \\ud800", "lone \\udfff", "ok 0", "ok 2"]


def test_the_backend_is_chosen_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mixstack.errors import ConfigError
    from mixstack.store import STORE_ENV, open_store

    path = tmp_path / "by-url.db"
    with open_store(f"sqlite:///{path}") as store:
        assert isinstance(store, SQLiteStore)
        assert store.url == f"sqlite:///{path}"
    assert path.is_file()
    monkeypatch.setenv(STORE_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    open_store().close()
    assert (tmp_path / "env.db").is_file()
    with pytest.raises(ConfigError, match="names no backend"):
        open_store("mysql://localhost/x")
    with pytest.raises(ConfigError, match="no file path"):
        open_store("sqlite://")
