"""MCP tools over stdio: a real server subprocess written with the official SDK."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mixstack.agents import AgentRuntime, load_trace
from mixstack.config import parse_config
from mixstack.errors import ConfigError
from mixstack.pipeline import Pipeline

pytest.importorskip("mcp")

SERVER = Path(__file__).parent / "data" / "mcp_notes_server.py"


def _model(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Calls the tools in order (each reply keyed on the previous tool's output)."""
    replies: list[dict[str, Any]] = [{"when": "NOTES-DONE", "text": "done"}]
    for i, (name, args) in enumerate(calls):
        replies.append(
            {"when": f"step{i}" if i else None, "tool_calls": [{"name": name, "arguments": args}]}
        )
    return {"name": "fake/mcp", "provider": "fake", "replies": replies}


async def _run(tmp_path: Path, model: dict[str, Any], **sections: Any) -> tuple[Any, Any]:
    notes = tmp_path / "notes.txt"
    cfg = parse_config(
        {
            "models": [model],
            "tools": {
                "mcp_servers": [
                    {"name": "notes", "command": sys.executable, "args": [str(SERVER), str(notes)]}
                ]
            },
            **sections,
        }
    )
    async with Pipeline(cfg) as pipeline:
        result = await AgentRuntime(pipeline, model="fake/mcp", max_steps=5).run("tidy my notes")
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
    return result, trace


async def test_mcp_tools_are_listed_called_and_gated_by_their_annotations(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("buy milk\nstep1\n")
    model = {
        "name": "fake/mcp",
        "provider": "fake",
        "replies": [
            {"when": "denied:", "tool_calls": [{"name": "notes_fail", "arguments": {}}]},
            {"when": "notes_fail failed", "text": "NOTES-DONE"},
            {"when": "buy milk", "tool_calls": [{"name": "notes_delete_notes", "arguments": {}}]},
            {"tool_calls": [{"name": "notes_list_notes", "arguments": {}}]},
        ],
    }
    result, trace = await _run(tmp_path, model)
    assert result.stopped == "answer", [
        (s["kind"], s.get("tool"), s.get("preview")) for s in trace["steps"]
    ]
    calls = [(c.tool, c.decision, c.ok) for c in result.tool_calls]
    assert calls == [
        ("notes_list_notes", "allow", True),  # read-only → allow
        ("notes_delete_notes", "deny", False),  # destructive → ask → no one to ask → deny
        ("notes_fail", "allow", False),  # the server's error comes back as a failed call
    ]
    assert (tmp_path / "notes.txt").read_text() == "buy milk\nstep1\n"
    steps = [s for s in trace["steps"] if s["kind"] == "tool"]
    assert steps[0]["preview"].startswith("buy milk")
    assert "declared destructive" in steps[1]["decision"]["asked"]["reason"]
    assert steps[2]["preview"].startswith("notes_fail failed: Error executing tool fail")


async def test_mcp_tool_arguments_are_checked_against_its_schema(tmp_path: Path) -> None:
    model = {
        "name": "fake/mcp",
        "provider": "fake",
        "replies": [
            {"when": "invalid arguments", "text": "bad call reported"},
            {"when": "added", "text": "ok"},
            {"tool_calls": [{"name": "notes_add_note", "arguments": {"txt": 5}}]},
        ],
    }
    permissions = {"default": {"rules": [{"tool": "notes_*", "action": "allow"}]}}
    result, trace = await _run(tmp_path, model, permissions=permissions)
    assert result.result == "bad call reported"
    [step] = [s for s in trace["steps"] if s["kind"] == "tool"]
    assert step["error"] == "invalid_arguments"
    assert "'text' is a required property" in step["preview"]
    assert not (tmp_path / "notes.txt").exists()


async def test_a_server_that_does_not_start_is_a_clear_config_error(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "models": [_model(("notes_list_notes", {}))],
            "tools": {
                "mcp_servers": [
                    {
                        "name": "broken",
                        "command": sys.executable,
                        "args": [
                            "-c",
                            "import sys; sys.stderr.write('no such module'); sys.exit(3)",
                        ],
                        "timeout_s": 10,
                    }
                ]
            },
        }
    )
    async with Pipeline(cfg) as pipeline:
        with pytest.raises(ConfigError, match=r"MCP server 'broken' .* could not be started"):
            await AgentRuntime(pipeline, model="fake/mcp").run("hi")
