"""Gateway replicas: SQLite (1 and 2 workers) vs PostgreSQL + Redis (1 and 2 replicas).

    python bench/replicas.py [--requests 1000]

Starts the fast fake upstream of bench/gateway.py, a PostgreSQL and a Redis of their own
(from the Debian packages, in temp dirs, as the tests do), then every setup at once, each
with a key that has a USD budget and an rpm limit (so every request takes a budget hold and a
rate window entry), and drives them with the keep-alive load generator of bench/gateway.py.
With PostgreSQL + Redis a keyed request makes one Redis round trip (admission and hold in
one script; settlements ride with the next batch).

A shared virtual machine's speed drifts (wake-ups and system calls 3x slower within a day,
seen here), so the latency at concurrency 1 is measured in rounds: each round sends a share
of the requests straight to the upstream, then to each setup in turn, and the added latency
is each setup's p50 (p99) over all rounds minus the upstream's own (the idle setups' own
background work, heartbeats and the like, goes on meanwhile, alike for all). Then, one setup at a
time, the requests per second at concurrency 64 and the requests per CPU-second of the
gateway processes (the database servers' CPU is not counted: they run on the same machine).

LiteLLM's proxy is not measured here: with a database it needs Prisma, whose query engine
is downloaded at first run, and this machine has no network beyond the package indexes.

Ends with one summary line:
    sqlite1_added_p50_ms=… pg_redis1_added_p50_ms=… sqlite1_rps=… sqlite2_rps=…
    pg_redis1_rps=… pg_redis2_rps=… pg_redis1_rps_per_cpu_s=… sqlite1_rps_per_cpu_s=…
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

from gateway import BODY, MODEL, Connection, cpu_seconds, free_port, pct, wait_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mixstack.guard._keys import KeyStore  # noqa: E402
from mixstack.store import open_store  # noqa: E402
from tests.services import Replicas, postgres_server, redis_server  # noqa: E402


class KeyedConnection(Connection):
    """The load generator's connection, with a real key."""

    def __init__(self, port: int, secret: str):
        super().__init__(port)
        self.request = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            f"content-type: application/json\r\nauthorization: Bearer {secret}\r\n"
            f"content-length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY


async def load(
    ports: list[int], secret: str, concurrency: int, total: int
) -> tuple[list[float], float]:
    conns = [KeyedConnection(ports[i % len(ports)], secret) for i in range(concurrency)]
    latencies: list[float] = []
    remaining = total

    async def worker(conn: KeyedConnection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status = await conn.call()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"a request failed with HTTP {status}")

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall = time.perf_counter() - began
    for conn in conns:
        if conn.writer is not None:
            conn.writer.close()
    return latencies, wall


def _tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn's workers are children of its supervisor)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        one = todo.pop()
        found.append(one)
        todo.extend(children.get(one, []))
    return found


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for root in pids:
        for pid in _tree(root):
            with suppress(OSError):
                total += cpu_seconds(pid)
    return total


ROUNDS = 5


def throughput(ports: list[int], pids: list[int], secret: str, total: int) -> dict[str, float]:
    """Requests per second at concurrency 64, and per CPU-second of the gateway."""
    cpu = _cpu(pids)
    _, wall = asyncio.run(load(ports, secret, 64, total))
    cpu = _cpu(pids) - cpu
    return {"rps": total / wall, "rps_per_cpu_s": total / cpu if cpu > 0 else float("nan")}


def _setups(
    tmp: Path, upstream: int, stack: ExitStack
) -> Iterator[tuple[str, dict[str, str], int, int]]:
    """(name, environment, workers per replica, replicas)."""
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    base.pop("MIXSTACK_CONFIG", None)
    yield "sqlite1", {**base, "MIXSTACK_HOME": str(tmp / "sqlite1")}, 1, 1
    yield "sqlite2", {**base, "MIXSTACK_HOME": str(tmp / "sqlite2")}, 2, 1
    pg = stack.enter_context(postgres_server())
    redis = stack.enter_context(redis_server())
    shared = {**base, "MIXSTACK_STORE": pg.url, "MIXSTACK_REDIS": redis.url}
    yield "pg_redis1", {**shared, "MIXSTACK_HOME": str(tmp / "pg1")}, 1, 1
    yield "pg_redis2", {**shared, "MIXSTACK_HOME": str(tmp / "pg2")}, 1, 2


def _wake_ups(redis_url: str) -> tuple[float, float]:
    """Redis PING round trips (p50, ms) back to back, and after 2 ms idle: on a virtual
    machine a CPU that went idle takes a while to wake, and every wait in a request at
    concurrency 1 (client, upstream, Redis, PostgreSQL) pays it."""
    url = urllib.parse.urlsplit(redis_url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        figures = []
        for idle in (0.0, 0.002):
            trips = []
            for _ in range(300):
                if idle:
                    time.sleep(idle)
                began = time.perf_counter()
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                sock.recv(64)
                trips.append(time.perf_counter() - began)
            figures.append(pct(trips, 0.5))
    return figures[0], figures[1]


def _python_speed() -> float:
    began, total = time.perf_counter(), 0
    for n in range(10_000_000):
        total += n
    return time.perf_counter() - began


def run(total: int) -> dict[str, float]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mixstack-replicas-") as name, ExitStack() as stack:
        tmp = Path(name)
        up_port = free_port()
        up = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "gateway.py"), "--upstream", str(up_port)]
        )
        stack.callback(up.terminate)
        wait_port(up_port, up, "the fake upstream")
        config = tmp / "mixstack.yaml"
        config.write_text(
            json.dumps(
                {
                    "default_model": MODEL,
                    "models": [
                        {
                            "name": MODEL,
                            "provider": "openai",
                            "upstream_model": "up-model",
                            "base_url": f"http://127.0.0.1:{up_port}/v1",
                            "locality": "on-prem",
                            "price": {"input_per_1m": 0.01, "output_per_1m": 0.01},
                        }
                    ],
                }
            )
        )
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"10M Python additions in {_python_speed():.2f} s")
        running: dict[str, tuple[Replicas, str]] = {}
        redis_url = ""
        for setup, env, workers, count in _setups(tmp, up_port, stack):
            redis_url = env.get("MIXSTACK_REDIS", redis_url)
            with open_store(env.get("MIXSTACK_STORE"), home=Path(env["MIXSTACK_HOME"])) as store:
                secret, _ = KeyStore(store).create(name="bench", budget_usd=1e6, rpm=10**7)
            replicas = stack.enter_context(Replicas(config, env, count, workers=workers))
            # warm up every replica and worker
            asyncio.run(load(replicas.ports, secret, 8, min(200, total)))
            running[setup] = (replicas, secret)
        share = max(1, total // ROUNDS)
        direct: list[float] = []
        one: dict[str, list[float]] = {setup: [] for setup in running}
        for _ in range(ROUNDS):
            direct += asyncio.run(load([up_port], "none", 1, share))[0]
            for setup, (replicas, secret) in running.items():
                one[setup] += asyncio.run(load(replicas.ports, secret, 1, share))[0]
        print(
            f"direct upstream at c=1: p50 {pct(direct, 0.5):.3f} ms, p99 {pct(direct, 0.99):.3f}"
            f" ms ({ROUNDS} rounds of {share} requests, each setup in turn)"
        )
        busy, woken = _wake_ups(redis_url)
        print(f"Redis round trip p50: {busy:.3f} ms back to back, {woken:.3f} ms after 2 ms idle")
        print(f"{'setup':10} {'+p50 ms':>8} {'+p99 ms':>8} {'req/s c=64':>11} {'req/CPU-s':>10}")
        for setup, (replicas, secret) in running.items():
            r = throughput(replicas.ports, [p.pid for p in replicas.procs], secret, total)
            r["added_p50"] = pct(one[setup], 0.5) - pct(direct, 0.5)
            r["added_p99"] = pct(one[setup], 0.99) - pct(direct, 0.99)
            results[setup] = r
            print(
                f"{setup:10} {r['added_p50']:8.3f} {r['added_p99']:8.3f} {r['rps']:11.0f} "
                f"{r['rps_per_cpu_s']:10.0f}"
            )
    return {
        "sqlite1_added_p50_ms": results["sqlite1"]["added_p50"],
        "pg_redis1_added_p50_ms": results["pg_redis1"]["added_p50"],
        "pg_redis1_added_p99_ms": results["pg_redis1"]["added_p99"],
        "sqlite1_rps": results["sqlite1"]["rps"],
        "sqlite2_rps": results["sqlite2"]["rps"],
        "pg_redis1_rps": results["pg_redis1"]["rps"],
        "pg_redis2_rps": results["pg_redis2"]["rps"],
        "sqlite1_rps_per_cpu_s": results["sqlite1"]["rps_per_cpu_s"],
        "pg_redis1_rps_per_cpu_s": results["pg_redis1"]["rps_per_cpu_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per setup and level")
    fields = run(parser.parse_args().requests)
    print(" ".join(f"{k}={v:.3f}" if "ms" in k else f"{k}={v:.0f}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
