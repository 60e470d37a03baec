"""Final answers on the text protocol: kept when they rest on the tool results, composed from
the last result (and said so) when they cannot stand; calls cut by the token limit repaired;
the first turn's tool requirement and offered tools in the trace. Scripted `fake` models."""

from __future__ import annotations

from typing import Any

import pytest

from mixstack.agents import AgentRuntime, function_tool, load_trace
from mixstack.agents._grounding import ToolResult, compose_answer, unusable_answer
from mixstack.config import parse_config
from mixstack.pipeline import Pipeline


@function_tool(read_only=True)
def stock(sku: str) -> int:
    """Units in stock for a product."""
    return {"A-12": 7}.get(sku, 0)


def _model(*replies: dict[str, Any], capabilities: tuple[str, ...] = ("chat", "json")) -> Any:
    """A text-protocol model (no native tools) whose replies are scripted."""
    return {
        "name": "fake/small",
        "provider": "fake",
        "capabilities": list(capabilities),
        "replies": list(replies),
    }


CALL = {"text": '{"tool": "stock", "arguments": {"sku": "A-12"}}'}


async def _run(model: dict[str, Any], task: str = "How many units of A-12 are left?") -> Any:
    async with Pipeline(parse_config({"models": [model]})) as pipeline:
        runtime = AgentRuntime(pipeline, model=model["name"], tools=[stock])
        result = await runtime.run(task)
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
    return result, trace


async def test_an_answer_that_ignores_the_tool_result_is_composed_from_it_and_says_so() -> None:
    # the small model's habit: the right call, then an example's number as the answer
    result, trace = await _run(
        _model({"when": "Tool result (stock)", "text": '{"answer": "11"}'}, CALL)
    )
    assert [c.tool for c in result.tool_calls] == ["stock"]
    assert result.result == "7"
    assert result.composed is True
    assert result.stopped == "answer"
    assert "runtime composed the answer from the stock result" in result.reason
    assert "uses nothing the tools returned" in result.reason
    assert result.to_json()["composed"] is True
    compose = trace["steps"][-1]
    assert compose["kind"] == "compose"
    assert compose["tool"] == "stock"
    assert compose["preview"] == "7"
    assert compose["detail"] == {"why": "uses nothing the tools returned", "model_answer": "11"}
    assert trace["result"] == "7"


async def test_an_answer_resting_on_the_result_is_the_models_own() -> None:
    reply = {"when": "Tool result (stock)", "text": '{"answer": "7 units of A-12 are left."}'}
    result, trace = await _run(_model(reply, CALL))
    assert result.result == "7 units of A-12 are left."
    assert result.composed is False
    assert result.reason == "the model gave its final answer"
    assert "compose" not in [s["kind"] for s in trace["steps"]]


async def test_an_answer_cut_at_the_token_limit_is_not_used() -> None:
    looping = '{"answer": "' + "There are 7 units left. " * 80 + '"}'
    result, trace = await _run(_model({"when": "Tool result (stock)", "text": looping}, CALL))
    assert result.composed is True
    assert result.result == "7"
    assert "was cut at the token limit" in result.reason
    last_model = [s for s in trace["steps"] if s["kind"] == "model"][-1]
    assert last_model["detail"]["cut"] == "the reply reached its token limit"
    # the answer after a one-character result got a small cap, not the agent's 256 tokens
    assert last_model["completion_tokens"] < 100


async def test_a_model_without_a_tool_result_keeps_its_answer() -> None:
    # nothing fits "Say hello": the model may answer at once, and nothing is composed
    result, trace = await _run(_model({"text": '{"answer": "Hello!"}'}), task="Say hello.")
    assert (result.result, result.composed, result.tool_calls) == ("Hello!", False, [])
    first = trace["steps"][0]
    assert "tool_required" not in first["detail"]


async def test_the_first_turn_requires_a_fitting_tool_and_the_trace_says_which() -> None:
    result, trace = await _run(_model({"when": "Tool result", "text": '{"answer": "7"}'}, CALL))
    first, second = [s for s in trace["steps"] if s["kind"] == "model"]
    assert first["detail"]["offered"] == ["stock"]
    assert "fits the task (stock)" in first["detail"]["tool_required"]
    assert "tool_required" not in second["detail"]  # after a result: any tool, or the answer
    assert result.result == "7"


async def test_a_call_cut_at_the_token_limit_is_repaired_not_run() -> None:
    long_sku = "A-12 " + "x" * 2000
    cut = {"text": '{"tool": "stock", "arguments": {"sku": "' + " ".join([long_sku] * 300) + '"}}'}
    fixed = {"when": "could not be used", "text": CALL["text"]}
    done = {"when": "Tool result (stock)", "text": '{"answer": "7 left"}'}
    result, trace = await _run(_model(done, fixed, cut))
    assert [c.args for c in result.tool_calls] == [{"sku": "A-12"}]
    assert result.result == "7 left"
    kinds = [s["kind"] for s in trace["steps"]]
    assert kinds == ["model", "model", "tool", "model"]


async def test_native_tool_calling_models_keep_their_own_answers() -> None:
    native = {
        "name": "fake/big",
        "provider": "fake",
        "replies": [
            {"when": "</tool_output>", "text": "I could not tell."},
            {"tool_calls": [{"name": "stock", "arguments": {"sku": "A-12"}}]},
        ],
    }
    result, trace = await _run(native)
    assert (result.result, result.composed) == ("I could not tell.", False)
    assert {s["detail"]["mode"] for s in trace["steps"] if s["kind"] == "model"} == {"native"}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("7", None),
        ("There are 7 units of A-12 left.", None),  # A-12's 12 is the task's
        ("12", "uses nothing the tools returned"),  # not the result's number
        ("There are 9 units.", "uses nothing the tools returned"),
        ("Ship the beta on Friday.", "uses nothing the tools returned"),
        ("", "is empty"),
        ("Seven. Seven units left. Seven units left. Seven units left.", "repeats itself"),
    ],
)
def test_what_makes_an_answer_unusable(answer: str, why: str | None) -> None:
    results = [ToolResult("stock", "7")]
    task = "How many units of A-12 are left?"
    assert unusable_answer(answer, task=task, results=results, cut=False) == why
    assert (
        unusable_answer("7", task=task, results=results, cut=True) == "was cut at the token limit"
    )


def test_words_and_formatted_numbers_count_as_using_the_result() -> None:
    notes = ToolResult("read_file", "The travel budget is 4,800 euros.\n")
    task = "Read budget.txt"
    assert unusable_answer("4800 euros", task=task, results=[notes], cut=False) is None
    assert unusable_answer("The budget is in euros", task=task, results=[notes], cut=False) is None
    price = ToolResult("price", "$32.00")
    assert unusable_answer("32", task="Price of a teapot?", results=[price], cut=False) is None


def test_a_composed_answer_quotes_the_result_and_bounds_it() -> None:
    assert compose_answer(ToolResult("stock", " 7\n")) == "7"
    long = compose_answer(ToolResult("read_file", "word " * 500))
    assert len(long) < 700
    assert long.endswith("…")
    assert compose_answer(ToolResult("list_dir", "")) == "(list_dir returned nothing)"


def test_a_sentence_copied_from_an_example_after_the_real_answer_is_caught() -> None:
    notes = [ToolResult("read_file", "Ship on Friday. Budget: 4000 EUR.\n")]
    task = "Summarise notes.txt"
    copied = "Ship on Friday. Budget: 4000 EUR. Call the bank."
    why = unusable_answer(copied, task=task, results=notes, cut=False)
    assert why == "adds a sentence the tools did not say ('Call the bank.')"
    own = "The team ships on Friday. The budget is 4000 EUR."
    assert unusable_answer(own, task=task, results=notes, cut=False) is None


async def test_the_trace_views_say_the_runtime_composed_the_answer() -> None:
    import io

    from rich.console import Console

    from mixstack.agents._trace_view import print_timeline, render_html

    _, trace = await _run(_model({"when": "Tool result (stock)", "text": '{"answer": "11"}'}, CALL))
    out = io.StringIO()
    print_timeline(trace, Console(file=out, width=300))
    said = "answer composed from the stock result: the model's answer uses nothing the tools"
    assert said in out.getvalue()
    html = render_html(trace)
    assert "the runtime answered with the stock result" in html
    assert "(it said: 11)" in html
