"""`mixstack serve` as a real process: workers, the shared store, and a `kill -9` mid-life."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import yaml

from tests.conftest import FAKE_MODELS
from tests.upstream_servers import free_port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"mixstack serve exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("mixstack serve did not become healthy")


def _row(db: Path, request_id: str) -> tuple[str, str] | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        found = conn.execute(
            "SELECT model, front_door FROM calls WHERE request_id = ?", (request_id,)
        ).fetchone()
    return None if found is None else (found[0], found[1])


def test_serve_with_workers_keeps_acknowledged_rows_through_kill_9(
    tmp_path: Path, home: Path
) -> None:
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": FAKE_MODELS, "default_model": "fake/echo"}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mixstack", "serve", "--config", str(config)),
            *("--port", str(port), "--workers", "2"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_healthy(url, proc)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        ids = []
        for i in range(6):
            raw = client.chat.completions.with_raw_response.create(
                model="fake/remote", messages=[{"role": "user", "content": f"call {i}"}]
            )
            assert raw.parse().choices[0].message.content == "rented answer with several words"
            ids.append(raw.headers["x-mixstack-request-id"])
        db = home / "mixstack.db"
        deadline = time.monotonic() + 10
        while any(_row(db, i) is None for i in ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_row(db, i) == ("fake/remote", "gateway") for i in ids)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute(
            f"SELECT COUNT(*) FROM calls WHERE request_id IN ({','.join('?' * len(ids))})", ids
        ).fetchone()[0]
    assert count == len(ids)


def test_serve_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("gateway:\n  port: 99999\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mixstack", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "gateway.port" in proc.stderr
    assert "Traceback" not in proc.stderr
