"""`mixstack rephrase` as a real subprocess: output, --json, --diff, stdin and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROUGH = "Analyze this screenshot and tell me what to do."


def test_prints_the_rewrite_and_notes_on_stderr(cli: Any) -> None:
    res = cli("rephrase", ROUGH)
    assert res.code == 0, res.err
    assert ROUGH in res.out
    assert "UI state" in res.out
    assert "Answer in this form:" in res.out  # the default route is the small local model
    assert "use case image (detected)" in res.err
    assert "local/smollm2-135m-instruct" in res.err
    assert "?" in res.err  # questions for the user


def test_json_output_for_a_family(cli: Any) -> None:
    res = cli("rephrase", "--json", "--for", "code", "-m", "anthropic", "fix parse_date()")
    assert res.code == 0, res.err
    out = res.json()
    assert out["use_case"] == "code"
    assert out["detected"] is False
    assert out["target_family"] == "anthropic"
    assert out["mode"] == "rules"
    assert "<task>\nfix parse_date()\n</task>" in out["prompt"]
    assert set(out["slots"]) == {
        "role",
        "task",
        "context",
        "constraints",
        "steps",
        "output_format",
        "uncertainty",
    }
    assert out["slots"]["task"] == "user"
    assert any("language" in q for q in out["questions"])
    assert all(c["passed"] for c in out["checks"])


def test_stdin_and_diff(cli: Any) -> None:
    res = cli("rephrase", "--diff", "-m", "openai", stdin="Explain recursion for kids.")
    assert res.code == 0, res.err
    assert res.out.startswith("--- rough\n+++ rephrased (chat, openai)\n")
    assert "-Explain recursion for kids." in res.out
    assert "+## Task" in res.out


def test_schema_file_and_model_from_config(cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "invoice.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"total": {"type": "number"}}}))
    config = tmp_path / "mixstack.yaml"
    config.write_text(
        yaml.safe_dump({"models": [{"name": "fake/g", "provider": "fake", "family": "gemini"}]})
    )
    res = cli(
        "rephrase",
        "--json",
        "--schema",
        str(schema),
        "-m",
        "fake/g",
        "-c",
        str(config),
        "Read this invoice.",
    )
    assert res.code == 0, res.err
    out = res.json()
    assert out["use_case"] == "json"
    assert out["target_family"] == "gemini"
    assert out["target_model"] == "fake/g"
    assert '"total"' in out["prompt"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["rephrase"], "   \n", "prompt is empty"),
        (["rephrase", "--for", "limerick", "hi"], None, "unknown use case 'limerick'"),
        (["rephrase", "--mode", "magic", "hi"], None, "unknown mode 'magic'"),
        (["rephrase", "-m", "nope/model", "hi"], None, "unknown model 'nope/model'"),
        (["rephrase", "--schema", "{path}/bad.json", "hi"], None, "not valid JSON"),
        (["rephrase", "--schema", "{path}/wrong.json", "hi"], None, "not a valid JSON Schema"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: Any, tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "wrong.json").write_text('{"type": 12}')
    res = cli(*[a.replace("{path}", str(tmp_path)) for a in args], stdin=stdin)
    assert res.code == 2, (res.out, res.err)
    assert message in res.err
    assert "Traceback" not in res.err
    assert res.err.strip().startswith("error:")
