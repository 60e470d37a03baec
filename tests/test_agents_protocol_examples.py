"""Tool-specific examples in the text protocol, the turn schemas a local model decodes under
(tools that fit, values from the task and the folder), planner budgets, and the small agent
eval (the README quotes its pass rate; the real run is `test_agent_eval_on_smollm2`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixstack.agents._eval_tasks import AGENT_TASKS, custom_tools
from mixstack.agents._orchestrator import json_budget
from mixstack.agents._protocol import (
    FIT,
    protocol_system_prompt,
    relevance,
    task_values,
    turn_schema,
)
from mixstack.agents._tools import ToolContext
from mixstack.agents.builtins import builtin_tools
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
    custom = {t.name: t for t in custom_tools()}
    # word families: what something costs is a price; "the" fits nothing
    assert relevance("How much does the kettle cost?", custom["price"]) >= FIT
    assert relevance("How much does the kettle cost?", custom["stock"]) < FIT
    assert relevance("How many K-40 units do we have?", custom["stock"]) >= FIT
    assert all(
        relevance("Say hello in French.", t) < FIT for t in [*tools.values(), *custom.values()]
    )
    assert relevance("What is 2 ** 10?", tools["calculator"]) >= FIT
    assert relevance("Multiply 12 by 12", tools["calculator"]) >= FIT


def test_the_nearest_example_is_the_best_tool_or_else_a_plain_answer(tmp_path: Path) -> None:
    tools = builtin_tools(ToolContext(root=tmp_path)) + custom_tools()
    fits = protocol_system_prompt(tools, task="What is the price of a teapot?")
    assert fits.rstrip().splitlines()[-4].startswith('Assistant: {"tool": "price"')
    assert 'Assistant: {"answer": "Blue."}' in fits
    nothing = protocol_system_prompt(tools, task="Say hello in French.")
    assert nothing.rstrip().endswith('Assistant: {"answer": "Blue."}')


def test_first_turn_path_arguments_are_the_files_the_task_names(tmp_path: Path) -> None:
    tools = builtin_tools(ToolContext(root=tmp_path))
    named = task_values("Summarise notes.txt and compare it with plan/v2.md")
    assert named["path"] == ["notes.txt", "plan/v2.md"]
    assert "path" not in task_values("What is 23 * 17?")
    schema = turn_schema(tools, named=named)
    read = _option(schema, "read_file")
    assert read["properties"]["arguments"]["properties"]["path"]["enum"] == named["path"]
    calc = _option(schema, "calculator")
    assert "enum" not in calc["properties"]["arguments"]["properties"]["expression"]
    free = turn_schema(tools)  # later turns: any path (e.g. one list_dir showed)
    read = _option(free, "read_file")
    assert "enum" not in read["properties"]["arguments"]["properties"]["path"]


def _option(schema: dict[str, Any], tool: str) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    found: dict[str, Any] = next(
        o for o in options if o["properties"].get("tool") == {"const": tool}
    )
    return found


def _args(schema: dict[str, Any], tool: str) -> dict[str, Any]:
    props: dict[str, Any] = _option(schema, tool)["properties"]["arguments"]["properties"]
    return props


def test_first_turn_quoted_arguments_are_runs_of_the_tasks_words() -> None:
    # a small model copied the example's sku ("Z-9") and wrote "KiL" for Kenya
    named = task_values("How many K-40 units do we have?")
    assert {"K-40", "units", "K-40 units"} <= set(named["quote"])
    assert not {"How", "do", "we", "have", "How many"} & set(named["quote"])
    # a long task (a pasted page) leaves quoted values free instead of offering a cut list
    long = "Check stock for " + " ".join(f"item{i}" for i in range(200)) + " and K-40."
    assert "quote" not in task_values(long)
    tools = custom_tools()
    schema = turn_schema(tools, named=named)
    assert _args(schema, "stock")["sku"]["enum"] == named["quote"]
    # a written value (an expression, a file's content) is not quoted
    calc = builtin_tools(ToolContext())
    assert "enum" not in _args(turn_schema(calc, named=named), "calculator")["expression"]
    # without the task's values (later turns) a required string is only never empty
    assert _args(turn_schema(tools), "stock")["sku"] == {"type": "string", "minLength": 1}


def test_a_turn_can_require_a_call_and_hold_arguments_to_values_that_exist(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("a")
    (tmp_path / "notes.txt").write_text("n")
    (tmp_path / "shot.png").write_bytes(b"png")
    (tmp_path / ".secret").write_text("s")
    ctx = ToolContext(root=tmp_path)
    tools = {t.name: t for t in builtin_tools(ctx)}
    assert tools["read_file"].choices(ctx) == {"path": ["notes.txt", "docs/a.md"]}
    assert tools["list_dir"].choices(ctx) == {"path": [".", "docs"]}
    assert tools["ocr"].choices(ctx) == {"path": ["shot.png"]}
    assert tools["write_file"].choices(ctx) == {}
    offered = [tools["read_file"], tools["list_dir"]]
    choices = {t.name: t.choices(ctx) for t in offered}
    schema = turn_schema(offered, allow_answer=False, choices=choices)
    assert len(schema["anyOf"]) == 2  # two calls, no answer
    assert not any("answer" in o["properties"] for o in schema["anyOf"])
    assert _args(schema, "list_dir")["path"]["enum"] == [".", "docs"]
    single = turn_schema([tools["read_file"]], allow_answer=False, choices=choices)
    assert single["properties"]["tool"] == {"const": "read_file"}


def test_a_big_tree_leaves_paths_free(tmp_path: Path) -> None:
    for i in range(80):
        (tmp_path / f"f{i}.txt").write_text("x")
    ctx = ToolContext(root=tmp_path)
    assert {t.name: t.choices(ctx) for t in builtin_tools(ctx)}["read_file"] == {}


def test_every_turn_schema_compiles_to_a_llama_cpp_grammar(tmp_path: Path) -> None:
    """The grammar a local model decodes under: the calculator's expression pattern, enums
    from the task and the folder, a required call and the answer all convert."""
    from mixstack._types import ResponseFormat
    from mixstack.providers.local._grammar import grammar_for

    (tmp_path / "notes.txt").write_text("n")
    ctx = ToolContext(root=tmp_path)
    tools = builtin_tools(ctx) + custom_tools()
    calc = _args(turn_schema(tools), "calculator")["expression"]
    assert calc["pattern"].startswith("^")  # kept from the tool's schema for the grammar
    choices = {t.name: t.choices(ctx) for t in tools}
    for task in ("What is 23 * 17?", "Summarise notes.txt", "How much does the kettle cost?"):
        for allow_answer in (True, False):
            schema = turn_schema(
                tools, allow_answer=allow_answer, named=task_values(task), choices=choices
            )
            fmt = ResponseFormat(type="json_schema", json_schema=schema, name="turn")
            assert grammar_for(fmt) is not None


def test_planner_budget_fits_a_full_plan() -> None:
    assert json_budget(AgentRole(), "plan") >= 600  # 6 steps of 240 characters, with JSON
    assert json_budget(AgentRole(), "critic") >= 256
    assert json_budget(AgentRole(max_tokens=128), "plan") == 128  # an explicit value is kept


def test_agent_eval_has_twenty_tasks_over_three_kinds_of_tool() -> None:
    assert len(AGENT_TASKS) >= 20
    kinds = {t.kind for t in AGENT_TASKS}
    assert kinds == {"calculator", "file", "custom"}
    assert all(sum(t.kind == k for t in AGENT_TASKS) >= 5 for k in kinds)


#: the figures the README quotes (bench/agents.py on SmolLM2-135M at temperature 0): tasks
#: passed, tasks, and answers the runtime composed from a tool result
README_AGENT_EVAL = (21, 22, 7)


def test_readme_quotes_the_agent_eval() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    passed, total, composed = README_AGENT_EVAL
    assert total == len(AGENT_TASKS)
    quoted = (
        f"**{passed}/{total} pass ({100 * passed // total}%)**, {passed - composed} with the "
        f"model's own answer and {composed} composed from the tool result"
    )
    assert quoted in " ".join(readme.split())
