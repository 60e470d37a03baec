"""The agent loop on scripted `fake` models: tools, permissions, budgets, traces, CLI."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixstack.agents import AgentRuntime, Budget, Decision, function_tool, load_trace
from mixstack.agents._protocol import ParseError, parse_turn
from mixstack.agents._trace_view import render_html
from mixstack.config import Config, parse_config
from mixstack.errors import ConfigError
from mixstack.pipeline import Pipeline


def _calls(*calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "arguments": args} for name, args in calls]


#: a native tool-calling model: asks for the calculator, then answers with what it got
CALC = {
    "name": "fake/calc",
    "provider": "fake",
    "replies": [
        {"when": "</tool_output>", "text": "The answer is 391."},
        {"tool_calls": _calls(("calculator", {"expression": "23*17"}))},
    ],
}
#: the same task for a model without native tools: the text protocol
TEXT = {
    "name": "fake/text",
    "provider": "fake",
    "capabilities": ["chat"],
    "replies": [
        {"when": "Tool result (calculator)", "text": 'Sure! {"answer": "391",}'},
        {
            "when": "could not be used",
            "text": '{"tool": "calculator", "args": {"expression": "23*17"}}',
        },
        {"text": "I will call {tool: calculator, with 23*17}"},
    ],
}
LOOPER = {
    "name": "fake/looper",
    "provider": "fake",
    "replies": [{"tool_calls": _calls(("counter", {}))}],
}


def _config(*models: dict[str, Any], **sections: Any) -> Config:
    return parse_config({"models": list(models), **sections})


async def _run(cfg: Config, task: str = "What is 23 * 17?", **options: Any) -> Any:
    async with Pipeline(cfg) as pipeline:
        result = await AgentRuntime(pipeline, **options).run(task)
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
    return result, trace


async def test_native_tool_call_then_answer_is_traced() -> None:
    result, trace = await _run(_config(CALC), model="fake/calc")
    assert result.stopped == "answer"
    assert result.result == "The answer is 391."
    [call] = result.tool_calls
    assert (call.tool, call.args, call.decision, call.ok) == (
        "calculator",
        {"expression": "23*17"},
        "allow",
        True,
    )
    kinds = [s["kind"] for s in trace["steps"]]
    assert kinds == ["model", "tool", "model"]
    model_step, tool_step, _ = trace["steps"]
    assert model_step["model"] == "fake/calc"
    assert model_step["detail"]["mode"] == "native"
    assert model_step["messages_digest"].startswith("sha256:")
    assert model_step["route"]["model"] == "fake/calc"
    assert tool_step["decision"] == {
        "action": "allow",
        "reason": "calculator is declared read-only",
        "source": "annotations",
    }
    assert tool_step["preview"] == "391"
    assert trace["stopped"] == "answer"
    assert trace["result"] == "The answer is 391."


async def test_text_protocol_repairs_slips_and_retries() -> None:
    result, trace = await _run(_config(TEXT), model="fake/text")
    assert result.stopped == "answer"
    assert result.result == "391"
    assert [c.tool for c in result.tool_calls] == ["calculator"]
    modes = [s["detail"]["mode"] for s in trace["steps"] if s["kind"] == "model"]
    assert modes == ["text", "text", "text"]


@pytest.mark.parametrize(
    ("reply", "tool", "args", "answer"),
    [
        (
            "```json\n{'tool': 'calculator', 'arguments': {'expression': '2+2'}}\n```",
            "calculator",
            {"expression": "2+2"},
            None,
        ),
        (
            '{"name": "Calculator", "args": "{\\"expression\\": \\"1\\"}"}',
            "calculator",
            {"expression": "1"},
            None,
        ),
        (
            '{"tool_calls": [{"name": "calculator", "arguments": {"expression": "3"}}]}',
            "calculator",
            {"expression": "3"},
            None,
        ),
        ('{"answer": "cut short by the token lim', None, {}, "cut short by the token lim"),
        ("Just prose, no JSON.", None, {}, "Just prose, no JSON."),
        ('{ "answer": "864.' + "0" * 200, None, {}, "864"),
    ],
)
def test_text_protocol_tolerates_small_slips(
    reply: str, tool: str | None, args: dict[str, Any], answer: str | None
) -> None:
    turn = parse_turn(reply, ["calculator"])
    assert (turn.tool, turn.arguments, turn.answer) == (tool, args, answer)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ('{"tool": "rm", "arguments": {}}', "unknown tool 'rm'; available: calculator"),
        ('{"tool": "calculator", "arguments": [1]}', "must be a JSON object"),
        ('{"thought": "hmm"}', 'neither "tool" nor "answer"'),
        ("", "empty"),
    ],
)
def test_text_protocol_errors_say_what_is_wrong(reply: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_turn(reply, ["calculator"])


async def test_text_protocol_gives_up_after_bounded_repairs() -> None:
    garbled = {
        "name": "fake/garbled",
        "provider": "fake",
        "capabilities": ["chat"],
        "replies": [{"text": '{"tool": "calculator", "arguments": [1, 2'}],
    }
    result, _ = await _run(_config(garbled), model="fake/garbled")
    assert result.stopped == "unreadable"
    assert "could not be read after 2 repairs" in result.reason


async def test_unknown_tool_and_bad_arguments_are_fed_back() -> None:
    model = {
        "name": "fake/sloppy",
        "provider": "fake",
        "replies": [
            {"when": "missing required", "text": "gave up"},
            {"when": "unknown tool", "tool_calls": _calls(("calculator", {"expr": "1"}))},
            {"tool_calls": _calls(("shell", {"cmd": "rm -rf /"}))},
        ],
    }
    result, trace = await _run(_config(model), model="fake/sloppy")
    assert result.stopped == "answer"
    assert [(c.tool, c.ok) for c in result.tool_calls] == [("shell", False), ("calculator", False)]
    errors = [s["error"] for s in trace["steps"] if s["kind"] == "tool"]
    assert errors == ["unknown_tool", "invalid_arguments"]


async def test_a_looping_model_hits_the_step_cap() -> None:
    count = {"n": 0}

    @function_tool(read_only=True, open_world=False)
    def counter() -> str:
        count["n"] += 1
        return f"count {count['n']}"

    result, trace = await _run(_config(LOOPER), model="fake/looper", max_steps=4, tools=[counter])
    assert result.stopped == "max_steps"
    assert "4 model calls" in result.reason
    assert count["n"] == 1  # the same call repeated is answered from the first result
    tool_errors = [s.get("error") for s in trace["steps"] if s["kind"] == "tool"]
    assert tool_errors == [None, "repeated", "repeated", "repeated"]
    assert trace["steps"][-1]["kind"] == "stop"


async def test_a_repeated_identical_call_is_not_run_twice() -> None:
    model = {
        "name": "fake/repeat",
        "provider": "fake",
        "replies": [
            {"when": "Give the final answer now", "text": "42"},
            {"tool_calls": _calls(("calculator", {"expression": "6*7"}))},
        ],
    }
    result, trace = await _run(_config(model), model="fake/repeat")
    assert result.result == "42"
    tool_steps = [s for s in trace["steps"] if s["kind"] == "tool"]
    assert [s.get("error") for s in tool_steps] == [None, "repeated"]


@pytest.mark.parametrize(
    ("budget", "stopped_by"),
    [
        (Budget(steps=3), "steps taken of 3"),
        (Budget(tokens=100), "of 100 are left"),
        (Budget(usd=0.0001), "left of $0.0001"),
        (Budget(wall_s=0.3), "s elapsed of 0.3 s"),
    ],
)
async def test_budget_hard_stop_returns_what_was_done(budget: Budget, stopped_by: str) -> None:
    looper = {**LOOPER, "price": {"input_per_1m": 1.0, "output_per_1m": 1.0}, "latency_ms": 60}

    @function_tool(read_only=True, open_world=False)
    def counter() -> str:
        return "counted"

    result, trace = await _run(
        _config(looper), model="fake/looper", max_steps=50, budget=budget, tools=[counter]
    )
    assert result.stopped == "budget"
    assert stopped_by in result.reason
    assert result.tool_calls  # what was done before the stop is reported
    assert trace["budget"]["steps"] >= 1
    assert trace["steps"][-1]["kind"] == "stop"
    # a hard stop: the run stopped before the step that would have passed the budget
    if budget.tokens is not None:
        assert trace["budget"]["tokens"] <= budget.tokens
    if budget.usd is not None:
        assert trace["budget"]["usd"] <= budget.usd


WRITER = {
    "name": "fake/writer",
    "provider": "fake",
    "replies": [
        {"when": "</tool_output>", "text": "done"},
        {"tool_calls": _calls(("write_file", {"path": "notes.txt", "content": "hello"}))},
    ],
}


@pytest.mark.parametrize(
    ("permissions", "approver", "written", "decision", "source"),
    [
        ({}, None, False, "deny", "ask_default"),
        ({"default": {"ask_default": "allow"}}, None, True, "allow", "ask_default"),
        (
            {"default": {"rules": [{"tool": "write_file", "action": "deny"}]}},
            None,
            False,
            "deny",
            "rule",
        ),
        (
            {"default": {"rules": [{"tool": "write_*", "action": "allow"}]}},
            None,
            True,
            "allow",
            "rule",
        ),
        (
            {
                "default": {
                    "rules": [{"tool": "write_file", "action": "allow", "paths_under": ["out"]}]
                }
            },
            None,
            False,
            "deny",
            "constraint",
        ),
        (
            {
                "default": {
                    "rules": [{"tool": "write_file", "action": "allow", "args": {"content": "h.*"}}]
                }
            },
            None,
            True,
            "allow",
            "rule",
        ),
        ({}, True, True, "allow", "approver"),
        ({}, False, False, "deny", "approver"),
    ],
)
async def test_permission_decisions(
    tmp_path: Path,
    permissions: dict[str, Any],
    approver: bool | None,
    written: bool,
    decision: str,
    source: str,
) -> None:
    asked: list[tuple[str, dict[str, Any], Decision]] = []

    async def approve(tool: str, args: dict[str, Any], d: Decision) -> bool:
        asked.append((tool, args, d))
        assert approver is not None
        return approver

    cfg = _config(WRITER, permissions=permissions)
    result, trace = await _run(
        cfg,
        "write notes",
        model="fake/writer",
        root=tmp_path,
        approver=approve if approver is not None else None,
    )
    assert result.stopped == "answer"  # a denied call is reported and the run continues
    assert (tmp_path / "notes.txt").exists() is written
    [call] = result.tool_calls
    assert call.decision == decision
    [step] = [s for s in trace["steps"] if s["kind"] == "tool"]
    assert step["decision"]["source"] == source
    if source in ("ask_default", "approver"):
        assert step["decision"]["asked"]["action"] == "ask"
        assert "declared destructive" in step["decision"]["asked"]["reason"]
    assert bool(asked) is (approver is not None)


def test_policy_naming_an_unknown_tool_is_a_config_error() -> None:
    cfg = _config(
        CALC, permissions={"default": {"rules": [{"tool": "calculatr", "action": "allow"}]}}
    )
    with pytest.raises(
        ConfigError, match=r"no tool named 'calculatr'; available tools: calculator"
    ):
        asyncio.run(_run(cfg, model="fake/calc"))


def test_agent_sections_are_validated() -> None:
    with pytest.raises(ConfigError, match="a deny rule takes no constraints"):
        parse_config(
            {
                "permissions": {
                    "default": {"rules": [{"tool": "x", "action": "deny", "hosts": ["a"]}]}
                }
            }
        )
    with pytest.raises(ConfigError, match=r"permissions\.nosuch: no workload named 'nosuch'"):
        parse_config({"workloads": {"private": {}}, "permissions": {"nosuch": {"rules": []}}})
    with pytest.raises(ConfigError, match="worker names must be unique"):
        parse_config({"agents": {"workers": [{"name": "a"}, {"name": "a"}]}})
    cfg = parse_config(
        {"workloads": {"private": {}}, "permissions": {"private": {}, "default": {}}}
    )
    assert set(cfg.permissions) == {"private", "default"}


def test_cli_agent_json_and_trace_views(cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": [CALC], "default_model": "fake/calc"}))
    run = cli("agent", "--config", str(config), "--json", "What is 23 * 17?")
    assert run.code == 0, run.err
    data = run.json()
    assert data["result"] == "The answer is 391."
    assert data["stopped"] == "answer"
    assert data["steps"] == 3
    assert data["tool_calls"][0]["tool"] == "calculator"
    assert data["tool_calls"][0]["decision"] == "allow"
    assert data["tool_calls"][0]["ok"] is True
    trace_id = data["trace_id"]

    shown = cli("trace", "--config", str(config), trace_id)
    assert shown.code == 0, shown.err
    assert "calculator" in shown.out
    assert "[allow]" in shown.out
    assert "The answer is 391." in shown.out
    as_json = cli("trace", "--config", str(config), "--json", trace_id)
    assert [s["kind"] for s in as_json.json()["steps"]] == ["model", "tool", "model"]
    page = tmp_path / "trace.html"
    wrote = cli("trace", "--config", str(config), "last", "--html", str(page))
    assert wrote.code == 0, wrote.err
    html = page.read_text()
    assert trace_id in html
    assert "calculator" in html
    assert "<script" not in html
    listed = cli("trace", "--config", str(config))
    assert trace_id in listed.out
    missing = cli("trace", "--config", str(config), "tr_nosuch")
    assert missing.code == 2
    assert "no trace 'tr_nosuch'" in missing.err


def test_cli_agent_bad_root_and_empty_task(cli: Any, tmp_path: Path) -> None:
    bad = cli("agent", "--root", str(tmp_path / "nope"), "hi")
    assert bad.code == 2
    assert "does not exist" in bad.err
    assert "Traceback" not in bad.err
    empty = cli("agent", "   ")
    assert empty.code == 2


def test_html_escapes_untrusted_text() -> None:
    trace = {
        "id": "tr_x",
        "kind": "agent",
        "task": "<script>alert(1)</script>",
        "result": "<img src=x onerror=alert(1)>",
        "stopped": "answer",
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cost_usd": 0.0,
        "wall_ms": 10.0,
        "created_at": 0,
        "workload": "",
        "steps": [
            {
                "seq": 1,
                "kind": "tool",
                "agent": "a",
                "tool": "t",
                "preview": "<b>x</b>",
                "latency_ms": 1.0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "cost_usd": 0,
            }
        ],
    }
    html = render_html(trace)
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


async def test_images_become_ocr_text_once_for_a_text_only_model(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    from mixstack._types import ImagePart

    picture = Image.new("RGB", (460, 90), "white")
    font = ImageFont.load_default(size=36)
    ImageDraw.Draw(picture).text((12, 20), "INVOICE 4711", fill="black", font=font)
    picture.save(tmp_path / "scan.png")
    reader = {
        "name": "fake/reader",
        "provider": "fake",
        "capabilities": ["chat"],
        "replies": [{"when": "4711", "text": '{"answer": "invoice 4711"}'}, {"text": "no text"}],
    }
    async with Pipeline(_config(reader)) as pipeline:
        runtime = AgentRuntime(pipeline, model="fake/reader")
        result = await runtime.run(
            "Which invoice is this?", (ImagePart.from_path(tmp_path / "scan.png"),)
        )
    assert result.result == "invoice 4711"


def test_ask_prompts_on_the_terminal(tmp_path: Path) -> None:
    import os
    import select
    import subprocess
    import sys

    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": [WRITER], "default_model": "fake/writer"}))
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mixstack",
            "agent",
            "--config",
            str(config),
            "--root",
            str(tmp_path),
            "--json",
            "write notes",
        ],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    seen = b""
    while b"[y/N]" not in seen:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, f"no prompt; got {seen!r}"
        seen += os.read(master, 4096)
    assert b"write_file" in seen
    assert b"declared destructive" in seen
    os.write(master, b"y\n")
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    data = json.loads(out)
    assert data["tool_calls"][0]["decision"] == "allow"
    assert "approved on the terminal" in data["tool_calls"][0]["reason"]
    assert (tmp_path / "notes.txt").read_text() == "hello"


async def test_without_store_content_traces_keep_digests_only() -> None:
    cfg = parse_config({"models": [CALC], "store_content": False})
    result, trace = await _run(cfg, model="fake/calc")
    assert result.result == "The answer is 391."
    assert trace["task"].startswith("sha256:")
    assert trace["result"].startswith("sha256:")
    assert all(s["preview"] is None for s in trace["steps"])
    assert all(s["output_digest"] for s in trace["steps"] if s["kind"] in ("model", "tool"))
