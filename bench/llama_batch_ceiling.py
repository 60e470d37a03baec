"""What llama.cpp itself can give batched decoding on this machine: the throughput ceiling.

No mixstack code runs in the timed part: one llama.cpp context with a KV-cache stream per
sequence (as the batched engine makes it), B sequences each given a short prompt, then
`steps` decode calls of one token per sequence. Aggregate tokens/s at B = 1, 2, 4, 8 are
measured in alternating rounds (so a change of machine load hits every B alike), for each
model and thread count. Whatever scheduler runs on top, the gateway's aggregate at c
concurrent streams cannot pass the ratio printed here for B = c.

    .venv/bin/python bench/llama_batch_ceiling.py [--threads 1,2] [--steps 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llama_cpp as lc
from llama_cpp._utils import suppress_stdout_stderr

from mixstack.providers.local import _embedded as embedded

SIZES = (1, 2, 4, 8)
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


class Ceiling:
    """One model, one thread count: a context with a cache stream per sequence."""

    def __init__(self, model: Any, threads: int):
        params = lc.llama_context_default_params()
        params.n_ctx = max(SIZES) * 512
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = max(SIZES)
        params.kv_unified = False
        params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = lc.llama_init_from_model(model, params)
        if not self.ctx:
            raise SystemExit("llama.cpp could not create the context")
        self.mem = lc.llama_get_memory(self.ctx)
        vocab = lc.llama_model_get_vocab(model)
        buf = (lc.llama_token * 256)()
        n = lc.llama_tokenize(vocab, PROMPT.encode(), len(PROMPT.encode()), buf, 256, True, True)
        self.prompt = list(buf[:n])
        self.batch = lc.llama_batch_init(512, 0, 1)

    def _add(self, token: int, pos: int, seq: int, logits: bool) -> None:
        b = self.batch
        i = b.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i] = token, pos, 1
        b.seq_id[i][0] = seq
        b.logits[i] = logits
        b.n_tokens = i + 1

    def _decode(self) -> None:
        if lc.llama_decode(self.ctx, self.batch) != 0:
            raise SystemExit("llama_decode failed")
        self.batch.n_tokens = 0

    def tokens_per_s(self, size: int, steps: int) -> float:
        lc.llama_memory_clear(self.mem, True)
        for seq in range(size):  # prefill, not timed
            for pos, token in enumerate(self.prompt):
                self._add(token, pos, seq, pos == len(self.prompt) - 1)
            self._decode()
        start = time.perf_counter()
        for step in range(steps):
            for seq in range(size):  # one token per sequence (a fixed id: sampling is not timed)
                self._add(self.prompt[step % len(self.prompt)], len(self.prompt) + step, seq, True)
            self._decode()
        return size * steps / (time.perf_counter() - start)

    def close(self) -> None:
        lc.llama_batch_free(self.batch)
        lc.llama_free(self.ctx)


def measure(path: Path, threads: int, steps: int, rounds: int) -> dict[int, float]:
    params = lc.llama_model_default_params()
    with suppress_stdout_stderr(disable=False):  # llama.cpp's set-up chatter
        model = lc.llama_model_load_from_file(str(path).encode(), params)
        ceiling = Ceiling(model, threads)
    try:
        ceiling.tokens_per_s(1, 4)  # warm-up
        runs: dict[int, list[float]] = {size: [] for size in SIZES}
        for _ in range(rounds):
            for size in SIZES:
                runs[size].append(ceiling.tokens_per_s(size, steps))
        return {size: statistics.median(values) for size, values in runs.items()}
    finally:
        ceiling.close()
        lc.llama_model_free(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lc.llama_backend_init()
    models: dict[str, Callable[[], Path]] = {
        "smollm2": embedded.smollm2_path,
        "gemma3": embedded.gemma3_path,
    }
    summary = []
    for name, locate in models.items():
        for threads in (int(t) for t in args.threads.split(",")):
            rates = measure(locate(), threads, args.steps, args.rounds)
            shown = ", ".join(f"B={b} {r:.1f}" for b, r in rates.items())
            print(f"{name}, {threads} thread(s): aggregate tok/s {shown}")
            x4, x8 = rates[4] / rates[1], rates[8] / rates[1]
            print(f"  ceiling: B=4 {x4:.2f}x B=1, B=8 {x8:.2f}x B=1 (targets 2x and 2.5x)")
            summary.append(f"{name}_t{threads}_x4={x4:.2f} {name}_t{threads}_x8={x8:.2f}")
    print(" ".join(summary))


if __name__ == "__main__":
    main()
