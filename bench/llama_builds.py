"""Compare llama-cpp-python builds (one wheel each): correct on this CPU, and how fast?

Each wheel is unpacked into its own folder and measured in its own process, rounds
alternating between builds so that load on a shared machine hits all of them alike:
- the build self-check (greedy decoding of fixed prompts on both embedded models), and
- decode tokens/s of raw llama-cpp-python on each embedded model (greedy, 64 tokens,
  median of the rounds), with the thread count given.

    .venv/bin/python bench/llama_builds.py NAME=WHEEL [NAME=WHEEL ...] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = r"""
import json, sys, time
import llama_cpp
from mixstack.providers.local import _embedded as embedded
threads = int(sys.argv[1])
out = {}
for name, path in (("smollm2", embedded.smollm2_path()), ("gemma3", embedded.gemma3_path())):
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    tokens = llm.tokenize(b"Write a short story about a lighthouse keeper.", add_bos=True)
    llm.create_completion(tokens, max_tokens=4, temperature=0.0)  # warm up
    start = time.perf_counter()
    count = 0
    for _ in llm.create_completion(tokens, max_tokens=64, temperature=0.0, stream=True):
        count += 1
    out[name] = count / (time.perf_counter() - start)
print(json.dumps(out))
"""


def unpack(wheel: Path, into: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(into),
            str(wheel),
        ],
        check=True,
    )


def run(site: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    src = Path(__file__).resolve().parent.parent / "src"
    env_path = f"{site}:{src}"
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        check=False,
        timeout=900,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", help="NAME=path/to/llama_cpp_python-*.whl")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llama-builds-"))
    sites: dict[str, Path] = {}
    for spec in opts.builds:
        name, _, wheel = spec.partition("=")
        sites[name] = tmp / name
        unpack(Path(wheel), sites[name])
    correct: dict[str, str] = {}
    for name, site in sites.items():
        proc = run(site, ["-m", "mixstack.providers.local._selfcheck"])
        if proc.returncode < 0:
            correct[name] = f"crashed (signal {-proc.returncode})"
            continue
        try:
            check = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            correct[name] = f"failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
            continue
        got = [r["got"] for r in check["results"]]
        correct[name] = "correct" if check["ok"] else f"WRONG: {got}"
        print(f"{name}: {correct[name]}; {check['system_info']}", flush=True)
    speeds: dict[str, dict[str, list[float]]] = {n: {"smollm2": [], "gemma3": []} for n in sites}
    for round_no in range(opts.rounds):
        for name, site in sites.items():
            if correct[name] != "correct":
                continue
            proc = run(site, ["-c", MEASURE, str(opts.threads)])
            if proc.returncode != 0:
                print(f"{name}: round {round_no} failed: {proc.stderr[-300:]}", flush=True)
                continue
            for model, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
                speeds[name][model].append(value)
    summary = []
    for name in sites:
        smol = statistics.median(speeds[name]["smollm2"]) if speeds[name]["smollm2"] else 0.0
        gemma = statistics.median(speeds[name]["gemma3"]) if speeds[name]["gemma3"] else 0.0
        print(f"{name}: {correct[name]}; smollm2 {smol:.1f} tok/s, gemma3 {gemma:.1f} tok/s")
        summary.append(f"{name}_smollm2_tps={smol:.1f} {name}_gemma3_tps={gemma:.1f}")
    print(f"threads={opts.threads} rounds={opts.rounds} " + " ".join(summary))


if __name__ == "__main__":
    main()
