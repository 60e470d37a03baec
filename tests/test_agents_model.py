"""The real path: the embedded SmolLM2 uses the calculator through the text protocol."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.model


def test_smollm2_uses_the_calculator_end_to_end(cli: Any) -> None:
    run = cli("agent", "--json", "What is 23 * 17?", timeout=300)
    assert run.code == 0, run.err
    data = run.json()
    assert data["stopped"] == "answer"
    calls = data["tool_calls"]
    assert calls, data
    assert calls[0]["tool"] == "calculator"
    assert calls[0]["decision"] == "allow"
    assert calls[0]["ok"] is True
    assert "391" in data["result"]
    trace = cli("trace", "--json", data["trace_id"]).json()
    models = [s for s in trace["steps"] if s["kind"] == "model"]
    assert {s["model"] for s in models} == {"local/smollm2-135m-instruct"}
    assert {s["detail"]["mode"] for s in models} == {"text"}
    tool = next(s for s in trace["steps"] if s["kind"] == "tool")
    assert tool["preview"] == "391"


def test_smollm2_reads_the_file_the_task_names(cli: Any, tmp_path: Any) -> None:
    """The README's second agent example: `Summarise notes.txt` reads notes.txt."""
    (tmp_path / "notes.txt").write_text(
        "Team notes, May 3.\nThe launch moves to June 12.\nAnna owns the checklist.\n"
    )
    run = cli("agent", "--root", str(tmp_path), "--json", "Summarise notes.txt", timeout=600)
    assert run.code == 0, run.err
    data = run.json()
    calls = data["tool_calls"]
    assert calls, data
    assert calls[0]["tool"] == "read_file"
    assert calls[0]["ok"] is True
    assert "June 12" in data["result"]
