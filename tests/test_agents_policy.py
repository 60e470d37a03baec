"""The permission policy on its own: rules, constraints, annotation defaults, taint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mixstack.agents import Decision, PermissionPolicy, ToolAnnotations, function_tool
from mixstack.agents._policy import AutoApprove
from mixstack.agents._tools import AgentTool
from mixstack.config.agents import PermissionSet


def _tool(name: str, **notes: bool | None) -> AgentTool:
    def fn(path: str = "", url: str = "") -> str:
        return ""

    tool: AgentTool = function_tool(fn, name=name, **notes)
    return tool


def _policy(rules: list[dict[str, Any]], root: Path | None = None, **kw: Any) -> PermissionPolicy:
    return PermissionPolicy(PermissionSet.model_validate({"rules": rules, **kw}), root=root)


@pytest.mark.parametrize(
    ("notes", "action"),
    [
        ({"read_only": True, "open_world": False}, "allow"),
        ({"read_only": True, "open_world": True}, "ask"),
        ({"read_only": False, "destructive": True}, "ask"),
        ({}, "ask"),
    ],
)
def test_defaults_come_from_annotations(notes: dict[str, bool], action: str) -> None:
    decision = _policy([]).decide(_tool("t", **notes), {})
    assert decision.action == action
    assert decision.source == "annotations"


def test_first_matching_rule_wins_and_globs_match(tmp_path: Path) -> None:
    policy = _policy(
        [
            {"tool": "notes_delete*", "action": "deny", "reason": "never delete notes"},
            {"tool": "notes_*", "action": "allow"},
        ]
    )
    assert policy.decide(_tool("notes_delete_all"), {}) == Decision(
        "deny", "never delete notes", "rule"
    )
    assert policy.decide(_tool("notes_list"), {}).action == "allow"
    assert policy.decide(_tool("other", read_only=False), {}).source == "annotations"


def test_path_host_and_argument_constraints(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    policy = _policy(
        [
            {"tool": "read_file", "action": "allow", "paths_under": ["public"]},
            {"tool": "http_get", "action": "allow", "hosts": ["docs.example.com"]},
            {"tool": "shell", "action": "ask", "args": {"path": r"ls( -l)?"}},
        ],
        root=tmp_path,
    )
    read = _tool("read_file")
    assert policy.decide(read, {"path": "public/a.txt"}).action == "allow"
    outside = policy.decide(read, {"path": "private/a.txt"})
    assert outside.action == "deny"
    assert outside.source == "constraint"
    assert "is not under public" in outside.reason
    sneaky = policy.decide(read, {"path": "public/../private/a.txt"})
    assert sneaky.action == "deny"
    http = _tool("http_get")
    assert policy.decide(http, {"url": "https://docs.example.com/x"}).action == "allow"
    assert policy.decide(http, {"url": "https://api.docs.example.com/x"}).action == "allow"
    assert policy.decide(http, {"url": "https://docs.example.com.evil.io/"}).action == "deny"
    shell = _tool("shell")
    assert policy.decide(shell, {"path": "ls -l"}).action == "ask"
    assert policy.decide(shell, {"path": "rm -rf /"}).action == "deny"


def test_flagged_context_turns_side_effects_into_ask() -> None:
    policy = _policy([{"tool": "*", "action": "allow"}])
    flagged = ("override",)
    writer = _tool("write_file", read_only=False, destructive=True)
    reader = _tool("read_file", read_only=True, open_world=False)
    web = _tool("http_get", read_only=True, open_world=True)
    assert policy.decide(writer, {}).action == "allow"
    assert policy.decide(writer, {}, flagged=flagged).source == "taint"
    assert policy.decide(web, {}, flagged=flagged).action == "ask"
    assert policy.decide(reader, {}, flagged=flagged).action == "allow"


async def test_ask_resolves_to_the_default_or_the_approver() -> None:
    ask = Decision("ask", "why", "annotations")
    assert (await _policy([]).resolve(ask, "t", {})).action == "deny"
    allow_default = _policy([], ask_default="allow")
    assert (await allow_default.resolve(ask, "t", {})).action == "allow"
    # `--yes` approves ordinary asks (and says so) but not those raised by flagged output
    yes = PermissionPolicy(PermissionSet(), approver=AutoApprove())
    approved = await yes.resolve(ask, "t", {})
    assert approved.action == "allow"
    assert "approved by --yes" in approved.reason
    assert "terminal" not in approved.reason
    tainted = await yes.resolve(Decision("ask", "flagged", "taint"), "t", {})
    assert tainted.action == "deny"
    assert "--yes does not approve" in tainted.reason
    # a flagged call is denied even where ask_default would allow it
    assert (await allow_default.resolve(Decision("ask", "f", "taint"), "t", {})).action == "deny"


def test_annotations_are_plain_values() -> None:
    notes = ToolAnnotations(read_only=True)
    assert notes.to_json() == {"read_only": True, "destructive": None, "open_world": None}
