"""The Anthropic provider (official SDK) against a fake Messages API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mixstack._types import (
    ImagePart,
    Message,
    Request,
    ResponseFormat,
    SamplingParams,
    Tool,
    ToolCall,
)
from mixstack.config import parse_config
from mixstack.errors import ModelUnavailableError, ProviderError
from mixstack.pipeline import Pipeline
from tests.fake_vendors import FakeAnthropic
from tests.test_providers_openai import PNG
from tests.upstream_servers import ServerThread


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeAnthropic, Pipeline]]:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "sk-ant-test")
    fake = FakeAnthropic()
    with ServerThread(fake.app) as server:
        model = {
            "name": "anthropic/claude-test",
            "provider": "anthropic",
            "base_url": server.url,
            "api_key_env": "ANTHROPIC_TEST_KEY",
            "locality": "remote",
            "retries": 0,
            "price": {"input_per_1m": 3.0, "output_per_1m": 15.0},
        }
        config = parse_config({"models": [model], "default_model": model["name"]})
        yield fake, Pipeline(config, record=False)


def _request(*, image: bool = False, **kw: Any) -> Request:
    """A multi-turn request; the image is optional (scanning it for PII takes seconds)."""
    images = (ImagePart.from_bytes(PNG),) if image else ()
    return Request(
        model="anthropic/claude-test",
        messages=(
            Message.system("You are terse."),
            Message.user("Weather in Paris?", *images),
            Message.assistant(
                "", (ToolCall(id="toolu_00", name="get_weather", arguments='{"city": "Paris"}'),)
            ),
            Message.tool("toolu_00", "18C and sunny"),
            Message.tool("toolu_00b", "no rain"),
            Message.user("And tomorrow?"),
        ),
        tools=(Tool(name="get_weather", description="weather", parameters={"type": "object"}),),
        tool_choice="required",
        params=SamplingParams(max_tokens=64, temperature=0.3, stop=("END",)),
        **kw,
    )


async def test_translation_and_plain_answer(upstream: tuple[FakeAnthropic, Pipeline]) -> None:
    fake, pipeline = upstream
    async with pipeline:
        done = await pipeline.complete(_request(image=True))
    body = fake.requests[0]
    sent = fake.headers[0]
    assert "sk-ant-test" in (sent.get("x-api-key"), sent.get("authorization", "")[7:])
    assert body["model"] == "claude-test"
    assert body["system"] == "You are terse."
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    first = body["messages"][0]["content"]
    assert first[0] == {"type": "text", "text": "Weather in Paris?"}
    assert first[1]["source"]["type"] == "base64"
    assert first[1]["source"]["media_type"] == "image/png"
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_00", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    results = body["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_00",
        "content": "18C and sunny",
    }
    assert body["tools"][0]["input_schema"] == {"type": "object"}
    assert body["tool_choice"] == {"type": "any"}
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (64, 0.3, ["END"])
    assert done.text == "Bonjour from Claude."
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (21, 9)
    assert done.usage.cost_usd == pytest.approx((21 * 3 + 9 * 15) / 1e6)
    assert done.finish_reason == "stop"


async def test_tool_use_answer_and_json_format(upstream: tuple[FakeAnthropic, Pipeline]) -> None:
    fake, pipeline = upstream
    fake.mode = "tool"
    request = _request(response_format=ResponseFormat(type="json_object"))
    async with pipeline:
        done = await pipeline.complete(request)
    assert "JSON" in fake.requests[0]["system"]
    assert done.finish_reason == "tool_calls"
    assert done.text == "Let me check."
    assert done.tool_calls == (
        ToolCall(id="toolu_01", name="get_weather", arguments='{"city": "Paris"}'),
    )


async def test_streaming_text_tools_usage(upstream: tuple[FakeAnthropic, Pipeline]) -> None:
    fake, pipeline = upstream
    fake.mode = "tool"
    async with pipeline:
        call = await pipeline.open_stream(_request())
        pieces = [c.text async for c in call]
    assert fake.requests[0]["stream"] is True
    assert "".join(pieces) == "Bonjour"
    assert call.completion is not None
    assert call.completion.finish_reason == "tool_calls"
    assert call.completion.tool_calls[0].name == "get_weather"
    assert json.loads(call.completion.tool_calls[0].arguments) == {"city": "Paris"}
    assert (call.completion.usage.prompt_tokens, call.completion.usage.completion_tokens) == (
        25,
        15,
    )


async def test_overloaded_is_retryable_with_retry_after(
    upstream: tuple[FakeAnthropic, Pipeline],
) -> None:
    fake, pipeline = upstream
    fake.mode = "overloaded"
    async with pipeline:
        with pytest.raises(ProviderError, match="529") as info:
            await pipeline.complete(_request())
    assert info.value.retryable
    assert info.value.retry_after_s == 3.0


async def test_missing_key_is_unavailable(
    upstream: tuple[FakeAnthropic, Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pipeline = upstream
    monkeypatch.delenv("ANTHROPIC_TEST_KEY")
    entry = pipeline.catalog.get("anthropic/claude-test")
    assert "ANTHROPIC_TEST_KEY" in pipeline.catalog.availability(entry).reason
    async with pipeline:
        with pytest.raises(ModelUnavailableError, match="ANTHROPIC_TEST_KEY"):
            await pipeline.complete(_request())


def test_missing_sdk_says_which_extra_to_install(
    upstream: tuple[FakeAnthropic, Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pipeline = upstream
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if not installed
    entry = pipeline.catalog.get("anthropic/claude-test")
    assert pipeline.catalog.availability(entry).reason == "install mixstack[anthropic]"
    provider = pipeline.catalog.provider_for(entry)
    with pytest.raises(ModelUnavailableError, match=r"install mixstack\[anthropic\]"):
        asyncio.run(provider.complete(entry, _request()))


def test_sdks_are_not_imported_by_mixstack_or_the_catalog() -> None:
    code = (
        "import sys, mixstack; from mixstack.pipeline import Pipeline; "
        "Pipeline(record=False).catalog.names(); "
        "print([m for m in ('anthropic', 'google.genai', 'openai') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
