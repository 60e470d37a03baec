"""Long-context sweep: haystack building, skipping, error mix, effective length, CLI, report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixstack.sweep import build_haystack, filler_sentences, generate_filler, key_context
from mixstack.sweep._haystack import SweepError
from mixstack.sweep._summary import effective_length

EXAMPLE = Path(__file__).parent.parent / "examples" / "sweep" / "needles.yaml"


def _suite(tmp_path: Path, cases: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "suite.yaml"
    spec = {
        "name": "t",
        "defaults": {"params": {"max_tokens": 8}, "scorers": ["contains"]},
        "variants": {"read": "Document:\n{{ context }}\n\nQuestion: {{ question }}"},
        "cases": cases,
        **extra,
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _config(tmp_path: Path, replies: list[dict[str, str]], window: int = 4096) -> Path:
    path = tmp_path / "mixstack.yaml"
    model = {"name": "fake/reader", "provider": "fake", "context_window": window}
    path.write_text(yaml.safe_dump({"models": [{**model, "replies": replies}]}))
    return path


CASE = {
    "id": "code",
    "needle": "The locker combination is 4817.",
    "vars": {"question": "What is the locker combination?"},
    "expected": "4817",
}


def test_shipped_filler_is_the_generated_one() -> None:
    shipped = Path(__file__).parent.parent / "src" / "mixstack" / "sweep" / "filler.txt"
    assert shipped.read_text(encoding="utf-8") == generate_filler()
    assert not re.search(r"\d", shipped.read_text(encoding="utf-8"))


def test_needle_goes_to_the_depth_asked() -> None:
    sentences = filler_sentences()
    tokens = [len(s.split()) for s in sentences]
    key = key_context("c", "s", {"needle": "The key is under the mat."}, 0)
    start = build_haystack(sentences, tokens, 300, key, 0.0, lambda t: len(t.split()))
    end = build_haystack(sentences, tokens, 300, key, 1.0, lambda t: len(t.split()))
    middle = build_haystack(sentences, tokens, 300, key, 0.5, lambda t: len(t.split()))
    assert start.text.startswith("The key is under the mat.")
    assert end.text.endswith("The key is under the mat.")
    at = middle.text.index("The key is under the mat.")
    assert 0.35 < at / len(middle.text) < 0.65
    assert len(start.text.split()) <= 300


def test_distractors_change_the_answer() -> None:
    key = key_context("c", "s", {"needle": CASE["needle"]}, 2, expected="4817")
    assert len(key.distractors) == 2
    assert all("4817" not in d for d in key.distractors)
    assert set(key.markers) == {"8174", "1748"}
    own = key_context("c", "s", {"needle": "A is 1.", "distractors": ["A was 2 once."]}, 2)
    assert own.distractors == ("A was 2 once.", "A was 2 once.")


def test_unmarked_case_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"case 'x'.*`needle: "):
        key_context("x", "suite.yaml:3", {}, 0)
    suite = _suite(tmp_path, [{"id": "plain", "vars": {"question": "Hi?"}, "expected": "x"}])
    result = cli("sweep", str(suite), "-m", "fake/reader", "-c", str(_config(tmp_path, [])))
    assert result.code == 2
    assert "case 'plain'" in result.err
    assert "needle:" in result.err
    assert "Traceback" not in result.err


def test_effective_length_rule() -> None:
    assert effective_length([(1024, 0.8), (2048, 0.7), (4096, 0.6)]) == 2048
    assert effective_length([(1024, 0.8), (2048, 0.5), (4096, 0.8)]) == 1024
    assert effective_length([(1024, 0.0), (2048, 0.0)]) is None
    assert effective_length([(512, 1.0), (1024, None), (2048, 0.9)]) == 2048


def test_sweep_json_lengths_depths_and_skips(cli: Any, tmp_path: Path) -> None:
    suite = _suite(tmp_path, [CASE])
    config = _config(tmp_path, [{"when": "4817", "text": "4817"}], window=1024)
    result = cli(
        "sweep", str(suite), "-m", "fake/reader", "-c", str(config),
        "--lengths", "256,512,1k,2k", "--depths", "0,0.5,1", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    (model,) = report["models"]
    assert model["model"] == "fake/reader"
    assert [r["length"] for r in model["by_length"]] == [256, 512]
    assert all(r["accuracy"] == 1.0 for r in model["by_length"])
    assert [d["depth"] for d in model["by_depth"]] == [0.0, 0.5, 1.0]
    assert model["effective_length"] == 512
    assert model["distractor_rate"] is None
    skipped = {s["length"]: s["reason"] for s in model["skipped"]}
    assert set(skipped) == {1024, 2048}
    assert "context window" in skipped[2048]
    for call in report["calls"]:
        # the fake model counts words; prompts land just under each target length
        assert call["length"] * 0.95 <= call["prompt_tokens"] <= call["length"]


def test_error_mix_and_effective_length(cli: Any, tmp_path: Path) -> None:
    # a filler whose 60th sentence makes the fake model lose focus: long prompts fail
    filler = tmp_path / "filler.txt"
    lines = [f"Plain sentence number {w} about nothing much at all." for w in "abcdefghij" * 12]
    lines[60] = "The owl sleeps at noon."
    filler.write_text(" ".join(lines))
    suite = _suite(tmp_path, [CASE])
    replies = [
        {"when": "owl sleeps", "text": "The document does not say."},
        {"when": "4817", "text": "It is 4817."},
    ]
    config = _config(tmp_path, replies)
    result = cli(
        "sweep", str(suite), "-m", "fake/reader", "-c", str(config), "--filler", str(filler),
        "--lengths", "128,256,1k", "--depths", "0,1", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    (model,) = result.json()["models"]
    by_length = {r["length"]: r for r in model["by_length"]}
    assert by_length[128]["accuracy"] == 1.0
    assert by_length[1024]["accuracy"] == 0.0
    assert by_length[1024]["relative_drop"] == 1.0
    assert by_length[1024]["errors"]["refusal"] == 2
    assert model["effective_length"] in (128, 256)


def test_distractor_answers_are_counted(cli: Any, tmp_path: Path) -> None:
    suite = _suite(tmp_path, [CASE])
    # the fake reader falls for the first near miss it sees
    config = _config(tmp_path, [{"when": "8174", "text": "8174"}, {"text": "4817"}])
    result = cli(
        "sweep", str(suite), "-m", "fake/reader", "-c", str(config),
        "--lengths", "512", "--depths", "0.5", "--distractors", "2", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    (model,) = result.json()["models"]
    assert model["distractor_rate"] == 1.0
    assert model["by_length"][0]["errors"]["distractor"] == 1


def test_html_report(cli: Any, tmp_path: Path) -> None:
    suite = _suite(tmp_path, [CASE])
    config = _config(tmp_path, [{"when": "4817", "text": "4817"}], window=600)
    html = tmp_path / "sweep.html"
    result = cli(
        "sweep", str(suite), "-m", "fake/reader", "-c", str(config),
        "--lengths", "256,1k", "--depths", "0,1", "--report", str(html),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "effective length" in result.out
    page = html.read_text()
    assert page.count('class="cell"') == 3  # two depths and the row average
    assert "skipped: beyond the context window" in page
    assert not re.search(r"(src|href)=\"https?:", page)  # self-contained


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lengths", "1k,huge"], "--lengths"),
        (["--depths", "0,1.5"], "--depths"),
        (["-m", "fake/none"], "unknown model"),
    ],
)
def test_bad_options(cli: Any, tmp_path: Path, args: list[str], message: str) -> None:
    suite = _suite(tmp_path, [CASE])
    result = cli("sweep", str(suite), "-c", str(_config(tmp_path, [])), *args)
    assert result.code == 2
    assert message in result.err


@pytest.mark.model
def test_sweep_on_the_embedded_model(cli: Any) -> None:
    result = cli(
        "sweep", str(EXAMPLE), "--limit", "1", "--lengths", "256", "--depths", "1", "--json",
        timeout=300,
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    (model,) = report["models"]
    assert model["model"] == "local/smollm2-135m-instruct"
    assert model["tokenizer"] == "exact (the model's tokenizer)"
    (call,) = report["calls"]
    assert 230 <= call["prompt_tokens"] <= 256
    assert call["passed"] == (call["error_kind"] is None)
    assert json.dumps(report)
