"""Gateway overhead: direct to a fake upstream vs `mixstack serve` vs the LiteLLM proxy.

    python bench/gateway.py [--requests 2000] [--rss-requests 100000] [--skip-litellm]

Starts a fast fake OpenAI-compatible upstream (uvicorn + httptools, a raw ASGI app), then
`mixstack serve` and the LiteLLM proxy in front of the same upstream, and drives each with a
keep-alive async load generator (raw HTTP/1.1 over asyncio streams, so the client costs
little) at concurrency 1, 16 and 64. LiteLLM is installed only in its own venv
(bench/.venv-litellm, pinned version, git-ignored), with logging and its database off.

Prints a table and ends with one summary line:
    added_p50_ms=… added_p99_ms=… rps=… litellm_added_p50_ms=… litellm_rps=… rss_growth_pct=…
added latency is gateway minus direct at concurrency 1; rps is at concurrency 64.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LITELLM_PIN = "litellm[proxy]==1.80.17"
LITELLM_VENV = HERE / ".venv-litellm"
MODEL = "bench/fast"
LEVELS = (1, 16, 64)

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris is the capital of France."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
).encode()

BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "What is the capital of France?"}]}
).encode()


# -- the fake upstream (runs in its own process) ----------------------------------------------


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(ANSWER)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


def run_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(
        upstream_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {timeout:.0f} s")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def ensure_litellm() -> Path | None:
    """The LiteLLM proxy in its own venv; None (with the reason printed) if it cannot be had."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if binary.exists():
        return binary
    print(f"installing {LITELLM_PIN} into {LITELLM_VENV} (once) …", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", LITELLM_PIN],
            check=True,
            timeout=1200,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"LiteLLM could not be installed: {exc}", flush=True)
        return None
    return binary if binary.exists() else None


def start_litellm(
    binary: Path, upstream: int, workdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": "openai/up-model",
                            "api_base": f"http://127.0.0.1:{upstream}/v1",
                            "api_key": "bench",
                        },
                    }
                ],
                "litellm_settings": {
                    "set_verbose": False,
                    "json_logs": False,
                    "turn_off_message_logging": True,
                    "drop_params": True,
                },
                "general_settings": {"disable_spend_logs": True, "disable_error_logs": True},
            }
        )
    )
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_SCHEMA_UPDATE": "True",
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    wait_port(port, proc, "the LiteLLM proxy", timeout=180)
    return proc, port


def start_mixstack(upstream: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "mixstack.yaml"
    config.write_text(
        json.dumps(
            {
                "default_model": MODEL,
                "models": [
                    {
                        "name": MODEL,
                        "provider": "openai",
                        "base_url": f"http://127.0.0.1:{upstream}/v1",
                        "upstream_model": "up-model",
                        "locality": "on-prem",
                    }
                ],
            }
        )
    )
    env = {**os.environ, "MIXSTACK_HOME": str(workdir / "home")}
    env.pop("MIXSTACK_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixstack", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc, "mixstack serve")
    return proc, port


# -- the load generator ------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending the same POST again and again."""

    def __init__(self, port: int):
        self.port = port
        self.request = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            "content-type: application/json\r\nauthorization: Bearer bench\r\n"
            f"content-length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status


async def load(port: int, concurrency: int, total: int) -> tuple[list[float], float, int]:
    """Latencies (s), wall time (s) and the number of non-200 answers."""
    connections = [Connection(port) for _ in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def worker(conn: Connection) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status = await conn.call()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    wall = time.perf_counter() - began
    for conn in connections:
        if conn.writer is not None:
            conn.writer.close()
    return latencies, wall, errors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(port: int, concurrency: int, total: int, pid: int) -> dict[str, float]:
    asyncio.run(load(port, concurrency, min(200, total)))  # warm up
    cpu = cpu_seconds(pid)
    latencies, wall, errors = asyncio.run(load(port, concurrency, total))
    cpu = cpu_seconds(pid) - cpu
    if errors:
        raise SystemExit(f"{errors} of {total} requests failed on port {port}")
    return {
        "p50": pct(latencies, 0.50),
        "p99": pct(latencies, 0.99),
        "mean": statistics.fmean(latencies) * 1000,
        "rps": total / wall,
        "cpu_ms": cpu / total * 1000,
    }


# -- main ----------------------------------------------------------------------------------


def start_targets(
    args: argparse.Namespace, workdir: Path, procs: list[subprocess.Popen[bytes]]
) -> tuple[dict[str, tuple[int, int]], str]:
    """Start the upstream, `mixstack serve` and (unless skipped) LiteLLM; name -> (port, pid)."""
    up_port = free_port()
    up = subprocess.Popen([sys.executable, __file__, "--upstream", str(up_port)])
    procs.append(up)
    wait_port(up_port, up, "the fake upstream")
    gw, gw_port = start_mixstack(up_port, workdir)
    procs.append(gw)
    targets = {"direct": (up_port, up.pid), "mixstack": (gw_port, gw.pid)}
    if args.skip_litellm:
        return targets, "skipped (--skip-litellm)"
    binary = ensure_litellm()
    if binary is None:
        return targets, "not installable here (see above)"
    ll, ll_port = start_litellm(binary, up_port, workdir)
    procs.append(ll)
    targets["litellm"] = (ll_port, ll.pid)
    return targets, LITELLM_PIN


def run(args: argparse.Namespace) -> dict[str, float]:
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mixstack-bench-") as tmp:
        try:
            targets, note = start_targets(args, Path(tmp), procs)
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(
                f"{'target':10} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} "
                f"{'server CPU ms/req':>18}"
            )
            for level in LEVELS:
                for name, (port, pid) in targets.items():
                    r = measure(port, level, args.requests, pid)
                    results[(name, level)] = r
                    print(
                        f"{name:10} {level:>4} {r['p50']:8.3f} {r['p99']:8.3f} {r['rps']:8.0f} "
                        f"{r['cpu_ms']:18.3f}"
                    )
            gw_port, gw_pid = targets["mixstack"]
            before = rss_kb(gw_pid)
            asyncio.run(load(gw_port, 64, args.rss_requests))
            after = rss_kb(gw_pid)
            print(
                f"mixstack serve RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB after "
                f"{args.rss_requests} requests"
            )
            print(f"litellm: {note}")
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    direct1, mix1 = results[("direct", 1)], results[("mixstack", 1)]
    litellm1, litellm64 = results.get(("litellm", 1)), results.get(("litellm", 64))
    nan = float("nan")
    return {
        "added_p50_ms": mix1["p50"] - direct1["p50"],
        "added_p99_ms": mix1["p99"] - direct1["p99"],
        "rps": results[("mixstack", 64)]["rps"],
        "litellm_added_p50_ms": litellm1["p50"] - direct1["p50"] if litellm1 else nan,
        "litellm_rps": litellm64["rps"] if litellm64 else nan,
        "rss_growth_pct": (after - before) / before * 100 if before else nan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per target and level")
    parser.add_argument("--rss-requests", type=int, default=100_000)
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        run_upstream(args.upstream)
        return
    fields = run(args)
    print(" ".join(f"{k}={v:.3f}" if "ms" in k else f"{k}={v:.1f}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
