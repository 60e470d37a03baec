"""`mixstack audit`: the real command in a subprocess, on the example traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).parent.parent / "examples" / "audit" / "traces.jsonl"


def test_audit_json(cli: Any) -> None:
    result = cli("audit", str(EXAMPLE), "--json")
    assert result.code == 0, result.err
    report = result.json()
    verdicts = {t["id"]: t["verdict"] for t in report["traces"]}
    assert verdicts == {
        "muffins-ok": "sound",
        "muffins-lucky": "lucky",
        "jacket-mismatch": "wrong",
        "clips-reference": "sound",
        "capital-contradiction": "wrong",
        "6": "unauditable",  # no id: the line number
    }
    lucky = next(t for t in report["traces"] if t["id"] == "muffins-lucky")
    assert lucky["first_error_step"] == 1
    assert lucky["errors"] == [
        {"step": 1, "kind": "arithmetic", "detail": "24 × 7 = 178: 24 × 7 is 168, not 178"}
    ]
    summary = report["summary"]
    assert summary["traces"] == 6
    assert summary["lucky_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert summary["error_taxonomy"]["contradiction"] == 1
    models = {m["model"]: m for m in report["models"]}
    assert models["model-b"]["verdicts"]["lucky"] == 1
    assert models["model-a"]["lucky_rate"] == 0.0


def test_audit_table(cli: Any) -> None:
    result = cli("audit", str(EXAMPLE))
    assert result.code == 0, result.err
    assert "lucky" in result.out
    assert "model-b" in result.out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"question": "q"}', "missing or non-string field `output`"),
    ],
)
def test_bad_lines_name_the_line(cli: Any, tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "traces.jsonl"
    good = json.dumps({"question": "1 + 1?", "output": "1 + 1 = 2\nAnswer: 2"})
    path.write_text(f"{good}\n{line}\n")
    result = cli("audit", str(path), "--json")
    assert result.code == 2
    assert f"{path}:2:" in result.err
    assert message in result.err
    assert "Traceback" not in result.err


def test_missing_file(cli: Any, tmp_path: Path) -> None:
    result = cli("audit", str(tmp_path / "nope.jsonl"))
    assert result.code == 2
    assert "does not exist" in result.err


def test_judge_is_reported_apart(cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "mixstack.yaml"
    reply = '{"wrong_steps": [2], "notes": ["step 2: 168 - 150 is 18 but 178 was carried"]}'
    config.write_text(
        yaml.safe_dump(
            {"models": [{"name": "fake/judge", "provider": "fake", "replies": [{"text": reply}]}]}
        )
    )
    result = cli("audit", str(EXAMPLE), "--json", "--judge", "fake/judge", "-c", str(config))
    assert result.code == 0, result.err
    report = result.json()
    ok = next(t for t in report["traces"] if t["id"] == "muffins-ok")
    # the rules found nothing; the judge's opinion sits next to them, not inside them
    assert ok["errors"] == []
    assert ok["verdict"] == "sound"
    assert ok["judge"]["wrong_steps"] == [2]
    assert report["summary"]["judge"]["flagged"] >= 1
    unknown = cli("audit", str(EXAMPLE), "--judge", "fake/none", "-c", str(config))
    assert unknown.code == 2
    assert "unknown model" in unknown.err


@pytest.mark.model
def test_judge_with_local_model(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(EXAMPLE.read_text().splitlines()[1] + "\n")
    result = cli("audit", str(path), "--json", "--judge", "local/smollm2-135m-instruct")
    assert result.code == 0, result.err
    judge = result.json()["traces"][0]["judge"]
    assert judge["model"] == "local/smollm2-135m-instruct"
    assert judge["error"] is None
    assert all(1 <= s <= 2 for s in judge["wrong_steps"])
