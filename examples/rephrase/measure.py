"""Pass rates of rough vs rephrased prompts on the embedded model, through the pipeline.

Every case of `suite.yaml` runs twice on SmolLM2 (greedy): as the user wrote it, and as
`mixstack.rephrase(..., target=<the model>)` rewrites it. Both answers are scored by the eval
harness's scorers, and the two pass rates are printed; the last line is the summary.

    python examples/rephrase/measure.py                  # run and print the pass rates
    python examples/rephrase/measure.py --write-cases    # regenerate cases.jsonl first
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import mixstack
from mixstack.evals._suite import load_suite
from mixstack.evals.scorers import ScoreContext, ScorerEnv, ScorerRegistry
from mixstack.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suite.yaml"
CASES = HERE / "cases.jsonl"
MODEL = "local/smollm2-135m-instruct"

#: (id, rough prompt, expected, scorers): what a user would type, and what they need back
ROUGH: list[tuple[str, str, Any, list[Any]]] = [
    (
        "json-person",
        "Get the name and age out of this: Tom Baker is 52.",
        {"name": "Tom Baker", "age": 52},
        ["json_fields"],
    ),
    (
        "json-place",
        "Extract the city and country from: I moved to Lyon, France in May.",
        {"city": "Lyon", "country": "France"},
        ["json_fields"],
    ),
    (
        "json-product",
        "Pull out the product and price: The Zephyr lamp costs 39 dollars.",
        {"product": "Zephyr lamp", "price": 39},
        ["json_fields"],
    ),
    (
        "code-even",
        "python function to check if a number is even",
        None,
        [{"regex": {"pattern": r"def \w+\(.*\).*:[\s\S]*%\s*2"}}],
    ),
    (
        "code-reverse",
        "write a python function that reverses a string",
        None,
        [{"regex": {"pattern": r"def \w+\([\s\S]*(\[::-1\]|reversed\()"}}],
    ),
    ("chat-capital", "capital of australia?", None, [{"contains": {"value": "Canberra"}}]),
    (
        "chat-spider",
        "how many legs does a spider have",
        None,
        [{"contains": {"value": ["8", "eight"], "any": True}}],
    ),
    (
        "chat-cpu",
        "what does a CPU do, in one sentence",
        None,
        [{"contains": {"value": ["process", "instruction", "calculat"], "any": True}}],
    ),
    (
        "image-expired",
        "Analyze this screenshot and tell me what to do. Screenshot text: "
        "'Session expired. Please sign in again.' [Sign in]",
        None,
        [{"contains": {"value": ["sign in", "log in", "signing in"], "any": True}}],
    ),
    (
        "agent-tea",
        "give me the steps to make a cup of tea",
        None,
        [
            {"regex": {"pattern": r"(?m)^\s*(\d+[.)]|[-*•])\s+\S"}},
            {"contains": {"value": ["water", "boil"], "any": True}},
        ],
    ),
]


def write_cases(model: str) -> None:
    with CASES.open("w", encoding="utf-8") as fh:
        for case_id, rough, expected, scorers in ROUGH:
            rephrased = mixstack.rephrase(rough, target=model).prompt
            row: dict[str, Any] = {"id": case_id, "vars": {"rough": rough, "rephrased": rephrased}}
            if expected is not None:
                row["expected"] = expected
            row["scorers"] = scorers
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {CASES} ({len(ROUGH)} cases)")


async def measure(model: str) -> None:
    suite = load_suite(SUITE)
    async with Pipeline(mixstack.load_config(), record=False) as pipeline:
        registry = ScorerRegistry(ScorerEnv(base_dir=suite.base_dir, catalog=pipeline.catalog))
        passed: dict[str, int] = {}
        total: dict[str, int] = {}
        for item in suite.items():
            rough = item.case.vars["rough"]
            if item.variant == "rephrased":
                live = mixstack.rephrase(rough, target=model).prompt
                if live != item.case.vars["rephrased"]:
                    raise SystemExit(f"{CASES.name} is stale for {item.case.id}: run --write-cases")
            completion = await pipeline.complete(item.request.with_changes(model=model))
            ctx = ScoreContext(case=item.case, completion=completion)
            scores = [await registry.build(s).score(ctx) for s in suite.scorers_for(item.case)]
            ok = all(s.passed for s in scores)
            passed[item.variant] = passed.get(item.variant, 0) + ok
            total[item.variant] = total.get(item.variant, 0) + 1
            answer = " ".join(completion.text.split())[:70]
            print(f"{item.case.id:14} {item.variant:9} {'pass' if ok else 'FAIL'}  {answer}")
    rates = {v: passed[v] / total[v] for v in total}
    for variant, count in total.items():
        print(f"{variant:9} {passed[variant]}/{count} passed ({rates[variant]:.0%})")
    print(
        f"summary: {model} rough {rates.get('rough', 0):.0%} vs rephrased "
        f"{rates.get('rephrased', 0):.0%} pass rate on {total.get('rough', 0)} cases "
        f"(difference {rates.get('rephrased', 0) - rates.get('rough', 0):+.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--write-cases", action="store_true", help="regenerate cases.jsonl")
    args = parser.parse_args()
    if args.write_cases or not CASES.exists():
        write_cases(args.model)
    asyncio.run(measure(args.model))


if __name__ == "__main__":
    main()
