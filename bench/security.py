"""Security and reliability figures: leaks, overspend, stalls and lost rows, all on 127.0.0.1.

    python bench/security.py [--kills 3] [--prompt-mb 1]

1. canaries: every canary of tests/security/canaries.py (personal data and secrets, plain and
   encoded) in every request field, through a gateway under `auto` and `redact` workloads,
   to a recording remote upstream: how many reached it.
2. overspend: 100 concurrent requests with a budgeted key against an upstream that ignores
   max_tokens and bills 90,000 tokens each: spend past the budget, in holds (target <= 1).
3. stall: `mixstack serve` scans a large prompt (default 1 MB) while a prober asks /health
   and a small chat request every few ms: the slowest of those answers (target: health under
   50 ms, others under 100 ms).
4. kill -9: `mixstack serve` under 8 concurrent clients, killed `--kills` times mid-load:
   acknowledged calls missing from the log afterwards (target 0), and integrity_check.

Figures are noisy on a loaded machine. Last line: one summary of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the test helpers: recording upstreams, canaries

import httpx  # noqa: E402
import yaml  # noqa: E402

from tests.security.canaries import bodies, leaked  # noqa: E402
from tests.upstream_servers import (  # noqa: E402
    RecordingUpstream,
    Scripted,
    ServerThread,
    chat_json,
    free_port,
)


def _remote_models(remote: ServerThread, onprem: ServerThread) -> list[dict[str, Any]]:
    return [
        {
            "name": "cloud/big",
            "provider": "openai",
            "locality": "remote",
            "base_url": remote.url + "/v1",
            "capabilities": ["chat", "tools", "json"],
            "retries": 0,
        },
        {
            "name": "rack/mid",
            "provider": "openai",
            "locality": "on-prem",
            "base_url": onprem.url + "/v1",
            "capabilities": ["chat", "tools", "json"],
            "retries": 0,
        },
    ]


def canaries() -> tuple[int, int]:
    from mixstack.config import parse_config
    from mixstack.gateway import Gateway

    remote, onprem = RecordingUpstream(), RecordingUpstream()
    sent = leaks = 0
    with ServerThread(remote.app) as rs, ServerThread(onprem.app) as os_:
        config = parse_config(
            {
                "models": _remote_models(rs, os_),
                "workloads": {
                    "support": {"privacy": "auto", "prefer": ["cloud/big", "rack/mid"]},
                    "scrub": {"privacy": "redact", "prefer": ["cloud/big", "rack/mid"]},
                },
                "gateway": {"auth": "off"},
            }
        )
        with ServerThread(Gateway(config).app()) as gw, httpx.Client(timeout=60) as http:
            for workload in ("support", "scrub"):
                for canary, field, body, markers in bodies(f"workload/{workload}"):
                    before = len(remote.requests)
                    http.post(f"{gw.url}/v1/chat/completions", json=body)
                    sent += 1
                    if leaked(remote.requests[before:], markers):
                        leaks += 1
                        print(f"  LEAK {workload}: {canary} in {field}")
    print(f"canaries: {leaks} of {sent} reached the remote upstream")
    return leaks, sent


def overspend() -> float:
    from mixstack.config import parse_config
    from mixstack.gateway import Gateway

    def overbill(body: dict[str, Any]) -> Scripted:
        reply = chat_json("a long answer " * 50)
        reply["usage"] = {"prompt_tokens": 40_000, "completion_tokens": 90_000}
        return Scripted(json_body=reply)

    upstream = RecordingUpstream(default=overbill)
    price = {"input_per_1m": 1000.0, "output_per_1m": 1000.0}
    with ServerThread(upstream.app) as up:
        config = parse_config(
            {
                "models": [
                    {
                        "name": "up/pricey",
                        "provider": "openai",
                        "base_url": up.url + "/v1",
                        "price": price,
                        "retries": 0,
                    }
                ],
                "gateway": {"key_cache_s": 0},
            }
        )
        gw = Gateway(config)
        budget = 0.5
        secret, key = gw.keys.create(budget_usd=budget)
        hold = (11 + 8 + 10) * 1000 / 1_000_000
        with ServerThread(gw.app()) as server:

            async def run() -> list[int]:
                async with httpx.AsyncClient(timeout=60) as http:
                    body = {
                        "model": "up/pricey",
                        "messages": [{"role": "user", "content": "hello there"}],
                        "max_tokens": 10,
                    }
                    headers = {"authorization": f"Bearer {secret}"}
                    answers = await asyncio.gather(
                        *(
                            http.post(
                                f"{server.url}/v1/chat/completions", json=body, headers=headers
                            )
                            for _ in range(100)
                        )
                    )
                    return [a.status_code for a in answers]

            statuses = asyncio.run(run())
            gw.pipeline.flush()  # the server's exit closes the store: read the key first
            row = gw.keys.get(key.id)
        assert row is not None
    billed = len(upstream.requests) * (40_000 + 90_000) * 1000 / 1_000_000
    over = max(0.0, row.spent_usd - budget) / hold
    print(
        f"overspend: {statuses.count(200)} answered, {statuses.count(429)} refused; spent "
        f"${row.spent_usd:.4f} of ${budget} (upstream claimed ${billed:.2f}); "
        f"overspend {over:.2f} holds"
    )
    return over


def _serve(config: Path, port: int, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MIXSTACK_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "mixstack", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("mixstack serve exited")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("mixstack serve did not come up")


FAKE = [
    {"name": "fake/echo", "provider": "fake"},
    {
        "name": "fake/remote",
        "provider": "fake",
        "locality": "remote",
        "replies": [{"text": "rented answer"}],
    },
]


def _probe(url: str, until: threading.Event, health: list[float], chats: list[float]) -> None:
    """A health check and a small chat request every 5 ms, timed, until `until` is set."""
    small = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=600) as http:
        while not until.is_set():
            t = time.perf_counter()
            http.get(f"{url}/health")
            health.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            http.post(f"{url}/v1/chat/completions", json=small)
            chats.append((time.perf_counter() - t) * 1000)
            time.sleep(0.005)


def stall(prompt_mb: float, work: Path) -> tuple[float, float, float]:
    """(worst health ms, worst chat ms) while a large prompt is scanned, and the worst
    health ms of the same probe with nothing else going on (this machine's noise)."""
    config = work / "stall.yaml"
    config.write_text(yaml.safe_dump({"models": FAKE, "gateway": {"auth": "off"}}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(config, port, work / "stall-home")
    line = "Dear team, the meeting moved to room 4.12 at 10:30; bring the Q3 notes. "
    prompt = line * int(prompt_mb * 1_000_000 / len(line)) + "Reach me at jane@example.org."
    try:
        _wait_up(url, proc)
        quiet_health: list[float] = []
        quiet = threading.Event()
        threading.Timer(2.0, quiet.set).start()
        _probe(url, quiet, quiet_health, [])
        health: list[float] = []
        chats: list[float] = []
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def big() -> None:
            body = {"model": "fake/remote", "messages": [{"role": "user", "content": prompt}]}
            answer = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=600)
            outcome["status"] = answer.status_code
            done.set()

        prober = threading.Thread(target=_probe, args=(url, done, health, chats))
        prober.start()
        time.sleep(0.2)
        started = time.perf_counter()
        big()
        took = time.perf_counter() - started
        prober.join()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    slow = sorted(round(h) for h in health if h > 50)
    print(
        f"  health during the scan: p50 {statistics.median(health):.1f} ms, over 50 ms: "
        f"{slow or 'none'}; quiet p50 {statistics.median(quiet_health):.1f} ms"
    )
    print(
        f"stall: a {prompt_mb:g} MB prompt with an email took {took:.1f} s (HTTP "
        f"{outcome['status']}: refused, it may not leave); meanwhile "
        f"{len(health)} health checks (max {max(health):.1f} ms) and small chats (max "
        f"{max(chats):.1f} ms); with nothing else going on health took up to "
        f"{max(quiet_health):.1f} ms"
    )
    return max(health), max(chats), max(quiet_health)


def _load_until_killed(
    url: str,
    proc: subprocess.Popen[bytes],
    body: dict[str, Any],
    acknowledged: list[str],
    target: int,
) -> None:
    """8 clients load the server; it is killed once `target` calls are acknowledged."""
    killed = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while not killed.is_set():
                try:
                    answer = http.post(f"{url}/v1/chat/completions", json=body)
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(answer.headers["x-mixstack-request-id"])
                        if len(acknowledged) >= target and not killed.is_set():
                            os.killpg(proc.pid, signal.SIGKILL)
                            killed.set()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    proc.wait()


def kills(count: int, work: Path) -> tuple[int, int, str]:
    config = work / "kill.yaml"
    config.write_text(yaml.safe_dump({"models": FAKE, "gateway": {"auth": "off"}}))
    home = work / "kill-home"
    acknowledged: list[str] = []
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(count):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _serve(config, port, home)
        _wait_up(url, proc)
        _load_until_killed(url, proc, body, acknowledged, len(acknowledged) + 300)
    env = {**os.environ, "MIXSTACK_HOME": str(home)}
    # opening the store replays the journals of the killed processes
    subprocess.run(
        [sys.executable, "-c", "from mixstack.store import open_store; open_store().close()"],
        env=env,
        check=True,
    )
    with sqlite3.connect(home / "mixstack.db") as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {r[0] for r in conn.execute("SELECT request_id FROM calls")}
    lost = sum(1 for i in acknowledged if i not in stored)
    print(
        f"kill -9: {count} kills, {len(acknowledged)} acknowledged calls, {lost} missing, "
        f"integrity {integrity}"
    )
    return lost, len(acknowledged), integrity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--prompt-mb", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MIXSTACK_HOME"] = str(work / "home")
        leaks, sent = canaries()
        over = overspend()
        worst_health, worst_chat, quiet_health = stall(args.prompt_mb, work)
        lost, acked, integrity = kills(args.kills, work)
    verdict = (
        "ok"
        if leaks == 0 and over <= 1 and worst_health < 50 and worst_chat < 100 and lost == 0
        else "TARGET MISSED"
    )
    print(
        f"canaries_leaked={leaks}/{sent} overspend_holds={over:.2f} "
        f"max_health_ms={worst_health:.1f} max_stall_ms={worst_chat:.1f} "
        f"quiet_health_ms={quiet_health:.1f} "
        f"rows_lost={lost}/{acked} integrity={integrity} verdict={verdict}"
    )


if __name__ == "__main__":
    main()
