"""Faithful OpenAI compatibility: nothing dropped, nothing substituted, truthful streams.

Each test reproduces one failure seen with real clients (issue 13) against a gateway and a
scripted OpenAI-compatible upstream, both real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.store import recent_calls
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json

BASE = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def _event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


@dataclass
class Env:
    gateway: Gateway
    url: str
    upstream: RecordingUpstream

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="k", max_retries=0, timeout=30)

    def rows(self) -> list[dict[str, Any]]:
        self.gateway.pipeline.flush()
        return recent_calls(self.gateway.pipeline.store, 50)


def _up(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "base_url": f"{url}/v1",
        "upstream_model": "up-model",
        "retries": 0,
        "capabilities": ["chat", "vision", "json", "tools"],
        **extra,
    }


@pytest.fixture
def env() -> Iterator[Env]:
    rec = RecordingUpstream()
    with ServerThread(rec.app) as up:
        models = [
            *FAKE_MODELS,
            _up("up/a", up.url),
            _up("up/b", up.url),
            _up("up/guarded", up.url, fallbacks=["fake/echo"]),
        ]
        config = parse_config({"models": models, "default_model": "fake/echo"})
        gateway = Gateway(config)
        with ServerThread(gateway.app()) as server:
            yield Env(gateway, server.url, rec)


# -- 1. nothing substituted ------------------------------------------------------------------


def test_a_named_model_that_fails_is_not_answered_by_another(env: Env) -> None:
    busy = {"error": {"message": "overloaded"}}
    env.upstream.script += [Scripted(status=500, json_body=busy) for _ in range(5)]
    client = env.client()
    for i in range(6):  # five failures open up/a's circuit: the sixth is not even sent
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(
                model="up/a", messages=[{"role": "user", "content": "hi"}]
            )
        assert err.value.status_code == 502
        assert "up/a" in str(err.value)
        assert ("paused" in str(err.value)) == (i == 5)
    # another model at the same URL is still called (the breaker is per model) and answers
    raw = client.chat.completions.with_raw_response.create(
        model="up/b", messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.headers["x-mixstack-model"] == "up/b"
    assert raw.parse().model == "up/b"
    assert raw.parse().choices[0].message.content == "echo: hello"
    assert len(env.upstream.requests) == 6
    assert {r["model"] for r in env.rows()} == {"up/a", "up/b"}


def test_a_declared_fallback_answers_and_says_so(env: Env) -> None:
    env.upstream.script.append(Scripted(status=500, json_body={"error": {"message": "down"}}))
    raw = env.client().chat.completions.with_raw_response.create(
        model="up/guarded", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-mixstack-model"] == "fake/echo"
    assert raw.parse().model == "fake/echo"
    assert "fallback" in raw.headers["x-mixstack-route"]


def test_cli_exits_5_when_the_named_model_has_no_key(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"models": [{"name": "openai/gpt-4.1-mini", "provider": "openai"}]}))
    out = cli("run", "-c", str(cfg), "-m", "openai/gpt-4.1-mini", "Hi there", env={
        "OPENAI_API_KEY": ""})  # fmt: skip
    assert out.code == 5, (out.out, out.err)
    assert "OPENAI_API_KEY" in out.err
    assert out.out.strip() == ""


# -- fields: forwarded, honoured or refused by name -------------------------------------------


def test_every_field_reaches_an_openai_compatible_upstream(env: Env) -> None:
    answer = chat_json("one")
    answer["choices"].append(
        {"index": 1, "message": {"role": "assistant", "content": "two"}, "finish_reason": "stop"}
    )
    answer["choices"][0]["logprobs"] = {
        "content": [{"token": "one", "logprob": -0.5, "bytes": [111, 110, 101], "top_logprobs": []}]
    }
    env.upstream.script.append(Scripted(json_body=answer))
    tools: Any = [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "strict": True},
        }
    ]
    done = env.client().chat.completions.create(
        model="up/a",
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.org/x.png", "detail": "low"},
                    }
                ],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        tools=tools,
        n=2,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=2,
        parallel_tool_calls=False,
        reasoning_effort="low",
        service_tier="auto",
        metadata={"team": "a"},
        store=False,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
        },
        extra_body={
            "top_k": 20,
            "min_p": 0.1,
            "repetition_penalty": 1.1,
            "chat_template_kwargs": {"enable_thinking": False},
        },
    )
    body = env.upstream.requests[-1]
    assert body["messages"][1]["content"] == ""  # stays "", not null
    assert body["messages"][0]["content"][0]["image_url"]["detail"] == "low"
    assert body["tools"][0]["function"]["strict"] is True
    assert body["response_format"]["json_schema"]["strict"] is True
    expected = {
        "n": 2,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 2,
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
        "service_tier": "auto",
        "metadata": {"team": "a"},
        "store": False,
        "top_k": 20,
        "min_p": 0.1,
        "repetition_penalty": 1.1,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    assert {k: body.get(k) for k in expected} == expected
    assert [c.message.content for c in done.choices] == ["one", "two"]
    assert done.choices[0].logprobs is not None
    assert done.choices[0].logprobs.content is not None
    assert done.choices[0].logprobs.content[0].logprob == -0.5


def test_a_field_the_model_cannot_honour_is_a_400_naming_it(env: Env) -> None:
    client = env.client()
    for kwargs, field in [
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logprobs": True}, "logprobs"),
        ({"n": 2}, "n"),
        ({"extra_body": {"top_k": 5}}, "top_k"),
    ]:
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model="fake/echo", messages=[{"role": "user", "content": "hi"}], **kwargs
            )
        assert f"`{field}`" in str(err.value)
        assert "fake/echo" in str(err.value)
    with pytest.raises(openai.BadRequestError, match=r"`functions`.*tools"):
        client.chat.completions.create(
            model="up/a",
            messages=[{"role": "user", "content": "hi"}],
            functions=[{"name": "f", "parameters": {"type": "object"}}],
        )
    assert env.upstream.requests == []  # nothing was sent


def test_an_unsupported_content_part_gets_a_400_that_names_it(env: Env) -> None:
    r = httpx.post(
        f"{env.url}/v1/chat/completions",
        json={
            "model": "fake/echo",
            "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
        },
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert "input_audio" in error["message"]
    assert ".str" not in error["message"]
    assert error["param"] == "messages[0].content[0].type"


# -- 4. truthful streams and usage -------------------------------------------------------------


def test_streamed_usage_is_estimated_and_marked_when_the_upstream_sends_none(env: Env) -> None:
    events: list[Any] = [_event({"role": "assistant"}), _event({"content": "one two three"})]
    events += [_event({}, "stop"), "[DONE]"]
    env.upstream.script.append(Scripted(events=events))
    chunks = list(
        env.client().chat.completions.create(
            model="up/a",
            messages=[{"role": "user", "content": "count to three please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert env.upstream.requests[-1]["stream_options"] == {"include_usage": True}
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    # counted locally as an upper bound (one token per UTF-8 byte), not as "1 chunk"
    assert usage.completion_tokens == len(b"one two three")
    route = json.loads(env.rows()[0]["route"])
    assert any("usage estimated" in n for n in route["notes"])


def test_a_stream_that_stops_early_ends_with_an_error_event(env: Env) -> None:
    events: list[Any] = [_event({"role": "assistant"}), _event({"content": "half an "})]
    env.upstream.script.append(Scripted(events=[*events, _event({"content": "answer"})]))
    stream = env.client().chat.completions.create(
        model="up/guarded", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = []

    def read() -> None:
        for chunk in stream:
            text.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match="ended early"):
        read()
    assert "".join(text) == "half an answer"
    row = env.rows()[0]
    assert row["model"] == "up/guarded"
    assert "ended early" in row["error"]


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(json_body=chat_json("not a stream")),
        Scripted(events=[]),
    ],
    ids=["json", "empty"],
)
def test_a_200_that_is_not_a_stream_falls_back_before_the_first_chunk(
    env: Env, answer: Scripted
) -> None:
    env.upstream.script.append(answer)
    with env.client().chat.completions.with_streaming_response.create(
        model="up/guarded", messages=[{"role": "user", "content": "hi there"}], stream=True
    ) as response:
        assert response.headers["x-mixstack-model"] == "fake/echo"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse())
    assert text == "echo: hi there"
    env.upstream.script.append(answer)
    with pytest.raises(openai.APIStatusError) as err:
        env.client().chat.completions.create(
            model="up/a", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert err.value.status_code == 502
    assert "not with an event stream" in str(err.value)


def test_an_html_page_is_not_a_stream(env: Env) -> None:
    env.upstream.script.append(Scripted(events=["<html>hello</html>"]))
    with pytest.raises(openai.APIStatusError) as err:
        env.client().chat.completions.create(
            model="up/a", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert err.value.status_code == 502


# -- 5. paths ----------------------------------------------------------------------------------


def test_paths_without_v1_with_a_slash_and_one_model(env: Env) -> None:
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
    for path in ("/v1/chat/completions/", "/chat/completions", "/chat/completions/"):
        r = httpx.post(env.url + path, json=body, follow_redirects=False)
        assert r.status_code == 200, path
        assert r.json()["choices"][0]["message"]["content"] == "echo: hi"
    one = env.client().models.retrieve("up/a")
    assert (one.id, one.owned_by) == ("up/a", "openai")
    assert httpx.get(f"{env.url}/models/fake/echo").json()["id"] == "fake/echo"
    with pytest.raises(openai.NotFoundError):
        env.client().models.retrieve("nope/nothing")
