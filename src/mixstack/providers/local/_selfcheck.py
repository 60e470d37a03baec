"""Does the installed llama.cpp compute correctly on this CPU? Greedy decoding of fixed prompts.

A llama.cpp built for the wrong CPU either crashes (SIGSEGV/SIGILL in `llama_decode`) or
quietly computes garbage; both look like a model problem to a user. Each probe greedily
decodes a fixed prompt on an embedded model and compares the token text with what a
correct build gives. The prompts were chosen so that each expected token wins by a wide
logit margin: correct builds with different SIMD kernels agree, a miscompiled one does not.

The check runs in a child process (`python -m mixstack.providers.local._selfcheck`), so a
crash becomes a report with the signal's name instead of killing the caller.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PROBES",
    "Probe",
    "ProbeResult",
    "SelfCheck",
    "run_in_subprocess",
    "run_probes",
]

#: what to tell a user whose build fails the check
BUILD_FIX = (
    "llama-cpp-python was probably compiled for the wrong CPU (a native -march build, or a "
    "wheel cached from another machine). Rebuild it with the project's portable flags: "
    "`make clean-llama && make demo` (or `make test`)."
)


@dataclass(frozen=True, slots=True)
class Probe:
    """A prompt and the continuation every correct build decodes greedily."""

    model: str
    prompt: str
    expected: str


#: one or two probes per embedded model; `expected` is the exact greedy continuation
PROBES: tuple[Probe, ...] = (
    Probe("local/smollm2-135m-instruct", "The capital of France is", " Paris."),
    Probe(
        "local/smollm2-135m-instruct",
        "1, 2, 3, 4, 5, 6,",
        " 7, 8, 9, 10",
    ),
    Probe("local/gemma3-270m", "Monday, Tuesday, Wednesday,", " Thursday, Friday, Saturday"),
)


@dataclass(slots=True)
class ProbeResult:
    model: str
    prompt: str
    expected: str
    got: str
    ok: bool
    tokens_per_s: float
    min_margin: float
    error: str | None = None


@dataclass(slots=True)
class SelfCheck:
    """The outcome of the probes: `ok` only when every probe decoded as expected."""

    ok: bool
    results: list[ProbeResult] = field(default_factory=list)
    crashed: str | None = None
    system_info: str = ""

    @property
    def message(self) -> str:
        if self.crashed:
            return f"the llama.cpp backend crashed ({self.crashed}). {BUILD_FIX}"
        bad = [r for r in self.results if not r.ok]
        if not bad:
            return "every probe decoded as expected"
        first = bad[0]
        if first.error:
            return f"{first.model}: {first.error}"
        return (
            f"{first.model} decoded {first.prompt!r} -> {first.got!r}, expected "
            f"{first.expected!r}: the backend computes wrong results. {BUILD_FIX}"
        )


def _model_path(name: str) -> Path:
    from mixstack.providers.local import _embedded as embedded

    return embedded.smollm2_path() if name == embedded.SMOLLM2 else embedded.gemma3_path()


def _greedy(llm: Any, prompt: str, n_tokens: int) -> tuple[str, float, float]:
    """Greedy continuation, decode tokens/s, and the smallest top-1 over top-2 logit margin."""
    import llama_cpp
    import numpy as np

    llm.reset()
    llm.eval(llm.tokenize(prompt.encode(), add_bos=True, special=False))
    out: list[int] = []
    margin = float("inf")
    start = time.perf_counter()
    for _ in range(n_tokens):
        # the last position's logits, read in place (llm.scores copies the whole matrix)
        pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),))
        second, first = np.argpartition(logits, -2)[-2:]
        if logits[second] > logits[first]:
            first, second = second, first
        margin = min(margin, float(logits[first] - logits[second]))
        out.append(int(first))
        llm.eval([int(first)])
    elapsed = time.perf_counter() - start
    text = llm.detokenize(out).decode("utf-8", errors="replace")
    return text, n_tokens / elapsed if elapsed > 0 else 0.0, margin


def run_probes(probes: tuple[Probe, ...] = PROBES) -> SelfCheck:
    """Run the probes in this process (a miscompiled backend may crash it: see below)."""
    import llama_cpp

    results: list[ProbeResult] = []
    loaded: dict[str, Any] = {}
    for probe in probes:
        try:
            llm = loaded.get(probe.model)
            if llm is None:
                llm = llama_cpp.Llama(
                    model_path=str(_model_path(probe.model)),
                    n_ctx=256,
                    n_threads=min(os.cpu_count() or 1, 4),
                    verbose=False,
                )
                loaded[probe.model] = llm
            n_tokens = len(llm.tokenize(probe.expected.encode(), add_bos=False, special=False))
            got, speed, margin = _greedy(llm, probe.prompt, max(n_tokens, 1))
        except Exception as exc:  # a missing file or a load failure is a result, not a crash
            results.append(
                ProbeResult(
                    probe.model, probe.prompt, probe.expected, "", False, 0.0, 0.0, str(exc)
                )
            )
            continue
        ok = got == probe.expected
        results.append(
            ProbeResult(probe.model, probe.prompt, probe.expected, got, ok, speed, margin)
        )
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
    return SelfCheck(ok=all(r.ok for r in results), results=results, system_info=info)


def run_in_subprocess(timeout: float = 300, command: list[str] | None = None) -> SelfCheck:
    """Run the probes in a child process; a crash or a hang is reported, not inherited.

    `command` replaces the child's command line (the default runs this module's `main`).
    """
    try:
        proc = subprocess.run(
            command or [sys.executable, "-m", "mixstack.providers.local._selfcheck"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SelfCheck(ok=False, crashed=f"no answer within {timeout:g} s")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return SelfCheck(ok=False, crashed=f"killed by {name}")
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return SelfCheck(ok=False, crashed=f"exit {proc.returncode}: {detail}")
    results = [ProbeResult(**item) for item in data["results"]]
    return SelfCheck(ok=data["ok"], results=results, system_info=data["system_info"])


def main() -> None:
    check = run_probes()
    print(json.dumps({**asdict(check), "results": [asdict(r) for r in check.results]}))


if __name__ == "__main__":
    main()
