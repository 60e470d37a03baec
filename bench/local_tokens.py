"""Local inference through mixstack vs raw llama-cpp-python on the same GGUF.

Same file, prompt (rendered with the GGUF's chat template), threads, context size,
max_tokens and greedy sampling; runs alternate between the two; medians are reported.
Target: mixstack tokens/s >= 0.95 x raw.

    .venv/bin/python bench/local_tokens.py [--runs 7] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from llama_cpp import Llama

from mixstack.config import Config
from mixstack.pipeline import Pipeline
from mixstack.providers.local import embedded
from mixstack.types import Request, SamplingParams

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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    threads = os.cpu_count() or 1

    async with Pipeline(Config(), record=False) as pipeline:
        entry = pipeline.catalog.get("local/smollm2-135m-instruct")
        loaded = pipeline.catalog.provider_for(entry).loaded(entry)  # type: ignore[attr-defined]
        prompt, _stop = loaded.render(Request.from_prompt(PROMPT).messages)
        tokens = loaded.tokenize(prompt)
        raw = Llama(
            model_path=str(embedded.smollm2_path()),
            n_ctx=entry.context_window,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        # warm-up both
        raw_run(raw, tokens, 8)
        await mixstack_run(pipeline, 8)
        ours: list[tuple[int, float, float]] = []
        theirs: list[tuple[int, float, float]] = []
        for i in range(args.runs):
            ours.append(await mixstack_run(pipeline, args.max_tokens))
            theirs.append(raw_run(raw, tokens, args.max_tokens))
            print(
                f"run {i + 1}: mixstack {ours[-1][2]:.1f} tok/s ttft {ours[-1][1]:.1f} ms "
                f"({ours[-1][0]} tokens) | raw {theirs[-1][2]:.1f} tok/s "
                f"ttft {theirs[-1][1]:.1f} ms ({theirs[-1][0]} tokens)"
            )
        raw.close()

    m_tok = statistics.median(r[2] for r in ours)
    r_tok = statistics.median(r[2] for r in theirs)
    m_ttft = statistics.median(r[1] for r in ours)
    r_ttft = statistics.median(r[1] for r in theirs)
    print(f"threads={threads} max_tokens={args.max_tokens} runs={args.runs}")
    print(
        f"mixstack_tok_s={m_tok:.1f} raw_tok_s={r_tok:.1f} ratio={m_tok / r_tok:.3f} "
        f"mixstack_ttft_ms={m_ttft:.1f} raw_ttft_ms={r_ttft:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
