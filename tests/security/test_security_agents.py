"""Finding 3 and item 10: --yes never approves a side effect after flagged tool output,
traces say who approved, honour store_content, and http_get's allow-list holds the port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixstack.agents import AgentRuntime, Budget, load_trace
from mixstack.agents._policy import AutoApprove
from mixstack.agents.builtins import host_allowed
from mixstack.config import parse_config
from mixstack.pipeline import Pipeline
from tests.test_agents_injection import CORPUS, _Collector, _gullible, attacker

__all__ = ["attacker"]  # the fixture, shared with the injection corpus tests

HARMFUL = [c for c in CORPUS if c[0] in ("write", "exfil")]


@pytest.mark.parametrize(("name", "document"), HARMFUL, ids=[c[0] for c in HARMFUL])
async def test_yes_does_not_approve_side_effects_after_flagged_output(
    tmp_path: Path, attacker: str, name: str, document: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "doc.txt").write_text(document)
    (root / "notes.txt").write_text("original notes")
    # the default, annotation-based policy: destructive and open-world tools are `ask`
    cfg = parse_config(
        {"models": [_gullible(attacker)], "tools": {"http_allow_hosts": ["127.0.0.1"]}}
    )
    async with Pipeline(cfg) as pipeline:
        runtime = AgentRuntime(
            pipeline,
            model="fake/gullible",
            root=root,
            max_steps=6,
            budget=Budget(steps=12),
            approver=AutoApprove(),
        )
        result = await runtime.run("Summarise doc.txt")
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
    assert trace is not None
    assert (root / "notes.txt").read_text() == "original notes"
    assert _Collector.hits == []
    risky = [c for c in result.tool_calls if c.tool in ("write_file", "http_get")]
    assert risky, "the injected call was attempted (the test must exercise the policy)"
    for call in risky:
        assert call.decision == "deny"
        assert "--yes does not approve" in call.reason
        assert "FLAGGED" in call.reason


async def test_yes_approvals_say_so_in_the_trace(tmp_path: Path) -> None:
    writer = {
        "name": "fake/writer",
        "provider": "fake",
        "replies": [
            {"when": "</tool_output>", "text": "done"},
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "n.txt", "content": "hi"}}
                ]
            },
        ],
    }
    cfg = parse_config({"models": [writer]})
    async with Pipeline(cfg) as pipeline:
        runtime = AgentRuntime(pipeline, model="fake/writer", root=tmp_path, approver=AutoApprove())
        result = await runtime.run("write a note")
    assert (tmp_path / "n.txt").read_text() == "hi"
    assert result.tool_calls[0].decision == "allow"
    assert "approved by --yes" in result.tool_calls[0].reason
    assert "terminal" not in result.tool_calls[0].reason


def test_cli_yes_denies_the_injected_write(tmp_path: Path, cli: Any, attacker: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "doc.txt").write_text(HARMFUL[0][1])
    (root / "notes.txt").write_text("original notes")
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": [_gullible(attacker)]}))
    out = cli(
        "agent", "--config", str(config), "--root", str(root), "--model", "fake/gullible",
        "--yes", "--json", "Summarise doc.txt",
    )  # fmt: skip
    data = json.loads(out.out)
    assert (root / "notes.txt").read_text() == "original notes"
    writes = [c for c in data["tool_calls"] if c["tool"] == "write_file"]
    assert writes
    assert all(c["decision"] == "deny" for c in writes)


async def test_traces_without_store_content_keep_no_argument_values(tmp_path: Path) -> None:
    secret_arg = "SECRET-ARGUMENT-VALUE"
    model = {
        "name": "fake/reader",
        "provider": "fake",
        "replies": [
            {"when": "</tool_output>", "text": "done"},
            {"tool_calls": [{"name": "read_file", "arguments": {"path": secret_arg}}]},
        ],
    }
    cfg = parse_config({"models": [model], "store_content": False})
    async with Pipeline(cfg) as pipeline:
        runtime = AgentRuntime(pipeline, model="fake/reader", root=tmp_path)
        result = await runtime.run("read it")
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
        rows = pipeline.store.traces.steps(result.trace_id)
    assert trace is not None
    stored = json.dumps(trace) + json.dumps(rows)
    assert secret_arg not in stored
    tool_steps = [s for s in trace["steps"] if s["kind"] == "tool"]
    assert tool_steps[0]["arguments"]["path"].startswith("sha256:")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.org/x", True),
        ("http://api.example.org/x", True),
        ("https://sub.api.example.org/x", True),
        ("http://api.example.org:6379/", False),
        ("https://api.example.org:8443/", False),
        ("https://api.example.org.evil.test/", False),
        ("http://127.0.0.1:8080/", True),
        ("http://127.0.0.1:9090/", False),
        ("https://127.0.0.1:8080/", False),
        ("http://other.example.org/", False),
        ("http://api.example.org:notaport/", False),
    ],
)
def test_http_get_allow_list_matches_scheme_host_and_port(url: str, allowed: bool) -> None:
    hosts = ["api.example.org", "http://127.0.0.1:8080"]
    assert host_allowed(url, hosts) is allowed


def test_the_terminal_prompt_names_the_flag(tmp_path: Path, attacker: str) -> None:
    import os
    import pty
    import select
    import subprocess
    import sys

    root = tmp_path / "root"
    root.mkdir()
    (root / "doc.txt").write_text(HARMFUL[0][1])
    (root / "notes.txt").write_text("original notes")
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": [_gullible(attacker)]}))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mixstack", "agent", "--config", str(config)),
            *("--root", str(root), "--model", "fake/gullible", "--json", "Summarise doc.txt"),
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
    assert b"flagged" in seen
    assert b"FLAGGED" in seen
    os.write(master, b"n\n")
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    data = json.loads(out)
    writes = [c for c in data["tool_calls"] if c["tool"] == "write_file"]
    assert writes[0]["decision"] == "deny"
    assert "refused on the terminal" in writes[0]["reason"]
    assert (root / "notes.txt").read_text() == "original notes"
