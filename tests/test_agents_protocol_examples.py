"""Tool-specific examples in the text protocol, file names from the task, planner budgets,
and the small agent eval (the README quotes its pass rate)."""

from __future__ import annotations

import json
from pathlib import Path

from mixstack.agents.builtins import builtin_tools
from mixstack.agents.eval_tasks import AGENT_TASKS, custom_tools
from mixstack.agents.orchestrator import json_budget
from mixstack.agents.protocol import protocol_system_prompt, relevance, task_values, turn_schema
from mixstack.agents.tools import ToolContext
from mixstack.config.agents import AgentRole


def _calls_in(prompt: str) -> list[dict[str, object]]:
    return [
        json.loads(line.removeprefix("Assistant: "))
        for line in prompt.splitlines()
        if line.startswith('Assistant: {"tool"')
    ]


def test_each_tool_gets_its_own_example_built_from_its_schema(tmp_path: Path) -> None:
    tools = builtin_tools(ToolContext(root=tmp_path)) + custom_tools()
    for task, tool in [
        ("What is 23 * 17?", "calculator"),
        ("Summarise notes.txt", "read_file"),
        ("How many units of A-12 are left?", "stock"),
        ("What is the price of a teapot?", "price"),
        ("What is the capital of Kenya?", "capital"),
    ]:
        calls = _calls_in(protocol_system_prompt(tools, task=task))
        assert len(calls) == 2, task  # two examples with different values
        assert {c["tool"] for c in calls} == {tool}, task
        args = [c["arguments"] for c in calls]
        assert args[0] != args[1]
        # the example never shows the task's own values: they must come from the task
        assert not any(str(v) in task for a in args for v in a.values()), task  # type: ignore[attr-defined]
    # a custom tool's arguments follow its schema: one string `sku`
    stock = next(t for t in tools if t.name == "stock")
    calls = _calls_in(protocol_system_prompt([stock], task="units of A-12"))
    assert all(set(c["arguments"]) == {"sku"} for c in calls)  # type: ignore[arg-type]
    assert all(isinstance(c["arguments"]["sku"], str) for c in calls)  # type: ignore[index]


def test_relevance_prefers_the_tool_the_task_needs(tmp_path: Path) -> None:
    tools = {t.name: t for t in builtin_tools(ToolContext(root=tmp_path))}
    assert relevance("Summarise notes.txt", tools["read_file"]) > relevance(
        "Summarise notes.txt", tools["calculator"]
    )
    assert relevance("What is 23 * 17?", tools["calculator"]) > relevance(
        "What is 23 * 17?", tools["read_file"]
    )


def test_first_turn_path_arguments_are_the_files_the_task_names(tmp_path: Path) -> None:
    tools = builtin_tools(ToolContext(root=tmp_path))
    named = task_values("Summarise notes.txt and compare it with plan/v2.md")
    assert named == {"path": ["notes.txt", "plan/v2.md"]}
    assert task_values("What is 23 * 17?") == {}
    schema = turn_schema(tools, named=named)
    read = next(o for o in schema["anyOf"] if o["properties"].get("tool") == {"const": "read_file"})
    assert read["properties"]["arguments"]["properties"]["path"]["enum"] == named["path"]
    calc = next(
        o for o in schema["anyOf"] if o["properties"].get("tool") == {"const": "calculator"}
    )
    assert "enum" not in calc["properties"]["arguments"]["properties"]["expression"]
    free = turn_schema(tools)  # later turns: any path (e.g. one list_dir showed)
    read = next(o for o in free["anyOf"] if o["properties"].get("tool") == {"const": "read_file"})
    assert "enum" not in read["properties"]["arguments"]["properties"]["path"]


def test_planner_budget_fits_a_full_plan() -> None:
    assert json_budget(AgentRole(), "plan") >= 600  # 6 steps of 240 characters, with JSON
    assert json_budget(AgentRole(), "critic") >= 256
    assert json_budget(AgentRole(max_tokens=128), "plan") == 128  # an explicit value is kept


def test_agent_eval_has_twenty_tasks_over_three_kinds_of_tool() -> None:
    assert len(AGENT_TASKS) >= 20
    kinds = {t.kind for t in AGENT_TASKS}
    assert kinds == {"calculator", "file", "custom"}
    assert all(sum(t.kind == k for t in AGENT_TASKS) >= 5 for k in kinds)


#: the figure the README quotes (bench/agents.py, 10/22 on SmolLM2-135M at temperature 0)
README_AGENT_EVAL = (10, 22)


def test_readme_quotes_the_agent_eval() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    passed, total = README_AGENT_EVAL
    assert total == len(AGENT_TASKS)
    assert f"**{passed}/{total} pass ({100 * passed // total}%)**" in readme
