"""The official `anthropic` SDK against the gateway's `/v1/messages`, on any catalog model."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.interop.conftest import SMOL, Served

WEATHER: Any = {
    "name": "get_weather",
    "description": "current weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(served: Served) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=served.url, api_key="k", max_retries=0, timeout=600)


def test_messages_on_a_scripted_model_with_a_tool_round_trip(served: Served) -> None:
    c = client(served)
    tool: Any = {"name": "calculator", "input_schema": {"type": "object"}}
    first = c.messages.create(
        model="fake/tools",
        max_tokens=50,
        system="You compute.",
        messages=[{"role": "user", "content": "what is 6*7?"}],
        tools=[tool],
    )
    assert first.stop_reason == "tool_use"
    assert first.model == "fake/tools"
    use = [b for b in first.content if b.type == "tool_use"]
    assert use
    assert use[0].name == "calculator"
    assert use[0].input == {"expression": "6*7"}
    second = c.messages.create(
        model="fake/tools",
        max_tokens=50,
        messages=[
            {"role": "user", "content": "what is 6*7?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use[0].id,
                        "content": "tool result: 42",
                    }
                ],
            },
        ],
        tools=[tool],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == "The answer is 42."
    assert second.usage.input_tokens > 0


def test_streaming_and_errors_in_anthropic_shape(served: Served) -> None:
    c = client(served)
    with c.messages.stream(
        model="fake/echo", max_tokens=20, messages=[{"role": "user", "content": "one two"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: one two"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    with pytest.raises(anthropic.NotFoundError):
        c.messages.create(
            model="nope/none", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.BadRequestError, match="top_k"):
        c.messages.create(
            model="fake/echo",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"top_k": 3},
        )


@pytest.mark.model
def test_messages_with_tools_on_the_embedded_model(served: Served) -> None:
    c = client(served)
    done = c.messages.create(
        model=SMOL,
        max_tokens=60,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER],
        tool_choice={"type": "any"},
    )
    assert done.stop_reason == "tool_use"
    use = [b for b in done.content if b.type == "tool_use"]
    assert use
    assert use[0].name == "get_weather"
    assert isinstance(use[0].input, dict)
    with c.messages.stream(
        model=SMOL,
        max_tokens=60,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert streamed
    assert streamed[0].name == "get_weather"
    assert isinstance(streamed[0].input, dict)
    text = c.messages.create(
        model=SMOL,
        max_tokens=10,
        messages=[{"role": "user", "content": "Say hi."}],
        extra_body={"top_k": 20},
    )
    assert text.content[0].type == "text"
    assert text.content[0].text.strip()
