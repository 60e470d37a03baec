"""Teams on scripted `fake` models: planner, parallel workers, handoffs, critic, shared budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixstack.agents import AgentRuntime, load_trace
from mixstack.config import parse_config
from mixstack.errors import ConfigError
from mixstack.pipeline import Pipeline
from mixstack.store import open_store

PLAN = {
    "steps": [
        {"worker": "maths", "task": "compute 6*7"},
        {"worker": "writer", "task": "write it up", "after": [0]},
    ]
}
MODELS: list[dict[str, Any]] = [
    {"name": "fake/planner", "provider": "fake", "replies": [{"text": json.dumps(PLAN)}]},
    {
        "name": "fake/maths",
        "provider": "fake",
        "latency_ms": 50,
        "replies": [
            {"when": "</tool_output>", "text": "42"},
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
        ],
    },
    {
        "name": "fake/writer",
        "provider": "fake",
        "replies": [
            {"when": "feedback", "text": "Report: the product is 42 units (revised)"},
            {"when": "- maths: 42", "text": "Report: the product is 42"},
            {"text": "Report: I was not told the number"},
        ],
    },
    {
        "name": "fake/critic",
        "provider": "fake",
        "replies": [
            {"when": "(revised)", "text": '{"verdict": "accept"}'},
            {"text": '{"verdict": "revise", "feedback": "mention the units", "redo": [1]}'},
        ],
    },
]
TEAM: dict[str, Any] = {
    "planner": {"model": "fake/planner"},
    "workers": [
        {"name": "maths", "model": "fake/maths", "tools": ["calculator"], "description": "sums"},
        {"name": "writer", "model": "fake/writer", "tools": []},
    ],
    "critic": {"model": "fake/critic", "max_rounds": 2},
}


async def _run(agents: dict[str, Any], task: str = "What is 6*7? Write it up.", **kw: Any) -> Any:
    cfg = parse_config({"models": MODELS, "agents": agents, **kw.pop("sections", {})})
    async with Pipeline(cfg) as pipeline:
        result = await AgentRuntime(pipeline, **kw).run(task)
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
    return result, trace


async def test_planner_workers_handoff_and_critic_round() -> None:
    result, trace = await _run(TEAM)
    assert result.kind == "team"
    assert result.stopped == "answer"
    assert result.result == "maths: 42\nwriter: Report: the product is 42 units (revised)"
    assert [(c.agent, c.tool, c.decision) for c in result.tool_calls] == [
        ("maths", "calculator", "allow")
    ]
    flow = [(s["kind"], s["agent"]) for s in trace["steps"] if s["kind"] != "tool"]
    assert flow == [
        ("plan", "planner"),
        ("plan", "planner"),
        ("handoff", "planner"),
        ("model", "maths"),
        ("model", "maths"),
        ("handoff", "planner"),  # the writer starts only after maths, with its result
        ("model", "writer"),
        ("critic", "critic"),
        ("handoff", "critic"),
        ("handoff", "planner"),
        ("model", "writer"),
        ("critic", "critic"),
    ]
    plan = trace["steps"][1]["detail"]["steps"]
    assert [(p["worker"], p["after"]) for p in plan] == [("maths", []), ("writer", [0])]
    handoff = [s for s in trace["steps"] if s["kind"] == "handoff"][1]
    assert "- maths: 42" in handoff["preview"]
    assert trace["kind"] == "team"


async def test_independent_workers_run_concurrently() -> None:
    agents = {
        "workers": [
            {"name": "a", "model": "fake/maths", "tools": ["calculator"]},
            {"name": "b", "model": "fake/maths", "tools": ["calculator"]},
        ]
    }
    result, trace = await _run(agents)
    assert result.result == "a: 42\nb: 42"
    kinds = [(s["kind"], s["agent"]) for s in trace["steps"]]
    # without a planner both get the task; both start before either finishes its first call
    assert kinds[:4] == [
        ("plan", "planner"),
        ("handoff", "planner"),
        ("handoff", "planner"),
        ("model", "a"),
    ]
    assert ("model", "b") in kinds[4:6]


async def test_shared_budget_stops_the_whole_team_with_what_was_done() -> None:
    agents = {**TEAM, "budget": {"steps": 5}}
    result, trace = await _run(agents)
    assert result.stopped == "budget"
    assert "steps taken of 5" in result.reason
    assert result.result.startswith("maths: 42")
    assert trace["budget"]["steps"] == 5
    assert trace["steps"][-1]["kind"] == "stop"


async def test_each_worker_has_its_own_workload_permissions(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    reader = {
        "name": "fake/reader",
        "provider": "fake",
        "replies": [
            {"when": "</tool_output>", "text": "read done"},
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "a.txt"}}]},
        ],
    }
    MODELS.append(reader)
    try:
        agents = {
            "workers": [
                {"name": "open", "model": "fake/reader", "workload": "public"},
                {"name": "closed", "model": "fake/reader", "workload": "private"},
            ]
        }
        sections = {
            "workloads": {"public": {}, "private": {}},
            "permissions": {"private": {"rules": [{"tool": "read_file", "action": "deny"}]}},
        }
        result, _ = await _run(agents, root=tmp_path, sections=sections)
    finally:
        MODELS.remove(reader)
    decisions = {(c.agent, c.decision, c.ok) for c in result.tool_calls}
    assert decisions == {("open", "allow", True), ("closed", "deny", False)}


async def test_unreadable_plan_falls_back_to_the_first_worker() -> None:
    MODELS[0] = {"name": "fake/planner", "provider": "fake", "replies": [{"text": "no idea"}]}
    try:
        result, trace = await _run({**TEAM, "critic": None})
    finally:
        MODELS[0] = {
            "name": "fake/planner",
            "provider": "fake",
            "replies": [{"text": json.dumps(PLAN)}],
        }
    assert result.result == "42"
    plans = [s for s in trace["steps"] if s["kind"] == "plan"]
    assert len(plans) == 3  # two attempts, then the fallback
    assert "could not be read" in plans[-1]["preview"]


def test_worker_naming_an_unknown_tool_fails_before_running() -> None:
    agents = {"workers": [{"name": "w", "model": "fake/maths", "tools": ["calculater"]}]}
    import asyncio

    with pytest.raises(
        ConfigError, match=r"agents.workers\[w\].tools names unknown tools: calculater"
    ):
        asyncio.run(_run(agents))
    # the run still leaves a finished trace that says why it ended
    cfg = parse_config({"models": MODELS, "agents": agents})
    with open_store(home=cfg.home) as store:
        trace = load_trace(store, "last")
    assert trace is not None
    assert trace["stopped"] == "error"
    assert "calculater" in trace["steps"][-1]["error"]


async def test_a_crashing_worker_cancels_its_siblings(tmp_path: Path) -> None:
    import asyncio

    slow = {
        "name": "fake/slow",
        "provider": "fake",
        "latency_ms": 1500,
        "replies": [{"text": "late"}],
    }
    writer = {
        "name": "fake/w",
        "provider": "fake",
        "replies": [
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "x", "content": "y"}}]}
        ],
    }

    async def crash(tool: str, args: dict[str, Any], decision: Any) -> bool:
        raise RuntimeError("approver crashed")

    cfg = parse_config(
        {
            "models": [slow, writer],
            "agents": {
                "workers": [
                    {"name": "slow", "model": "fake/slow"},
                    {"name": "w", "model": "fake/w"},
                ]
            },
        }
    )
    async with Pipeline(cfg) as pipeline:
        runtime = AgentRuntime(pipeline, root=tmp_path, approver=crash)
        with pytest.raises(RuntimeError, match="approver crashed"):
            await runtime.run("go")
        await asyncio.sleep(2.0)  # longer than the slow worker's call: it must not complete
        pipeline.flush()
        trace = load_trace(pipeline.store, "last")
    assert trace is not None
    assert trace["stopped"] == "error"
    assert not [s for s in trace["steps"] if s["agent"] == "slow" and s["kind"] == "model"]
