"""Eval harness benchmark: mixstack vs Inspect AI vs promptfoo on one suite and one upstream.

The upstream is a fast fake OpenAI-compatible server on 127.0.0.1 (its own process), which
answers `What is A + B?` with the right sum after a 10 ms pause. Each tool runs the same N
cases at the same concurrency as a separate process; wall time and peak RSS are measured per
process. Inspect AI gets its own venv and promptfoo its own npm folder, both under
`bench/.evals-env/` (git-ignored), created here on first use.

    python bench/evals.py [--cases 500] [--big 20000] [--concurrency 16] [--skip-others]

`cached_speedup` compares the run itself, cold (one run on a fresh store) against fully cached
(the best of three reruns on that store, each into a new run directory): summary.json's
`started_at` to its `finished_at`. That window opens once the suite is checked, the store
opened and the run announced on stderr, and closes when the summary is computed. Inside it:
writing run.json and queuing the run's row for the store; every case read and validated
again, looked up in the response cache (one query per chunk of 128), scored and written to
results.jsonl; cold, every call through the pipeline; closing results.jsonl; the summary.
Left out, and the same work for both: the interpreter's start-up and imports, loading the
config and the suite, the check before any call (every case parsed, every request rendered
and its cache key computed, every scorer built), opening the store, the announcement line,
and, after the summary, writing summary.json and waiting for the store's writes (cold: the
calls' log rows) to commit. The process wall times, which include all of that, are printed
above it. The last line is the summary:
    mixstack_s=… inspect_s=… promptfoo_s=… cached_speedup=… rss_20k_mb=…
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENV_DIR = HERE / ".evals-env"
PROMPT = "What is {a} + {b}? Reply with the number only."
TEMPLATE = PROMPT.replace("{a}", "{{ a }}").replace("{b}", "{{ b }}")

UPSTREAM = r"""
import asyncio, re, sys, time
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

NUM = re.compile(r"What is (\d+) \+ (\d+)\?")

async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    text = body["messages"][-1]["content"]
    if isinstance(text, list):
        text = " ".join(p.get("text", "") for p in text)
    m = NUM.search(text)
    answer = str(int(m.group(1)) + int(m.group(2))) if m else "I do not know."
    await asyncio.sleep(0.01)
    return JSONResponse({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22},
    })

async def models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                        Route("/v1/models", models), Route("/chat/completions", chat,
                        methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake upstream did not start")


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"  command failed ({code}): {' '.join(cmd[:4])} …\n{err[-1500:]}\n{out[-500:]}")
    return wall, usage.ru_maxrss / 1024, code


def cases(n: int, seed: int = 7) -> list[dict[str, int]]:
    rng = random.Random(seed)
    return [{"a": rng.randint(1, 999), "b": rng.randint(1, 999)} for _ in range(n)]


# -- mixstack ---------------------------------------------------------------------------------


def mixstack_files(work: Path, rows: list[dict[str, int]], url: str, name: str) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    with (work / f"{name}.jsonl").open("w") as fh:
        for i, r in enumerate(rows):
            fh.write(json.dumps({"id": f"c{i}", "vars": r, "expected": r["a"] + r["b"]}) + "\n")
    (work / f"{name}.yaml").write_text(
        f"name: {name}\nmodels: [bench/fake]\ncases_file: {name}.jsonl\n"
        f"variants:\n  plain: {json.dumps(TEMPLATE)}\n"
        "defaults:\n  params: {max_tokens: 8, temperature: 0}\n  scorers: [numeric]\n"
    )
    (work / "mixstack.yaml").write_text(
        # a self-hosted endpoint on 127.0.0.1: declared on-prem, so (as in the other tools)
        # no PII scan runs before each call
        "store_content: false\nmodels:\n  - name: bench/fake\n    provider: openai\n"
        "    locality: on-prem\n"
        f"    base_url: {url}\n    upstream_model: fake\n"
    )
    return work / f"{name}.yaml"


def run_mixstack(
    work: Path, suite: Path, out: str, concurrency: int, home: Path
) -> tuple[float, float, dict[str, Any]]:
    cmd = [
        sys.executable, "-m", "mixstack", "eval", str(suite), "-c", str(work / "mixstack.yaml"),
        "--concurrency", str(concurrency), "--out", str(work / out), "--json",
    ]  # fmt: skip
    shutil.rmtree(work / out, ignore_errors=True)  # a leftover run would be resumed, not rerun
    wall, rss, code = measure(cmd, {"MIXSTACK_HOME": str(home)}, work)
    summary = json.loads((work / out / "summary.json").read_text()) if code == 0 else {}
    return wall, rss, summary


# -- Inspect AI -------------------------------------------------------------------------------

INSPECT_TASK = """
import json
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

@task
def sums():
    rows = [json.loads(l) for l in open("cases.jsonl")]
    return Task(
        dataset=[Sample(input=PROMPT.format(**r), target=str(r["a"] + r["b"])) for r in rows],
        solver=[generate()],
        scorer=includes(),
    )
"""


def inspect_python() -> Path | None:
    venv = ENV_DIR / "inspect-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "inspect").exists():
        print("  installing Inspect AI into bench/.evals-env/inspect-venv …")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "inspect-ai", "openai"], check=False
        )
        if done.returncode != 0:
            print("  Inspect AI could not be installed (pip failed); skipping it")
            return None
    return venv / "bin" / "inspect"


def run_inspect(
    work: Path, rows: list[dict[str, int]], url: str, concurrency: int
) -> tuple[float, float] | None:
    inspect = inspect_python()
    if inspect is None:
        return None
    d = work / "inspect"
    d.mkdir(parents=True, exist_ok=True)
    (d / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "task.py").write_text(f"PROMPT = {PROMPT!r}\n" + INSPECT_TASK)
    cmd = [
        str(inspect), "eval", "task.py", "--model", "openai/fake", "--max-connections",
        str(concurrency), "--display", "none", "--log-dir", str(d / "logs"), "--no-fail-on-error",
    ]  # fmt: skip
    env = {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "bench", "INSPECT_LOG_LEVEL": "error"}
    wall, rss, code = measure(cmd, env, d)
    return (wall, rss) if code == 0 else None


# -- promptfoo --------------------------------------------------------------------------------


def promptfoo_bin() -> Path | None:
    folder = ENV_DIR / "promptfoo"
    binary = folder / "node_modules" / ".bin" / "promptfoo"
    if not binary.exists():
        print("  installing promptfoo with npm into bench/.evals-env/promptfoo …")
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=folder, capture_output=True, check=False)
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "promptfoo"], cwd=folder, check=False
        )
        if done.returncode != 0:
            print("  promptfoo could not be installed (npm failed); skipping it")
            return None
    return binary


def run_promptfoo(
    work: Path, rows: list[dict[str, int]], url: str, concurrency: int
) -> tuple[float, float] | None:
    binary = promptfoo_bin()
    if binary is None:
        return None
    d = work / "promptfoo"
    d.mkdir(parents=True, exist_ok=True)
    tests = [
        {"vars": r, "assert": [{"type": "contains", "value": str(r["a"] + r["b"])}]} for r in rows
    ]
    config = {
        "prompts": [PROMPT.replace("{a}", "{{a}}").replace("{b}", "{{b}}")],
        "providers": [{"id": "openai:chat:fake", "config": {"apiBaseUrl": url, "apiKey": "bench",
                                                             "max_tokens": 8, "temperature": 0}}],
        "tests": tests,
    }  # fmt: skip
    (d / "promptfooconfig.json").write_text(json.dumps(config))
    cmd = [
        str(binary), "eval", "-c", "promptfooconfig.json", "--max-concurrency", str(concurrency),
        "--no-cache", "--no-table", "--no-progress-bar", "-o", str(d / "out.json"),
    ]  # fmt: skip
    env = {
        "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(d / "home"), "OPENAI_API_KEY": "bench",
    }  # fmt: skip
    wall, rss, code = measure(cmd, env, d)
    # promptfoo exits 100 when some assertions fail; that still measured a full run
    return (wall, rss) if code in (0, 100) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--big", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-others", action="store_true", help="only measure mixstack")
    args = parser.parse_args()
    work = ENV_DIR / "work"
    work.mkdir(parents=True, exist_ok=True)
    upstream, url = start_upstream()
    try:
        rows = cases(args.cases)
        suite = mixstack_files(work, rows, url, "sums")
        home = work / f"home-{int(time.time())}"
        cold, cold_rss, cold_sum = run_mixstack(work, suite, "run-cold", args.concurrency, home)
        # the cached rerun is short, so load on the machine swamps it: best of three
        reruns = [
            run_mixstack(work, suite, f"run-cached-{i}", args.concurrency, home) for i in range(3)
        ]
        warm, warm_rss, warm_sum = min(
            reruns, key=lambda r: r[2].get("finished_at", 0) - r[2].get("started_at", 0)
        )
        rate = cold_sum.get("runs", [{}])[0].get("pass_rate")
        print(f"mixstack   {args.cases} cases: {cold:.2f} s, peak RSS {cold_rss:.0f} MB, ", end="")
        print(f"pass rate {rate}")
        cached_runs = warm_sum.get("runs", [{}])[0].get("cached")
        print(f"mixstack   cached rerun: {warm:.2f} s ({cached_runs} cached), ", end="")
        print(f"peak RSS {warm_rss:.0f} MB; process wall ratio {cold / warm:.1f}x")
        in_cold = cold_sum["finished_at"] - cold_sum["started_at"]
        in_warm = warm_sum["finished_at"] - warm_sum["started_at"]
        per_case = 1e6 * in_warm / args.cases
        print(f"mixstack   in-process run time: cold {in_cold:.2f} s, cached {in_warm:.3f} s "
              f"({per_case:.0f} µs a case; {in_cold / max(in_warm, 1e-6):.0f}x)")  # fmt: skip
        inspect_s = promptfoo_s = None
        if not args.skip_others:
            found = run_inspect(work, rows, url, args.concurrency)
            if found:
                inspect_s = found[0]
                print(
                    f"inspect    {args.cases} cases: {found[0]:.2f} s, peak RSS {found[1]:.0f} MB"
                )
            found = run_promptfoo(work, rows, url, args.concurrency)
            if found:
                promptfoo_s = found[0]
                print(
                    f"promptfoo  {args.cases} cases: {found[0]:.2f} s, peak RSS {found[1]:.0f} MB"
                )
        big = mixstack_files(work, cases(args.big, seed=11), url, "big")
        shutil.rmtree(work / "home-big", ignore_errors=True)  # cold: no cached answers
        big_s, big_rss, big_sum = run_mixstack(work, big, "run-big", 32, work / "home-big")
        big_n = sum(r["n"] + r["errors"] for r in big_sum.get("runs", []))
        print(f"mixstack   {args.big} cases: {big_s:.1f} s, {big_n} results, ", end="")
        print(f"peak RSS {big_rss:.0f} MB")
    finally:
        upstream.terminate()
        upstream.wait()
    print(
        f"mixstack_s={cold:.2f} inspect_s={_fmt(inspect_s)} promptfoo_s={_fmt(promptfoo_s)} "
        f"cached_speedup={in_cold / max(in_warm, 1e-6):.1f} rss_20k_mb={big_rss:.0f}"
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
