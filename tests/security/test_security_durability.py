"""Finding 9: a call a client got an answer for is in the log after `kill -9`.

`mixstack serve` runs as a real process under concurrent load and is killed three times
mid-load; every request id a client received a 200 for must be in the calls table once the
store is opened again (journals of the dead processes replayed), and the database intact.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import yaml

from mixstack.store import SQLiteStore
from tests.conftest import FAKE_MODELS
from tests.security.test_security_auth import BODY
from tests.upstream_servers import free_port

CLIENTS = 8
#: acknowledged calls per life of the server before it is killed
PER_LIFE = 120


def _serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mixstack", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # bounded: 600 tries of up to 1 s
        assert proc.poll() is None, "mixstack serve exited"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            threading.Event().wait(0.1)
    raise AssertionError("mixstack serve did not come up")


def _one_life(url: str, proc: subprocess.Popen[bytes], acknowledged: list[str]) -> None:
    """Load the server until PER_LIFE more calls are acknowledged, then kill -9 it."""
    target = len(acknowledged) + PER_LIFE
    killed = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not killed.is_set():
                try:
                    answer = http.post(f"{url}/v1/chat/completions", json=BODY)
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code != 200:
                    continue
                with lock:
                    acknowledged.append(answer.headers["x-mixstack-request-id"])
                    if len(acknowledged) >= target and not killed.is_set():
                        # killed while the other clients' requests are in flight
                        os.killpg(proc.pid, signal.SIGKILL)
                        killed.set()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    proc.wait(timeout=30)
    assert killed.is_set()


def test_three_kills_under_load_lose_no_acknowledged_call(tmp_path: Path, home: Path) -> None:
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": FAKE_MODELS, "gateway": {"auth": "off"}}))
    acknowledged: list[str] = []
    for _ in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _serve(config, port)
        try:
            _wait_up(url, proc)
            _one_life(url, proc, acknowledged)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    assert len(acknowledged) >= 3 * PER_LIFE
    db = home / "mixstack.db"
    SQLiteStore(db).close()  # opening the store replays the journals of the killed processes
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT request_id FROM calls")}
    missing = [i for i in acknowledged if i not in stored]
    assert missing == []
    assert not list((home / "mixstack.db-journals").glob("*.journal"))


def test_a_journal_left_by_a_dead_process_is_replayed_once(tmp_path: Path) -> None:
    from mixstack.store import CallRecord
    from mixstack.store.journal import Journal
    from mixstack.store.sqlite.calls import _INSERT, _ROW

    db = tmp_path / "m.db"
    SQLiteStore(db).close()
    journal = Journal(db)  # as a process that died before its rows committed
    rows = [
        CallRecord(request_id="a", model="m", provider="p", locality="local", created_at=1.0),
        CallRecord(request_id="b", model="m", provider="p", locality="local", prompt="x \ud800"),
    ]
    for row in rows:
        journal.append(_INSERT, _ROW(row))
    with SQLiteStore(db) as live:  # the writer of the journal is alive: its journal is left alone
        assert live.query("SELECT request_id FROM calls") == []
    journal._fd, fd = -1, journal._fd  # the process dies: its lock goes with it
    os.close(fd)
    with SQLiteStore(db) as reopened:
        found = {r[0] for r in reopened.query("SELECT request_id FROM calls")}
    assert found == {"a", "b"}
    assert not journal.path.exists()
