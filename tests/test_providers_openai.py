"""The OpenAI-compatible provider against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
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
from mixstack.errors import InvalidRequestError, ModelUnavailableError, ProviderError
from mixstack.pipeline import Pipeline
from tests.upstream_servers import (
    RecordingUpstream,
    Scripted,
    ServerThread,
    chat_events,
    chat_json,
    free_port,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00"
    b"\x00\xfd\xd4\x9as\x00\x00\x00\x16IDATx\x9cc\xfc\xcf\xc0\xc0\xc0\xc0\xc0\xc4\xc0\xc0"
    b"\xc0\xc0\xc0\x00\x00\r\x1d\x01\x03j\xc2\x9b\xe9\x00\x00\x00\x00IEND\xaeB`\x82"
)  # a valid 2x2 red PNG


@pytest.fixture
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    rec = RecordingUpstream()
    with ServerThread(rec.app) as server:
        yield rec, server.url


def _pipeline(base_url: str, **extra: Any) -> Pipeline:
    model = {
        "name": "up/chat",
        "provider": "openai",
        "base_url": f"{base_url}/v1",
        "upstream_model": "up-model",
        "price": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        "locality": "on-prem",  # no local takeover by the router when the endpoint fails
        **extra,
    }
    return Pipeline(parse_config({"models": [model], "default_model": "up/chat"}), record=False)


async def test_complete_translates_the_whole_request(
    upstream: tuple[RecordingUpstream, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, url = upstream
    monkeypatch.setenv("UP_KEY", "sk-secret")
    request = Request(
        messages=(
            Message.system("be brief"),
            Message.user("what is in this?", ImagePart.from_bytes(PNG)),
            Message.assistant("", (ToolCall(id="c1", name="calc", arguments='{"x": 1}'),)),
            Message.tool("c1", "42", name="calc"),
        ),
        tools=(Tool(name="calc", description="adds", parameters={"type": "object"}),),
        tool_choice="auto",
        params=SamplingParams(temperature=0.2, top_p=0.9, max_tokens=12, stop=("END",), seed=3),
        response_format=ResponseFormat(type="json_schema", json_schema={"type": "object"}),
        metadata={"user": "u-1"},
        model="up/chat",
    )
    async with _pipeline(url, api_key_env="UP_KEY") as pipeline:
        done = await pipeline.complete(request)
    body = rec.requests[0]
    assert rec.headers[0]["authorization"] == "Bearer sk-secret"
    assert body["model"] == "up-model"
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    parts = body["messages"][1]["content"]
    assert parts[0] == {"type": "text", "text": "what is in this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["messages"][2]["tool_calls"][0]["function"] == {
        "name": "calc",
        "arguments": '{"x": 1}',
    }
    assert body["messages"][2]["content"] is None
    assert body["messages"][3] == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "c1",
        "name": "calc",
    }
    assert body["tools"][0]["function"]["name"] == "calc"
    assert body["tool_choice"] == "auto"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 12)
    assert (body["stop"], body["seed"], body["user"]) == (["END"], 3, "u-1")
    assert "stream" not in body
    assert done.text.startswith("echo: ")
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (11, 7)
    assert done.usage.cost_usd == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)
    assert done.model == "up/chat"


async def test_quirks_reach_the_wire(upstream: tuple[RecordingUpstream, str]) -> None:
    # a server that wants OpenAI's newer token-cap field and a header of its own
    rec, url = upstream
    quirks = {"max_tokens_field": "max_completion_tokens", "headers": {"x-tenant": "blue"}}
    async with _pipeline(url, quirks=quirks) as pipeline:
        await pipeline.complete(Request.from_prompt("hi", params=SamplingParams(max_tokens=9)))
    assert rec.requests[0]["max_completion_tokens"] == 9
    assert "max_tokens" not in rec.requests[0]
    assert rec.headers[0]["x-tenant"] == "blue"


async def test_tool_calls_in_the_answer(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    call = {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    rec.script.append(Scripted(json_body=chat_json("", finish="tool_calls", tool_calls=[call])))
    async with _pipeline(url) as pipeline:
        done = await pipeline.complete(Request.from_prompt("call f", model="up/chat"))
    assert done.finish_reason == "tool_calls"
    assert done.tool_calls == (ToolCall(id="call_9", name="f", arguments="{}"),)
    assert "authorization" not in rec.headers[0]


async def test_stream_yields_pieces_then_usage(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    async with _pipeline(url) as pipeline:
        call = await pipeline.open_stream(Request.from_prompt("hi", model="up/chat"))
        pieces = [chunk.text async for chunk in call]
    assert "".join(pieces) == "echo: hi"
    assert rec.requests[0]["stream"] is True
    assert rec.requests[0]["stream_options"] == {"include_usage": True}
    assert call.completion is not None
    assert call.completion.usage.prompt_tokens == 5
    assert call.completion.usage.completion_tokens == 2


async def test_streamed_tool_calls_are_assembled(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    base = {"object": "chat.completion.chunk", "model": "m"}
    first = {"index": 0, "id": "c7", "function": {"name": "lookup", "arguments": '{"q": '}}
    rest = {"index": 0, "function": {"arguments": '"x"}'}}
    rec.script.append(
        Scripted(
            events=[
                {**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]},
                {**base, "choices": [{"index": 0, "delta": {"tool_calls": [rest]}}]},
                {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
                "[DONE]",
            ]
        )
    )
    async with _pipeline(url) as pipeline:
        call = await pipeline.open_stream(Request.from_prompt("find x", model="up/chat"))
        _ = [c async for c in call]
    assert call.completion is not None
    assert call.completion.finish_reason == "tool_calls"
    assert call.completion.tool_calls == (ToolCall(id="c7", name="lookup", arguments='{"q": "x"}'),)


async def test_one_keep_alive_connection_is_reused(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    async with _pipeline(url) as pipeline:
        for _ in range(5):
            await pipeline.complete(Request.from_prompt("again", model="up/chat"))
    assert len(rec.requests) == 5
    assert len(rec.connections) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, ModelUnavailableError), (400, InvalidRequestError), (404, ProviderError)],
)
async def test_error_statuses_map_to_the_error_tree(
    upstream: tuple[RecordingUpstream, str], status: int, error: type[Exception]
) -> None:
    rec, url = upstream
    rec.script.append(Scripted(status=status, json_body={"error": {"message": "nope"}}))
    async with _pipeline(url, retries=0) as pipeline:
        with pytest.raises(error, match="nope"):
            await pipeline.complete(Request.from_prompt("x", model="up/chat"))


async def test_retryable_status_carries_retry_after(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    rec.script.append(
        Scripted(status=503, json_body={"error": {"message": "busy"}}, headers={"retry-after": "7"})
    )
    async with _pipeline(url, retries=0) as pipeline:
        with pytest.raises(ProviderError) as info:
            await pipeline.complete(Request.from_prompt("x", model="up/chat"))
    assert info.value.status == 503
    assert info.value.retryable
    assert info.value.retry_after_s == 7.0


async def test_error_event_mid_stream_raises(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    events = chat_events(["partial "])[:2]
    events.append(json.dumps({"error": {"message": "overloaded mid-way"}}))
    rec.script.append(Scripted(events=events))
    async with _pipeline(url, retries=0) as pipeline:
        call = await pipeline.open_stream(Request.from_prompt("x", model="up/chat"))
        seen: list[str] = []

        async def consume() -> None:
            async for chunk in call:
                seen.append(chunk.text)

        with pytest.raises(ProviderError, match="overloaded mid-way"):
            await consume()
    assert seen == ["partial "]


async def test_unreachable_endpoint_is_a_retryable_provider_error() -> None:
    async with _pipeline(f"http://127.0.0.1:{free_port()}", retries=0) as pipeline:
        with pytest.raises(ProviderError, match="connection") as info:
            await pipeline.complete(Request.from_prompt("x", model="up/chat"))
    assert info.value.retryable


def test_missing_key_makes_the_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    pipeline = _pipeline("http://127.0.0.1:9", api_key_env="NOT_SET_KEY", locality="remote")
    entry = pipeline.catalog.get("up/chat")
    avail = pipeline.catalog.availability(entry)
    assert not avail.available
    assert "NOT_SET_KEY" in avail.reason
    assert pipeline.catalog.describe(entry)["locality"] == "remote"


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    from mixstack.providers.local._embedded import smollm2_path
    from tests.upstream_servers import LlamaCppServer

    server = LlamaCppServer(str(smollm2_path()))
    try:
        server.wait()
        yield server.url
    finally:
        server.stop()


@pytest.mark.model
async def test_llama_cpp_server_is_a_real_self_hosted_endpoint(llama_server: str) -> None:
    config = parse_config(
        {
            "models": [
                {
                    "name": "onprem/smollm2",
                    "provider": "openai",
                    "base_url": llama_server,
                    "locality": "on-prem",
                }
            ]
        }
    )
    request = Request.from_prompt(
        "Name one colour.", params=SamplingParams(max_tokens=8, temperature=0.0, seed=1)
    )
    async with Pipeline(config, record=False) as pipeline:
        done = await pipeline.complete(request.with_changes(model="onprem/smollm2"))
        call = await pipeline.open_stream(request.with_changes(model="onprem/smollm2"))
        pieces = [c.text async for c in call]
    assert done.text.strip()
    assert done.usage.prompt_tokens > 3
    assert 1 <= done.usage.completion_tokens <= 8
    assert done.finish_reason in ("stop", "length")
    assert "".join(pieces).strip()
    assert call.completion is not None
    assert call.completion.usage.completion_tokens >= 1
    assert call.completion.model == "onprem/smollm2"
