"""A real OpenAI-compatible upstream behind the gateway: llama-cpp-python's server on SmolLM2.

Pass-through of fields, a tool round trip whose assistant turn has `content: ""`, streamed
usage, and raw-prompt completions on the upstream's own `/completions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.interop.conftest import Served, serve

pytestmark = pytest.mark.model

UP = "onprem/smollm2"


@pytest.fixture(scope="module")
def behind(tmp_path_factory: pytest.TempPathFactory, llama_upstream: str) -> Iterator[Served]:
    model = {
        "name": UP,
        "provider": "openai",
        "base_url": llama_upstream,
        "locality": "on-prem",
        "retries": 0,
        "capabilities": ["chat", "json", "tools"],
    }
    home: Path = tmp_path_factory.mktemp("home")
    yield from serve(home, [model])


def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.v1, api_key="k", max_retries=0, timeout=600)


def test_fields_pass_through_and_usage_is_the_upstreams_or_marked_estimated(behind: Served) -> None:
    c = client(behind)
    done = c.chat.completions.create(
        model=UP,
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=6,
        temperature=0,
        seed=3,
        presence_penalty=0.2,
        logprobs=True,
        top_logprobs=2,
        extra_body={"top_k": 5, "min_p": 0.1, "repeat_penalty": 1.1},
    )
    assert done.model == UP
    assert done.choices[0].message.content
    assert done.usage is not None
    assert done.usage.prompt_tokens > 5
    assert done.choices[0].logprobs is not None
    chunks = list(
        c.chat.completions.create(
            model=UP,
            messages=[{"role": "user", "content": "Name a fruit."}],
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens > 5
    assert usage.completion_tokens >= 1
    # llama-cpp-python's server sends no usage in a stream, even when asked: estimated, and
    # the log says so (the plain call above carried the server's own counts)
    streamed, plain = behind.rows(2)
    assert any("usage estimated" in n for n in json.loads(streamed["route"])["notes"])
    assert not any("usage" in n for n in json.loads(plain["route"])["notes"])


def test_a_tool_round_trip_with_an_empty_assistant_content(behind: Served) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "What is 6 times 7? Use the calculator."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    done = client(behind).chat.completions.create(model=UP, messages=messages, max_tokens=12)
    assert done.choices[0].message.content is not None


def test_completions_reach_the_upstream_completions_endpoint(behind: Served) -> None:
    c = client(behind)
    done = c.completions.create(model=UP, prompt="Once upon a time", max_tokens=5, temperature=0)
    assert done.choices[0].text
    assert done.usage is not None
    assert done.usage.prompt_tokens > 0
    rows = behind.rows()
    assert rows[0]["model"] == UP
    assert rows[0]["endpoint"].startswith("http://127.0.0.1:")
