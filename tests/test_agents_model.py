"""The real path: the agent eval on the embedded SmolLM2 (in-process, temperature 0) passes
at least what the README quotes, every run ends with an answer (no unreadable reply, no step
cap), and the trace shows the text protocol under a grammar that required the first call.
The README's own agent examples run as written in `tests/test_readme.py`."""

from __future__ import annotations

import pytest

from mixstack.agents._eval_tasks import run_agent_eval
from mixstack.agents._trace import load_trace
from mixstack.config import load_config
from mixstack.pipeline import Pipeline
from tests.test_agents_protocol_examples import README_AGENT_EVAL

pytestmark = pytest.mark.model


async def test_agent_eval_on_smollm2() -> None:
    async with Pipeline(load_config(None)) as pipeline:
        rows = await run_agent_eval(pipeline)
        pipeline.flush()
        first = load_trace(pipeline.store, rows[0]["trace_id"])
    failed = [(r["id"], r["tools"], r["answer"]) for r in rows if not r["passed"]]
    passed, total, composed = README_AGENT_EVAL
    assert len(rows) == total
    assert len(rows) - len(failed) >= passed, failed
    # the runtime composes only where the model's answer could not stand, and says so
    said = [r for r in rows if r["composed"]]
    assert len(said) <= composed, [(r["id"], r["reason"]) for r in said]
    assert all("runtime composed the answer" in r["reason"] for r in said)
    assert {r["stopped"] for r in rows} == {"answer"}, [(r["id"], r["reason"]) for r in rows]
    # "What is 23 * 17?": SmolLM2 in text mode; the first turn had to call the calculator
    assert first is not None
    models = [s for s in first["steps"] if s["kind"] == "model"]
    assert {s["model"] for s in models} == {"local/smollm2-135m-instruct"}
    assert {s["detail"]["mode"] for s in models} == {"text"}
    assert models[0]["detail"]["offered"] == ["calculator"]
    tool = next(s for s in first["steps"] if s["kind"] == "tool")
    assert (tool["tool"], tool["arguments"], tool["preview"]) == (
        "calculator",
        {"expression": "23 * 17"},
        "391",
    )
