"""The `model` mode: a model rewrites, the checks decide; fakes for the logic, SmolLM2 for real."""

from __future__ import annotations

from typing import Any

import pytest

import mixstack
from mixstack.config import Config, parse_config
from mixstack.pipeline import Pipeline
from mixstack.rephrase._model_mode import CRITICAL, parse_sections, reply_budget
from mixstack.rephrase._rules import Target, rules_rewrite
from mixstack.store import recent_calls

ROUGH = "Summarize the Q3 report for Acme Corp in 3 bullet points. Revenue was 1,280 EUR."
GOOD = (
    "Role: You are a financial analyst.\n"
    "Task: Summarize the Q3 report for Acme Corp in 3 bullet points. Revenue was 1,280 EUR.\n"
    "Constraints: none\n"
    "Output format: 3 bullet points.\n"
    "If unsure: Say which figure you are unsure about."
)
DROPS_FACTS = GOOD.replace(" Revenue was 1,280 EUR.", "")
NEW_NUMBER = GOOD.replace("Constraints: none", "Constraints: Use at most 500 words.")
NEW_REQUIREMENT = GOOD.replace(
    "Constraints: none", "Constraints: Mention quarterly competitor benchmarks."
)
NO_TEMPLATE = "The Acme Corp Q3 report highlighted a revenue of 1,280 EUR."


def _config(reply: str) -> Config:
    return parse_config(
        {
            "models": [
                {"name": "fake/writer", "provider": "fake", "replies": [{"text": reply}]},
                {"name": "fake/target", "provider": "fake", "family": "openai"},
            ]
        }
    )


async def _rephrase(reply: str) -> tuple[mixstack.RephraseResult, list[dict[str, Any]]]:
    async with Pipeline(_config(reply)) as pipeline:
        out = await mixstack.arephrase(
            ROUGH, target="fake/target", mode="model", rewriter="fake/writer", pipeline=pipeline
        )
        pipeline.flush()
        rows = recent_calls(pipeline.store)
    return out, rows


async def test_a_faithful_model_rewrite_is_kept() -> None:
    out, rows = await _rephrase(GOOD)
    assert out.mode == "model"
    assert out.rewriter == "fake/writer"
    assert out.notes == ()
    assert out.prompt.startswith("You are a financial analyst.")
    assert "## Task" in out.prompt
    assert "1,280 EUR" in out.prompt
    assert out.slots["role"] == "model"
    names = {c.name: c.passed for c in out.checks}
    assert names["invented"]
    assert names["template"]
    assert names["facts"]
    # the rewrite itself was a recorded call through the pipeline
    assert [(r["model"], r["front_door"]) for r in rows] == [("fake/writer", "rephrase")]
    assert "Rough prompt: " + ROUGH in rows[0]["prompt"]


@pytest.mark.parametrize(
    ("reply", "failed_check", "detail"),
    [
        (DROPS_FACTS, "facts", "1,280"),
        (NEW_NUMBER, "invented", "500"),
        (NEW_REQUIREMENT, "invented", "competitor"),
        (NO_TEMPLATE, "template", "role"),
    ],
)
async def test_a_bad_model_rewrite_falls_back_to_the_rules(
    reply: str, failed_check: str, detail: str
) -> None:
    out, _ = await _rephrase(reply)
    rules = mixstack.rephrase(ROUGH, target="openai")
    assert out.mode == "rules"
    assert out.prompt == rules.prompt
    assert out.rewriter == "fake/writer"
    assert len(out.notes) == 1
    assert "rejected" in out.notes[0]
    assert failed_check in out.notes[0]
    failed = [c for c in out.rejected_checks if not c.passed]
    assert failed_check in {c.name for c in failed}
    assert any(detail in c.detail for c in failed)
    assert out.passed


async def test_a_rewriter_that_rambles_is_cut_at_the_reply_budget() -> None:
    """A model that ignores the form writes on; it is stopped at the labelled lines' budget
    (seconds on a CPU), not at a fixed length, and the rules rewrite is used."""
    out, rows = await _rephrase("The report " * 600)
    assert out.mode == "rules"
    assert "template" in out.notes[0]
    instructions = rules_rewrite(ROUGH, None, Target("openai")).analysis.instruction_text
    assert rows[0]["completion_tokens"] == reply_budget(instructions) < 200


async def test_a_long_prompt_restated_in_full_fits_the_reply_budget() -> None:
    rough = ROUGH + " " + " ".join(f"Mention item {i} of the annex." for i in range(40))
    good = GOOD.replace(ROUGH, rough)
    async with Pipeline(_config(good)) as pipeline:
        out = await mixstack.arephrase(
            rough, target="fake/target", mode="model", rewriter="fake/writer", pipeline=pipeline
        )
    assert out.mode == "model", out.notes
    assert "Mention item 39 of the annex." in out.prompt


def test_parse_sections_tolerates_markdown_labels() -> None:
    text = "**Role:** an editor\n## Task: fix `x`\nmore task\n- Constraints: none\nIf unsure: ask"
    assert parse_sections(text) == {
        "role": "an editor",
        "task": "fix `x`\nmore task",
        "constraints": "none",
        "uncertainty": "ask",
    }


@pytest.mark.model
def test_model_mode_on_the_embedded_smollm2() -> None:
    out = mixstack.rephrase(ROUGH, target="openai", mode="model")
    assert out.rewriter == "local/smollm2-135m-instruct"
    for fact in ("1,280", "Acme Corp", "Q3"):
        assert fact in out.prompt
    if out.mode == "rules":
        # a 135M model rarely keeps the form; the checks must say why it was rejected
        assert out.notes
        assert any(c.name in CRITICAL and not c.passed for c in out.rejected_checks)
    else:
        assert all(c.passed for c in out.checks if c.name in CRITICAL)
