"""The Gemini provider (official `google-genai` SDK) against a fake generateContent API."""

from __future__ import annotations

import base64
from collections.abc import Iterator

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
from mixstack.errors import ProviderError
from mixstack.pipeline import Pipeline
from tests.fake_vendors import FakeGemini
from tests.test_providers_openai import PNG
from tests.upstream_servers import ServerThread

NAME = "gemini/gemini-test"


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGemini, Pipeline]]:
    monkeypatch.setenv("GEMINI_TEST_KEY", "g-test-key")
    fake = FakeGemini()
    with ServerThread(fake.app) as server:
        model = {
            "name": NAME,
            "provider": "gemini",
            "base_url": server.url,
            "api_key_env": "GEMINI_TEST_KEY",
            "retries": 0,
            "locality": "remote",
        }
        yield fake, Pipeline(parse_config({"models": [model]}), record=False)


def _request(*, image: bool = False) -> Request:
    images = (ImagePart.from_bytes(PNG),) if image else ()
    return Request(
        model=NAME,
        messages=(
            Message.system("Be brief."),
            Message.user("Weather in Rome?", *images),
            Message.assistant(
                "", (ToolCall(id="c1", name="get_weather", arguments='{"city": "Rome"}'),)
            ),
            Message.tool("c1", "21C"),
            Message.user("Tomorrow?"),
        ),
        tools=(Tool(name="get_weather", description="weather", parameters={"type": "object"}),),
        tool_choice="auto",
        params=SamplingParams(max_tokens=32, temperature=0.1, seed=5, stop=("END",)),
        response_format=ResponseFormat(type="json_schema", json_schema={"type": "object"}),
    )


async def test_translation_and_answer(upstream: tuple[FakeGemini, Pipeline]) -> None:
    fake, pipeline = upstream
    async with pipeline:
        done = await pipeline.complete(_request(image=True))
    body = fake.requests[0]
    assert fake.paths[0].endswith("/models/gemini-test:generateContent")
    assert fake.headers[0]["x-goog-api-key"] == "g-test-key"
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user"]
    first = body["contents"][0]["parts"]
    assert first[0] == {"text": "Weather in Rome?"}
    assert base64.b64decode(first[1]["inlineData"]["data"]) == PNG
    assert body["contents"][1]["parts"][0]["functionCall"]["args"] == {"city": "Rome"}
    response = body["contents"][2]["parts"][0]["functionResponse"]
    assert (response["name"], response["response"]) == ("get_weather", {"result": "21C"})
    config = body["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"], config["seed"]) == (32, 0.1, 5)
    assert config["stopSequences"] == ["END"]
    assert config["responseMimeType"] == "application/json"
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert body["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"
    assert done.text == "Ciao from Gemini."
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (17, 8)
    assert done.finish_reason == "stop"


async def test_function_call_answer(upstream: tuple[FakeGemini, Pipeline]) -> None:
    fake, pipeline = upstream
    fake.mode = "tool"
    async with pipeline:
        done = await pipeline.complete(_request())
        call = await pipeline.open_stream(_request())
        _ = [c async for c in call]
    assert done.finish_reason == "tool_calls"
    assert done.tool_calls[0].name == "get_weather"
    assert done.tool_calls[0].parsed_arguments() == {"city": "Rome"}
    assert call.completion is not None
    assert call.completion.finish_reason == "tool_calls"
    assert call.completion.tool_calls[0].parsed_arguments() == {"city": "Rome"}


async def test_streaming(upstream: tuple[FakeGemini, Pipeline]) -> None:
    fake, pipeline = upstream
    async with pipeline:
        call = await pipeline.open_stream(_request())
        pieces = [c.text async for c in call if c.text]
    assert "streamGenerateContent" in fake.paths[0]
    assert "alt=sse" in fake.paths[0]
    assert pieces == ["Ciao ", "from Gemini."]
    assert call.completion is not None
    assert (call.completion.usage.prompt_tokens, call.completion.usage.completion_tokens) == (17, 8)


async def test_overload_is_a_retryable_provider_error(
    upstream: tuple[FakeGemini, Pipeline],
) -> None:
    fake, pipeline = upstream
    fake.mode = "unavailable"
    async with pipeline:
        with pytest.raises(ProviderError, match="overloaded") as info:
            await pipeline.complete(_request())
    assert info.value.retryable
    assert info.value.status == 503
