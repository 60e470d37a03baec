"""The official `openai` Python SDK against the gateway on the embedded SmolLM2 (real model)."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.interop.conftest import SMOL, Served

pytestmark = pytest.mark.model

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
TIME: Any = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "current time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.v1, api_key="k", max_retries=0, timeout=600)


def test_chat_sync_names_the_model_that_answered(served: Served) -> None:
    raw = client(served).chat.completions.with_raw_response.create(
        model=SMOL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
    )
    done = raw.parse()
    assert raw.headers["x-mixstack-model"] == SMOL
    assert done.model == SMOL
    assert done.choices[0].message.content
    assert done.usage is not None
    assert done.usage.prompt_tokens > 5


def test_chat_async_and_async_stream(served: Served) -> None:
    async def go() -> tuple[str, str]:
        aclient = openai.AsyncOpenAI(base_url=served.v1, api_key="k", max_retries=0)
        done = await aclient.chat.completions.create(
            model=SMOL, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=6
        )
        stream = await aclient.chat.completions.create(
            model=SMOL,
            messages=[{"role": "user", "content": "Name a fruit."}],
            max_tokens=6,
            stream=True,
        )
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await aclient.close()
        return done.choices[0].message.content or "", "".join(pieces)

    text, streamed = asyncio.run(go())
    assert text.strip()
    assert streamed.strip()


def test_stream_usage_is_counted_by_the_model_tokenizer(served: Served) -> None:
    chunks = list(
        client(served).chat.completions.create(
            model=SMOL,
            messages=[{"role": "user", "content": "Count: one, two"}],
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens > 5
    assert 1 <= usage.completion_tokens <= 10
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_tool_choice_required_gives_real_tool_calls(served: Served) -> None:
    done = client(served).chat.completions.create(
        model=SMOL, messages=ASK, tools=[WEATHER, TIME], tool_choice="required", max_tokens=60
    )
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls
    call = calls[0]
    assert call.type == "function"
    assert call.function.name in ("get_weather", "get_time")
    args = json.loads(call.function.arguments)
    schema = (WEATHER if call.function.name == "get_weather" else TIME)["function"]["parameters"]
    jsonschema.validate(args, schema)


def test_a_named_tool_choice_is_that_tool_and_none_is_text(served: Served) -> None:
    c = client(served)
    named = c.chat.completions.create(
        model=SMOL,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        max_tokens=60,
    )
    calls = named.choices[0].message.tool_calls
    assert calls
    assert calls[0].function.name == "get_time"
    none = c.chat.completions.create(
        model=SMOL, messages=ASK, tools=[WEATHER], tool_choice="none", max_tokens=12
    )
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content


def test_streamed_tool_calls(served: Served) -> None:
    stream = client(served).chat.completions.create(
        model=SMOL,
        messages=ASK,
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=60,
        stream=True,
    )
    name, args, finish = "", "", None
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or ():
            assert delta.function is not None
            name += delta.function.name or ""
            args += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather"
    assert finish == "tool_calls"
    jsonschema.validate(json.loads(args), WEATHER["function"]["parameters"])


def test_tool_round_trip_and_the_private_workload_give_one_behaviour(served: Served) -> None:
    c = client(served)
    first = c.chat.completions.create(
        model="workload/private", messages=ASK, tools=[WEATHER], tool_choice="required"
    )
    call = first.choices[0].message.tool_calls
    assert call
    assert first.model == SMOL
    second = c.chat.completions.create(
        model=SMOL,
        messages=[
            *ASK,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call[0].id, "content": "18 C and sunny"},
        ],
        tools=[WEATHER],
        max_tokens=40,
    )
    message = second.choices[0].message
    assert message.content or message.tool_calls


def test_required_tools_on_a_base_model_is_a_400(served: Served) -> None:
    with pytest.raises(openai.BadRequestError, match="`tools`"):
        client(served).chat.completions.create(
            model="local/gemma3-270m", messages=ASK, tools=[WEATHER], tool_choice="required"
        )


class City(BaseModel):
    name: str
    country: str
    population: int


def test_parse_returns_a_valid_object(served: Served) -> None:
    done = client(served).beta.chat.completions.parse(
        model=SMOL,
        messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        response_format=City,
        max_tokens=60,
    )
    parsed = done.choices[0].message.parsed
    assert isinstance(parsed, City)


def test_json_schema_output_is_always_valid_json(served: Served) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "lines": {"type": "string"}},
        "required": ["title", "lines"],
    }
    done = client(served).chat.completions.create(
        model=SMOL,
        messages=[{"role": "user", "content": "Write a short poem with several lines."}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
        n=2,
        temperature=1.2,
        seed=7,
        max_tokens=48,
    )
    assert len(done.choices) == 2
    for choice in done.choices:
        text = choice.message.content or ""
        if choice.finish_reason == "length":
            continue  # cut by max_tokens: the grammar held, the answer is just unfinished
        value = json.loads(text)  # strict: a raw control character in a string fails here
        jsonschema.validate(value, schema)


def test_n_seed_stop_penalties_and_logprobs_on_a_local_model(served: Served) -> None:
    c = client(served)
    ask: Any = [{"role": "user", "content": "Tell me a story about a cat."}]
    kw: Any = {"model": SMOL, "messages": ask, "max_tokens": 12, "temperature": 1.0}
    a = c.chat.completions.create(**kw, seed=11, n=2)
    b = c.chat.completions.create(**kw, seed=11)
    assert len(a.choices) == 2
    assert a.choices[0].message.content == b.choices[0].message.content
    stopped = c.chat.completions.create(
        model=SMOL,
        messages=[{"role": "user", "content": "Count from 1 to 10 separated by commas."}],
        max_tokens=40,
        temperature=0,
        stop=["5"],
        presence_penalty=0.5,
        frequency_penalty=0.5,
        extra_body={"top_k": 10, "repetition_penalty": 1.1},
    )
    assert "5" not in (stopped.choices[0].message.content or "")
    lp = c.chat.completions.create(
        model=SMOL, messages=ask, max_tokens=5, temperature=0, logprobs=True, top_logprobs=3
    )
    content = lp.choices[0].logprobs.content if lp.choices[0].logprobs else None
    assert content
    assert "".join(e.token for e in content) == lp.choices[0].message.content
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].logprob >= entry.logprob - 1e-4  # greedy: the best


def test_responses_text_stream_tools_and_follow_up(served: Served) -> None:
    c = client(served)
    first = c.responses.create(model=SMOL, input="My name is Ada. Say hello.", max_output_tokens=16)
    assert first.output_text.strip()
    assert first.model == SMOL
    assert first.usage is not None
    assert first.usage.input_tokens > 5
    follow = c.responses.create(
        model=SMOL,
        input="What is my name?",
        previous_response_id=first.id,
        max_output_tokens=16,
    )
    assert follow.output_text.strip()
    events = list(
        c.responses.create(model=SMOL, input="Name a colour.", max_output_tokens=8, stream=True)
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] in ("response.completed", "response.incomplete")
    deltas = "".join(getattr(e, "delta", "") for e in events if e.type.endswith("text.delta"))
    assert deltas.strip()
    tool: Any = {"type": "function", **WEATHER["function"]}
    called = c.responses.create(
        model=SMOL, input="Weather in Rome?", tools=[tool], tool_choice="required"
    )
    calls = [o for o in called.output if o.type == "function_call"]
    assert calls
    assert calls[0].name == "get_weather"
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        c.responses.create(model=SMOL, input="x", previous_response_id="resp_unknown")


def test_completions_take_the_prompt_as_written(served: Served) -> None:
    c = client(served)
    done = c.completions.create(
        model=SMOL, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=2
    )
    assert done.object == "text_completion"
    assert done.choices[0].text
    assert done.choices[0].logprobs is not None
    assert done.choices[0].logprobs.top_logprobs
    echoed = c.completions.create(
        model=SMOL, prompt="One, two,", max_tokens=3, temperature=0, echo=True
    )
    assert echoed.choices[0].text.startswith("One, two,")
    pieces = [
        ch.choices[0].text
        for ch in c.completions.create(model=SMOL, prompt="Hello", max_tokens=4, stream=True)
        if ch.choices
    ]
    assert "".join(pieces)


def test_embeddings_from_the_local_model(served: Served) -> None:
    c = client(served)
    done = c.embeddings.create(model=SMOL, input=["a cat", "a kitten", "tax law"])
    vectors = [d.embedding for d in done.data]
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])
    assert done.usage.prompt_tokens > 0
    floats = c.embeddings.create(model=SMOL, input="a cat", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-5)
    with pytest.raises(openai.BadRequestError, match="`dimensions`"):
        c.embeddings.create(model=SMOL, input="a cat", dimensions=8)
    rows = served.rows()
    assert any(r["finish_reason"] == "embeddings" and r["front_door"] == "gateway" for r in rows)
