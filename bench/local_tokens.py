"""Local inference through mixstack vs raw llama-cpp-python on the same GGUF.

Same file, prompt tokens (the GGUF's chat template), threads, context size, max_tokens
and greedy sampling, both streamed; each side runs in its own process, rounds alternate
between the two, medians are reported.
Target: mixstack tokens/s >= 0.95 x raw.

    .venv/bin/python bench/local_tokens.py [--runs 7] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from llama_cpp import Llama

from mixstack._types import Request, SamplingParams
from mixstack.config import Config
from mixstack.pipeline import Pipeline
from mixstack.providers.local import _embedded as embedded
from mixstack.providers.local import _engine as engine

MODEL = "local/smollm2-135m-instruct"
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def raw_run(llm: Llama, tokens: list[int], max_tokens: int) -> tuple[int, float, float]:
    start = time.perf_counter()
    first = None
    count = 0
    for chunk in llm.create_completion(
        prompt=tokens, max_tokens=max_tokens, temperature=0.0, stream=True, stop=["<|im_end|>"]
    ):
        if chunk["choices"][0]["text"]:
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return count, (first - start) * 1000, count / (end - start)


async def mixstack_run(pipeline: Pipeline, max_tokens: int) -> tuple[int, float, float]:
    request = Request.from_prompt(
        PROMPT, params=SamplingParams(max_tokens=max_tokens, temperature=0.0)
    )
    start = time.perf_counter()
    first = None
    count = 0
    call = await pipeline.open_stream(request, front_door="bench")
    async for chunk in call:
        if chunk.text:
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return count, (first - start) * 1000, count / (end - start)


async def mixstack_side(runs: int, max_tokens: int) -> list[tuple[int, float, float]]:
    async with Pipeline(Config(), record=False) as pipeline:
        await mixstack_run(pipeline, 8)  # warm-up (loads the model)
        return [await mixstack_run(pipeline, max_tokens) for _ in range(runs)]


async def raw_side(runs: int, max_tokens: int) -> list[tuple[int, float, float]]:
    # the same prompt tokens mixstack sends: the GGUF's chat template, rendered by mixstack
    async with Pipeline(Config(), record=False) as pipeline:
        entry = pipeline.catalog.get(MODEL)
        loaded = pipeline.catalog.provider_for(entry).loaded(entry)  # type: ignore[attr-defined]
        prompt, _stop = loaded.render(Request.from_prompt(PROMPT).messages)
        tokens = loaded.tokenize(prompt)
        n_ctx = entry.context_window
    engine.close_all()
    threads = os.cpu_count() or 1
    raw = Llama(
        model_path=str(embedded.smollm2_path()),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    raw_run(raw, tokens, 8)  # warm-up
    out = [raw_run(raw, tokens, max_tokens) for _ in range(runs)]
    raw.close()
    return out


def run_side(side: str, runs: int, max_tokens: int) -> list[tuple[int, float, float]]:
    """One side in a fresh process, so neither inherits the other's llama.cpp state."""
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--side",
            side,
            "--runs",
            str(runs),
            "--max-tokens",
            str(max_tokens),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [tuple(r) for r in json.loads(proc.stdout.strip().splitlines()[-1])]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8, help="runs per side, in two rounds")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--side", choices=["mixstack", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side = mixstack_side if args.side == "mixstack" else raw_side
        print(json.dumps(asyncio.run(side(args.runs, args.max_tokens))))
        return

    # rounds alternate the two sides, each in its own process
    ours: list[tuple[int, float, float]] = []
    theirs: list[tuple[int, float, float]] = []
    half = max(1, args.runs // 2)
    for _round in range(2):
        ours += run_side("mixstack", half, args.max_tokens)
        theirs += run_side("raw", half, args.max_tokens)
    for i, (m, r) in enumerate(zip(ours, theirs, strict=True)):
        print(
            f"run {i + 1}: mixstack {m[2]:.1f} tok/s ttft {m[1]:.1f} ms ({m[0]} tokens) | "
            f"raw {r[2]:.1f} tok/s ttft {r[1]:.1f} ms ({r[0]} tokens)"
        )

    m_tok = statistics.median(r[2] for r in ours)
    r_tok = statistics.median(r[2] for r in theirs)
    m_ttft = statistics.median(r[1] for r in ours)
    r_ttft = statistics.median(r[1] for r in theirs)
    print(f"threads={os.cpu_count()} max_tokens={args.max_tokens} runs={len(ours)} per side")
    print(
        f"mixstack_tok_s={m_tok:.1f} raw_tok_s={r_tok:.1f} ratio={m_tok / r_tok:.3f} "
        f"mixstack_ttft_ms={m_ttft:.1f} raw_ttft_ms={r_ttft:.1f}"
    )


if __name__ == "__main__":
    main()
