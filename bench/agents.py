"""The small agent eval on the embedded SmolLM2: pass rate per tool kind (calculator, file
tools, custom tools), how many answers the runtime composed from a tool result, time and
tokens per task. Figures are noisy only in time (seconds depend on the machine's load;
tokens do not); the answers are deterministic (temperature 0, seed 0). Last line: one
summary line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict

from mixstack.agents._eval_tasks import AGENT_TASKS, run_agent_eval
from mixstack.config import load_config
from mixstack.pipeline import Pipeline


async def main() -> None:
    async with Pipeline(load_config(None)) as pipeline:
        rows = await run_agent_eval(pipeline)
    kinds: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        kinds[row["kind"]].append(row["passed"])
        mark = "pass" if row["passed"] else "FAIL"
        how = "composed" if row["composed"] else "model"
        print(f"{mark} {row['id']:9} {row['seconds']:6.1f}s {row['model_calls']} calls "
              f"{row['tokens']:5} tok tools={row['tools']} {how}: "
              f"{json.dumps(row['answer'][:70])}")  # fmt: skip
    parts = [f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items())]
    passed = sum(r["passed"] for r in rows)
    own = sum(r["passed"] and not r["composed"] for r in rows)
    seconds = sorted(r["seconds"] for r in rows)
    print(f"agent eval: {passed}/{len(AGENT_TASKS)} passed "
          f"({100 * passed / len(rows):.0f}%; {own} with the model's own answer, "
          f"{passed - own} composed from the tool result); " + ", ".join(parts)
          + f"; {sum(seconds) / len(rows):.1f} s/task mean, {seconds[len(rows) // 2]:.1f} median, "
          f"{sum(r['tokens'] for r in rows) / len(rows):.0f} tokens/task")  # fmt: skip


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
