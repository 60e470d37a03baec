"""Built-in scorers, found through the entry-point group, on real answers' shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mixstack._types import Completion, ToolCall, Usage
from mixstack.evals import Case, ScorerSpec, SuiteError
from mixstack.evals.scorers import Score, ScoreContext, ScorerEnv, ScorerError, ScorerRegistry
from mixstack.evals.scorers.extract import final_number
from mixstack.evals.scorers.judge import parse_judge_reply
from mixstack.evals.scorers.similarity import SimilarityOptions, SimilarityScorer


def _ctx(output: str, expected: Any = None, **completion: Any) -> ScoreContext:
    case = Case(id="c1", input="What is it?", expected=expected)
    return ScoreContext(
        case=case,
        completion=Completion(
            request_id="r", model="fake/echo", provider="fake", text=output, **completion
        ),
    )


async def _score(spec: Any, output: str, expected: Any = None, **completion: Any) -> Score:
    registry = ScorerRegistry(ScorerEnv())
    return await registry.build(ScorerSpec.parse(spec)).score(_ctx(output, expected, **completion))


def test_builtins_register_through_entry_points() -> None:
    names = ScorerRegistry(ScorerEnv()).names()
    for name in [
        "exact",
        "choice",
        "contains",
        "not_contains",
        "regex",
        "numeric",
        "json_valid",
        "json_schema",
        "similarity",
        "judge",
        "python",
        "tool_call",
        "max_latency_ms",
        "max_cost",
    ]:
        assert name in names


@pytest.mark.parametrize(
    ("spec", "output", "expected", "passed"),
    [
        ("exact", "Paris.", "Paris", True),
        ("exact", "paris", "Paris", False),
        ({"exact": {"ignore_case": True}}, "paris", "Paris", True),
        ("contains", "The capital is PARIS.", "paris", True),
        ("contains", "Lyon", ["Paris", "Lyon"], False),
        ({"contains": {"any": True}}, "Lyon", ["Paris", "Lyon"], True),
        ("not_contains", "I cannot help", "as an AI", True),
        ({"not_contains": ["sorry", "cannot"]}, "Sorry, no.", None, False),
        ({"regex": {"pattern": r"^\d{3}-\d{4}$", "full": True}}, "555-1234", None, True),
        ({"regex": {"pattern": r"^\d{3}-\d{4}$"}}, "call 555-1234", None, False),
        ("numeric", "So the total is 1,234.50 dollars.", 1234.5, True),
        ("numeric", "2 + 3 = 6", 5, False),
        ({"numeric": {"tolerance": 0.5}}, "about 9.7", 10, True),
        ("numeric", "three quarters: 3/4", 0.75, True),
        ("choice", "The answer is (C) because …", "C", True),
        ("choice", "B) is right", "c", False),
        ("json_valid", 'Here: ```json\n{"a": 1}\n```', None, True),
        ("json_valid", "{not json", None, False),
        (
            "json_fields",
            'x {"name": "Ann  Lee", "age": 30} y',
            {"name": "ann lee", "age": 30},
            True,
        ),
        ({"max_cost": 0.01}, "x", None, True),
    ],
)
async def test_text_and_structured_scorers(
    spec: Any, output: str, expected: Any, passed: bool
) -> None:
    assert (await _score(spec, output, expected)).passed is passed


async def test_json_schema_reports_the_failing_field(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}
    ok = await _score({"json_schema": {"schema": schema}}, '{"age": 3}')
    bad = await _score({"json_schema": {"schema": schema}}, '{"age": "three"}')
    assert ok.passed
    assert not bad.passed
    assert "age" in bad.detail


def test_json_schema_file_and_bad_schema_fail_before_any_call(tmp_path: Path) -> None:
    registry = ScorerRegistry(ScorerEnv(base_dir=tmp_path))
    (tmp_path / "s.json").write_text('{"type": "object"}')
    registry.build(ScorerSpec.parse({"json_schema": {"schema_file": "s.json"}}))
    with pytest.raises(SuiteError, match="schema is invalid"):
        registry.build(ScorerSpec.parse({"json_schema": {"schema": {"type": 5}}}))
    with pytest.raises(SuiteError, match="cannot read"):
        registry.build(ScorerSpec.parse({"json_schema": {"schema_file": "none.json"}}))


def test_unknown_scorer_and_bad_options() -> None:
    registry = ScorerRegistry(ScorerEnv())
    with pytest.raises(SuiteError, match=r"unknown scorer 'exactly'.*known scorers: choice"):
        registry.build(ScorerSpec.parse("exactly"))
    with pytest.raises(SuiteError, match="scorer numeric: tolerance"):
        registry.build(ScorerSpec.parse({"numeric": {"tolerance": "wide"}}))
    with pytest.raises(SuiteError, match="regular expression"):
        registry.build(ScorerSpec.parse({"regex": {"pattern": "("}}))


async def test_tool_call_scorer() -> None:
    call = ToolCall(id="1", name="weather", arguments='{"city": "Oslo", "unit": "C"}')
    expected = {"name": "weather", "arguments": {"city": "oslo"}}
    assert (await _score("tool_call", "", expected, tool_calls=(call,))).passed
    wrong = await _score("tool_call", "", {"name": "weather", "arguments": {"city": "Rome"}},
                         tool_calls=(call,))  # fmt: skip
    assert (wrong.passed, wrong.value) == (False, 0.5)
    assert not (await _score("tool_call", "no tools", expected)).passed


async def test_latency_limit_uses_the_completion() -> None:
    fast = await _score({"max_latency_ms": 100}, "x", usage=Usage(latency_ms=40))
    slow = await _score({"max_latency_ms": 100}, "x", usage=Usage(latency_ms=400))
    assert fast.passed
    assert not slow.passed


async def test_missing_expected_is_an_error_not_a_failure() -> None:
    with pytest.raises(ScorerError, match="no `expected`"):
        await _score("exact", "anything")
    with pytest.raises(ScorerError, match="not a number"):
        await _score("numeric", "4", "four-ish")


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"score": 8, "reason": "good"}', 0.8),
        ('Sure! ```json\n{"score": "6", "reason": "ok"}\n```', 0.6),
        ("Score: 3/5 — partly right", 0.6),
        ("I'd give it 9 out of 10.", 0.9),
        ("Verdict: PASS", 1.0),
        ('{"score": 14}', 1.0),
    ],
)
def test_judge_replies_parse_robustly(reply: str, value: float) -> None:
    assert parse_judge_reply(reply)[0] == pytest.approx(value)


def test_judge_reply_without_a_score_is_an_error() -> None:
    with pytest.raises(ScorerError, match="no score"):
        parse_judge_reply("I think the answer is interesting.")


def test_final_number() -> None:
    assert final_number("from 3 to -12.5%") == -12.5
    assert final_number("none here") is None
    assert final_number("1e3 and 2,000") == 2000


async def test_python_scorer_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text(
        "def polite(output, expected):\n"
        "    return {'score': 0.9 if 'please' in output else 0.1, 'detail': expected}\n"
        "async def boom(output):\n"
        "    raise ValueError('bad day')\n"
    )
    registry = ScorerRegistry(ScorerEnv(base_dir=tmp_path))
    polite = registry.build(ScorerSpec.parse({"python": {"function": "checks.py:polite"}}))
    score = await polite.score(_ctx("yes please", "x"))
    assert (score.value, score.passed, score.detail) == (0.9, True, "x")
    boom = registry.build(ScorerSpec.parse({"python": {"function": "checks.py:boom"}}))
    with pytest.raises(ScorerError, match="bad day"):
        await boom.score(_ctx("x"))
    with pytest.raises(SuiteError, match="no function 'gone'"):
        registry.build(ScorerSpec.parse({"python": {"function": "checks.py:gone"}}))


async def test_similarity_threshold_on_given_embeddings() -> None:
    vectors = {
        "a cat sat": [1.0, 0.0, 0.2],
        "a cat sits": [0.9, 0.1, 0.2],
        "stocks fell": [0, 1, 0],
    }
    scorer = SimilarityScorer(
        SimilarityOptions(threshold=0.9),
        ScorerEnv(),
        embed=lambda texts: [vectors[t] for t in texts],
    )
    assert (await scorer.score(_ctx("a cat sat", "a cat sits"))).passed
    assert not (await scorer.score(_ctx("stocks fell", "a cat sits"))).passed


def test_judge_model_must_be_in_the_catalog(fake_config: Any) -> None:
    from mixstack.pipeline import Pipeline

    catalog = Pipeline(fake_config, record=False).catalog
    registry = ScorerRegistry(ScorerEnv(catalog=catalog))
    registry.build(ScorerSpec.parse({"judge": {"model": "fake/echo"}}))
    with pytest.raises(SuiteError, match="'openai/nope' is not in the catalog"):
        registry.build(ScorerSpec.parse({"judge": {"model": "openai/nope"}}))
