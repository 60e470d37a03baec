"""The gateway on a real uvicorn server, driven by the official `openai` SDK."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from mixstack.config import parse_config
from mixstack.errors import PolicyError
from mixstack.gateway import Gateway
from mixstack.gateway._errors import error_response
from mixstack.store import recent_calls
from tests.conftest import FAKE_MODELS
from tests.test_providers_openai import PNG
from tests.upstream_servers import (
    RecordingUpstream,
    Scripted,
    ServerThread,
    chat_events,
)


@dataclass
class Running:
    gateway: Gateway
    url: str
    upstream: RecordingUpstream

    def client(self, key: str = "anything") -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)


def _config(upstream_url: str, **gateway: Any) -> Any:
    models = [
        *FAKE_MODELS,
        {
            "name": "up/vision",
            "provider": "openai",
            "base_url": f"{upstream_url}/v1",
            "upstream_model": "up-model",
            "retries": 0,
            "capabilities": ["chat", "vision", "json", "tools"],
            "price": {"input_per_1m": 3.0, "output_per_1m": 6.0},
        },
        {
            "name": "mine/onprem",
            "provider": "openai",
            "base_url": f"{upstream_url}/v1",
            "locality": "on-prem",
            "retries": 0,
        },
    ]
    return parse_config(
        {
            "models": models,
            "default_model": "fake/echo",
            "workloads": {"chat": {"prefer": ["fake/echo"]}},
            "gateway": {"key_cache_s": 0, **gateway},
        }
    )


@pytest.fixture
def running() -> Iterator[Running]:
    rec = RecordingUpstream()
    with ServerThread(rec.app) as up:
        gateway = Gateway(_config(up.url, max_body_bytes=4096))
        with ServerThread(gateway.app()) as server:
            yield Running(gateway, server.url, rec)


def test_completion_with_headers_and_a_recorded_call(running: Running) -> None:
    raw = running.client().chat.completions.with_raw_response.create(
        model="fake/remote", messages=[{"role": "user", "content": "hello there"}], max_tokens=50
    )
    done = raw.parse()
    assert done.choices[0].message.content == "rented answer with several words"
    assert done.choices[0].finish_reason == "stop"
    assert done.model == "fake/remote"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (3, 5)
    assert raw.headers["x-mixstack-model"] == "fake/remote"
    assert float(raw.headers["x-mixstack-cost"]) == pytest.approx((3 * 1 + 5 * 2) / 1e6)
    assert "model=fake/remote" in raw.headers["x-mixstack-route"]
    request_id = raw.headers["x-mixstack-request-id"]
    running.gateway.pipeline.flush()
    row = recent_calls(running.gateway.pipeline.store, 1)[0]
    assert (row["request_id"], row["front_door"], row["model"]) == (
        request_id,
        "gateway",
        "fake/remote",
    )


def test_streaming_with_usage(running: Running) -> None:
    with running.client().chat.completions.with_streaming_response.create(
        model="fake/echo",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-mixstack-model"] == "fake/echo"
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_streaming_without_usage_has_no_usage_chunk(running: Running) -> None:
    stream = running.client().chat.completions.create(
        model="fake/echo", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(stream)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_call_round_trip(running: Running) -> None:
    client = running.client()
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "calculator",
                "description": "evaluates arithmetic",
                "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "what is 6*7?"}]
    first = client.chat.completions.create(
        model="fake/tools", messages=messages, tools=tools, tool_choice="auto"
    )
    call = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert call is not None
    assert call[0].function.name == "calculator"
    assert json.loads(call[0].function.arguments) == {"expression": "6*7"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call[0].id, "content": "tool result: 42"},
    ]
    second = client.chat.completions.create(model="fake/tools", messages=messages, tools=tools)
    assert second.choices[0].message.content == "The answer is 42."


def test_images_and_response_format_reach_the_upstream(running: Running) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    schema = {"type": "object", "properties": {"colour": {"type": "string"}}}
    done = running.client().chat.completions.create(
        model="up/vision",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what colour?"},
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
                ],
            }
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
        temperature=0.5,
        top_p=0.5,
        seed=4,
        stop=["\n\n"],
        user="alice",
        max_completion_tokens=20,
    )
    body = running.upstream.requests[-1]
    parts = body["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == url
    assert parts[2]["image_url"]["url"] == "https://example.org/cat.jpg"
    assert body["response_format"]["json_schema"] == {"name": "c", "schema": schema}
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.5, 0.5, 4)
    assert (body["stop"], body["user"], body["max_tokens"]) == (["\n\n"], "alice", 20)
    assert done.model == "up/vision"
    assert done.usage is not None
    assert done.usage.prompt_tokens == 11


def test_mid_stream_failure_is_an_error_the_sdk_raises(running: Running) -> None:
    events = chat_events(["first "])[:2]
    events.append(json.dumps({"error": {"message": "upstream fell over"}}))
    running.upstream.script.append(Scripted(events=events))
    stream = running.client().chat.completions.create(
        model="up/vision", messages=[{"role": "user", "content": "x"}], stream=True
    )
    seen: list[str] = []

    def consume() -> None:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    # the client learns the model failed mid-stream, not the upstream's own words
    with pytest.raises(openai.APIError, match="failed mid-stream") as info:
        consume()
    assert "upstream fell over" not in str(info.value)
    assert "first " in seen


def test_upstream_failure_before_the_first_chunk_is_a_502(running: Running) -> None:
    running.upstream.script.append(Scripted(status=500, json_body={"error": {"message": "x"}}))
    with pytest.raises(openai.APIStatusError) as info:
        running.client().chat.completions.create(
            model="mine/onprem", messages=[{"role": "user", "content": "x"}], stream=True
        )
    assert info.value.status_code == 502
    assert info.value.body is not None


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"model": "fake/echo"}', 400, "messages"),
        (b'{"model": "fake/echo", "messages": "hi"}', 400, "messages"),
        (b'{"model": 3, "messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        (
            b'{"model": "fake/echo", "messages": [{"role": "user", "content": "x"}], "n": 2}',
            400,
            "n",
        ),
        (b'{"model": "fake/echo", "messages": [{"role": "robot", "content": "x"}]}', 400, None),
        (b'{"model": "fake/echo", "messages": []}', 400, "messages"),
        (b'{"model": "fake/echo", "messages": [{"role": "user", "content": ""}]}', 400, None),
        (b'{"model": "nope/x", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
    ],
)
def test_bad_requests_get_openai_error_json(
    running: Running, body: bytes, status: int, param: str | None
) -> None:
    response = httpx.post(
        f"{running.url}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"].endswith(".")
    if param is not None:
        assert error["param"].startswith(param)
    if status == 404:
        assert "/v1/models" in error["message"]


def test_undecodable_image_is_a_400(running: Running) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        running.client().chat.completions.create(
            model="up/vision",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                    ],
                }
            ],
        )
    assert info.value.code == "invalid_image"


def test_body_over_the_limit_is_a_413(running: Running) -> None:
    big = "x" * 5000
    with pytest.raises(openai.APIStatusError) as info:
        running.client().chat.completions.create(
            model="fake/echo", messages=[{"role": "user", "content": big}]
        )
    assert info.value.status_code == 413
    assert "max_body_bytes" in info.value.message


def test_models_health_metrics_and_schema(running: Running) -> None:
    models = running.client().models.list()
    ids = {m.id for m in models.data}
    assert {"fake/echo", "up/vision", "local/smollm2-135m-instruct", "workload/chat"} <= ids
    running.client().chat.completions.create(
        model="fake/echo", messages=[{"role": "user", "content": "count me"}]
    )
    for junk in ("nope/one", "nope/two"):
        with pytest.raises(openai.NotFoundError):
            running.client().chat.completions.create(
                model=junk, messages=[{"role": "user", "content": "x"}]
            )
    health = httpx.get(f"{running.url}/health").json()
    assert health["status"] == "ok"
    metrics = httpx.get(f"{running.url}/metrics").text
    assert 'mixstack_requests_total{key="-",model="fake/echo",status="200"} 1.0' in metrics
    assert "mixstack_request_latency_seconds_bucket" in metrics
    assert (
        'mixstack_errors_total{key="-",model="other",type="invalid_request_error"} 2.0' in metrics
    )
    assert "nope/one" not in metrics  # unknown names do not become labels
    assert 'mixstack_tokens_total{key="-",kind="completion",model="fake/echo"}' in metrics
    schema = httpx.get(f"{running.url}/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]
    missing = httpx.get(f"{running.url}/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_url"


def test_policy_refusals_map_to_403() -> None:
    response = error_response(PolicyError("private data may not leave; use a local model."))
    assert response.status_code == 403
    assert json.loads(bytes(response.body))["error"]["type"] == "policy_violation"


def _wait_for(predicate: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# the gateway starts watching a call for its client after 50 ms: a client gone before that
# is seen too
@pytest.mark.parametrize("leaves_after_s", [0.5, 0.01])
def test_client_disconnect_cancels_the_upstream_call(
    running: Running, leaves_after_s: float
) -> None:
    running.upstream.script.append(Scripted(json_body={}, delay_s=8))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{running.url}/v1/chat/completions",
            json={"model": "up/vision", "messages": [{"role": "user", "content": "slow"}]},
            timeout=httpx.Timeout(10, read=leaves_after_s),
        )
    assert _wait_for(lambda: running.upstream.cancelled == 1)


def test_client_disconnect_mid_stream_cancels_the_upstream_stream(running: Running) -> None:
    running.upstream.script.append(Scripted(events=chat_events(["a"] * 20), event_gap_s=0.3))
    with httpx.stream(
        "POST",
        f"{running.url}/v1/chat/completions",
        json={
            "model": "up/vision",
            "messages": [{"role": "user", "content": "long"}],
            "stream": True,
        },
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    assert _wait_for(lambda: running.upstream.cancelled == 1)


def test_a_workload_can_be_addressed_as_a_model(running: Running) -> None:
    raw = running.client().chat.completions.with_raw_response.create(
        model="workload/chat", messages=[{"role": "user", "content": "route me"}]
    )
    assert raw.parse().choices[0].message.content == "echo: route me"
    assert raw.headers["x-mixstack-model"] == "fake/echo"
    assert "workload=chat" in raw.headers["x-mixstack-route"]
