"""A small agent eval: tasks over the calculator, the file tools and custom tools, each
passed when the agent calls the tool the task needs and its answer holds the expected text
(an answer the runtime composed from the tool result counts, and is counted apart).

`run_agent_eval()` runs them on a model (the embedded SmolLM2 by default) and returns one
row per task; `bench/agents.py` prints the pass rate per tool kind, the README quotes it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixstack.agents._runtime import arun_agent
from mixstack.agents._tools import AgentTool, function_tool
from mixstack.pipeline import Pipeline

__all__ = ["AGENT_TASKS", "AgentTask", "custom_tools", "run_agent_eval", "write_files"]


@dataclass(frozen=True, slots=True)
class AgentTask:
    id: str
    kind: str  # "calculator", "file" or "custom"
    task: str
    tool: str  # the tool the agent must call
    expected: str  # text the answer must hold (case-insensitive)


FILES = {
    "notes.txt": "Team notes, May 3.\nThe launch moves to June 12.\nAnna owns the checklist.\n",
    "todo.md": "- book the dentist\n- renew the passport\n",
    "budget.txt": "The travel budget is 4,800 euros.\n",
    "menu.txt": "Soup of the day: lentil.\n",
    "status.log": "build 1482 passed\n",
}

_STOCK = {"A-12": 7, "C-7": 15, "B-3": 0, "K-40": 122}
_PRICES = {"mug": 8.5, "teapot": 32.0, "kettle": 45.0}
_CAPITALS = {"peru": "Lima", "kenya": "Nairobi", "norway": "Oslo"}


def stock(sku: str) -> int:
    """Units in stock for a product."""
    return _STOCK.get(sku.strip().upper(), 0)


def price(product: str) -> str:
    """The price of a product in the shop, in dollars."""
    value = _PRICES.get(product.strip().lower())
    return "unknown product" if value is None else f"${value:.2f}"


def capital(country: str) -> str:
    """The capital city of a country."""
    return _CAPITALS.get(country.strip().lower(), "unknown country")


def custom_tools() -> list[AgentTool]:
    """Three typed functions as tools, the way a user adds their own."""
    return [function_tool(f, read_only=True) for f in (stock, price, capital)]


AGENT_TASKS: tuple[AgentTask, ...] = (
    AgentTask("calc-1", "calculator", "What is 23 * 17?", "calculator", "391"),
    AgentTask("calc-2", "calculator", "What is 144 / 12?", "calculator", "12"),
    AgentTask("calc-3", "calculator", "What is 1250 + 3475?", "calculator", "4725"),
    AgentTask("calc-4", "calculator", "What is 99 - 37?", "calculator", "62"),
    AgentTask("calc-5", "calculator", "What is (8 + 4) * 3?", "calculator", "36"),
    AgentTask("calc-6", "calculator", "Compute 3.5 * 4", "calculator", "14"),
    AgentTask("calc-7", "calculator", "What is 2 ** 10?", "calculator", "1024"),
    AgentTask("calc-8", "calculator", "What is 7 times 8?", "calculator", "56"),
    AgentTask("file-1", "file", "Summarise notes.txt", "read_file", "June 12"),
    AgentTask("file-2", "file", "What does todo.md say?", "read_file", "dentist"),
    AgentTask("file-3", "file", "Read budget.txt", "read_file", "4,800"),
    AgentTask("file-4", "file", "What is in menu.txt?", "read_file", "lentil"),
    AgentTask("file-5", "file", "Show me status.log", "read_file", "1482"),
    AgentTask(
        "file-6", "file", "When is the launch, according to notes.txt?", "read_file", "June 12"
    ),
    AgentTask("file-7", "file", "Which files are in the folder?", "list_dir", "notes.txt"),
    AgentTask("custom-1", "custom", "How many units of A-12 are left?", "stock", "7"),
    AgentTask("custom-2", "custom", "How many units of C-7 are in stock?", "stock", "15"),
    AgentTask("custom-3", "custom", "How many K-40 units do we have?", "stock", "122"),
    AgentTask("custom-4", "custom", "What is the price of a teapot?", "price", "32"),
    AgentTask("custom-5", "custom", "How much does the kettle cost?", "price", "45"),
    AgentTask("custom-6", "custom", "What is the capital of Kenya?", "capital", "Nairobi"),
    AgentTask("custom-7", "custom", "What is the capital city of Norway?", "capital", "Oslo"),
)


def write_files(root: Path) -> None:
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")


def _tools_for(task: AgentTask) -> list[AgentTool]:
    """Custom tasks get the custom tools on top of the built-ins (as `run_agent(tools=…)`)."""
    return custom_tools() if task.kind == "custom" else []


async def run_agent_eval(
    pipeline: Pipeline, tasks: tuple[AgentTask, ...] = AGENT_TASKS, model: str | None = None
) -> list[dict[str, Any]]:
    """One row per task: passed, the tools called, the answer (and whether the runtime
    composed it from a tool result), model calls, tokens and seconds taken."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_files(root)
        for task in tasks:
            started = time.perf_counter()
            result = await arun_agent(
                task.task, pipeline=pipeline, root=root, tools=_tools_for(task), model=model
            )
            called = [c.tool for c in result.tool_calls if c.ok]
            passed = task.tool in called and task.expected.lower() in result.result.lower()
            usage = result.usage
            rows.append(
                {
                    "id": task.id,
                    "kind": task.kind,
                    "passed": passed,
                    "tools": called,
                    "answer": result.result,
                    "composed": result.composed,
                    "stopped": result.stopped,
                    "reason": result.reason,
                    "model_calls": usage.get("model_calls", 0),
                    "tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
                    "seconds": round(time.perf_counter() - started, 2),
                    "trace_id": result.trace_id,
                }
            )
    return rows
