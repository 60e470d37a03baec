"""What the convenience API costs on top of the pipeline's own work.

- `import mixstack`: a fresh interpreter importing the package, minus one that imports nothing
  (median of several runs). Target <= 0.15 s.
- Building a `Pipeline` for a fake-only config (first in the process, then again), and
  whether that build imports aiohttp (no model in the config speaks HTTP).
- `mixstack.rephrase()` per call after the first, target chosen by the router (config
  from a file). Target <= 1 ms.
- `mixstack.run()` per call vs `mixstack.arun(pipeline=shared)` per call, fake provider,
  config from a file: the difference is the sync API's overhead. Target <= 1 ms.

Calls are recorded in a temporary store like any call. Figures are wall-clock medians on a
shared machine: noisy, compare runs made side by side.

    .venv/bin/python bench/pipeline_overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CONFIG = """\
models:
  - name: fake/echo
    provider: fake
"""


def _interpreter_s(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def import_time_s(runs: int = 7) -> float:
    """Seconds `import mixstack` adds to a fresh interpreter."""
    return _interpreter_s("import mixstack", runs) - _interpreter_s("pass", runs)


def build_imports_aiohttp(path: Path) -> bool:
    code = (
        "import sys; from mixstack.config import load_config; from mixstack import Pipeline; "
        f"Pipeline(load_config({str(path)!r})); print('aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip() == "True"


def median_ms(fn: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def build_ms(path: Path, calls: int) -> tuple[float, float]:
    """First build in this process, then the median of later builds (same config file)."""
    from mixstack import Pipeline
    from mixstack.config import load_config

    started = time.perf_counter()
    Pipeline(load_config(path))
    first = (time.perf_counter() - started) * 1000
    return first, median_ms(lambda: Pipeline(load_config(path)), calls)


def rephrase_ms(path: Path, calls: int) -> float:
    import mixstack

    prompt = "summarise this report for the board in three bullet points"
    mixstack.rephrase(prompt, config=path)
    return median_ms(lambda: mixstack.rephrase(prompt, config=path), calls)


def run_ms(path: Path, calls: int) -> float:
    import mixstack

    mixstack.run("hello there", model="fake/echo", config=path)
    return median_ms(lambda: mixstack.run("hello there", model="fake/echo", config=path), calls)


def arun_shared_ms(path: Path, calls: int) -> float:
    import mixstack
    from mixstack.config import load_config

    async def measure() -> float:
        async with mixstack.Pipeline(load_config(path)) as shared:
            await mixstack.arun("hello there", model="fake/echo", pipeline=shared)
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await mixstack.arun("hello there", model="fake/echo", pipeline=shared)
                times.append(time.perf_counter() - started)
            return statistics.median(times) * 1000

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MIXSTACK_HOME"] = str(Path(folder) / "home")
        path = Path(folder) / "mixstack.yaml"
        path.write_text(CONFIG)
        imported = import_time_s()
        aiohttp = build_imports_aiohttp(path)
        first_build, build = build_ms(path, args.calls // 4)
        rephrase = rephrase_ms(path, args.calls)
        run = run_ms(path, args.calls)
        arun = arun_shared_ms(path, args.calls)
    print(f"import mixstack:                {imported * 1000:8.1f} ms   (target <= 150)")
    print(f"Pipeline() first / later:       {first_build:8.2f} / {build:.2f} ms")
    print(f"fake-only build imports aiohttp: {aiohttp}")
    print(f"rephrase() per call:            {rephrase:8.3f} ms   (target <= 1)")
    print(f"run() per call:                 {run:8.3f} ms")
    print(f"arun(shared pipeline) per call: {arun:8.3f} ms")
    print(f"run() overhead over arun:       {run - arun:8.3f} ms   (target <= 1)")
    print(
        f"summary: import={imported * 1000:.0f}ms build={first_build:.1f}/{build:.2f}ms "
        f"aiohttp={aiohttp} rephrase={rephrase:.3f}ms run={run:.3f}ms arun={arun:.3f}ms "
        f"overhead={run - arun:.3f}ms"
    )


if __name__ == "__main__":
    main()
