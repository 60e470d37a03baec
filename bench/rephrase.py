"""Latency of the rules rephraser, per prompt, and its scaling up to a 100 KB prompt.

Typical prompts of each use case are rewritten for every family; then prompts of 1, 10 and
100 KB (realistic pasted material, and adversarial inputs: unclosed fences, runs of quotes,
backticks and digits) show whether the time grows linearly. Target: <= 20 ms per typical
prompt; the 100 KB / 10 KB time ratio near 10 (linear), never near 100 (quadratic).

    .venv/bin/python bench/rephrase.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from mixstack.rephrase._render import FAMILIES
from mixstack.rephrase._rules import Target, rephrase_rules

TYPICAL = [
    "Analyze this screenshot and tell me what to do.",
    "write a function that parses dates like 2024-01-05 in Python. must not use dateutil.",
    "Extract the name, email and phone from: Ann Lee, ann@example.org, 555-0100",
    "Book a table for 4 at Luigi's on Friday using the browser; stop once it is confirmed.",
    "Explain inflation to my dad in 3 sentences. Keep it friendly.",
    'Summarize the Q3 report for "Acme Corp" in 3 bullet points. Revenue was 1,280 EUR.',
    "Fix the bug:\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```\nIt fails on [].",
]


def _material(size: int) -> str:
    rows = []
    i = 0
    while sum(len(r) + 2 for r in rows) < size:
        rows.append(
            f'Row {i}: order #{i * 7} for "Acme" shipped to Berlin, 1,{i % 1000:03d}.50 EUR.'
        )
        i += 1
    return "Summarize the shipments below by city.\n\n" + "\n\n".join(rows)


SHAPES = {
    "pasted rows": _material,
    "unclosed fence": lambda n: "```" + "x = 1\n" * (n // 6),
    "quote runs": lambda n: '"a' * (n // 2),
    "backticks": lambda n: "`" * n,
    "digit runs": lambda n: "1," * (n // 2),
    "one long line": lambda n: "word " * (n // 5),
}


def _time(prompt: str, family: str, runs: int) -> float:
    target = Target(family)  # type: ignore[arg-type]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rephrase_rules(prompt, target=target)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rephrase_rules(TYPICAL[0], target=Target("small"))  # compile the patterns once
    per_prompt = [_time(p, f, args.runs) for p in TYPICAL for f in FAMILIES]
    p50 = statistics.median(per_prompt)
    worst = max(per_prompt)
    print(
        f"typical prompts: {len(per_prompt)} (prompt x family), median {p50:.2f} ms, "
        f"max {worst:.2f} ms"
    )
    ratios = []
    for name, make in SHAPES.items():
        ms = {kb: _time(make(kb * 1000), "openai", max(3, args.runs // 5)) for kb in (1, 10, 100)}
        ratio = ms[100] / ms[10]
        ratios.append(ratio)
        print(
            f"{name:15} 1 KB {ms[1]:8.2f} ms   10 KB {ms[10]:8.2f} ms   "
            f"100 KB {ms[100]:8.2f} ms   100/10 ratio {ratio:5.1f}"
        )
    big = _time(_material(100_000), "openai", 5)
    print(
        f"summary: typical median {p50:.2f} ms (max {worst:.2f} ms, target <= 20), "
        f"100 KB pasted prompt {big:.1f} ms, worst 100/10 KB ratio {max(ratios):.1f} "
        f"(linear ~10)"
    )


if __name__ == "__main__":
    main()
