"""Pipeline logic on the fake provider: completion, streaming, tool calls, errors, records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mixstack
from mixstack.config import Config
from mixstack.errors import InvalidRequestError, ProviderError, UnknownModelError
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls
from mixstack.types import Message, Request, SamplingParams


async def test_complete_records_one_row(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        out = await pipeline.complete(Request.from_prompt("hello there", model="fake/echo"))
        pipeline.flush()
        rows = recent_calls(pipeline.store)
    assert out.text == "echo: hello there"
    assert out.model == "fake/echo"
    assert out.usage.prompt_tokens == 3
    assert out.usage.completion_tokens == 3
    assert out.route is not None
    assert out.route["model"] == "fake/echo"
    assert [r["request_id"] for r in rows] == [out.request_id]
    assert rows[0]["response"] == "echo: hello there"
    assert rows[0]["locality"] == "local"


async def test_stream_matches_complete_and_has_ttft(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        request = Request.from_prompt("one two three", model="fake/echo")
        whole = await pipeline.complete(request)
        call = await pipeline.open_stream(request)
        assert call.model == "fake/echo"
        pieces = [chunk async for chunk in call]
    assert "".join(c.text for c in pieces) == whole.text
    assert len([c for c in pieces if c.text]) > 1
    assert pieces[-1].usage is not None
    assert call.completion is not None
    assert call.completion.usage.ttft_ms is not None
    assert call.completion.text == whole.text


async def test_cost_uses_catalog_prices(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        out = await pipeline.complete(Request.from_prompt("hi", model="fake/remote"))
    expected = (out.usage.prompt_tokens * 1.0 + out.usage.completion_tokens * 2.0) / 1e6
    assert out.usage.cost_usd == pytest.approx(expected)
    assert out.usage.cost_usd > 0


async def test_tool_calls_round_trip(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        first = await pipeline.complete(Request.from_prompt("what is 6*7?", model="fake/tools"))
        assert first.finish_reason == "tool_calls"
        call = first.tool_calls[0]
        assert call.name == "calculator"
        assert call.parsed_arguments() == {"expression": "6*7"}
        follow = Request(
            model="fake/tools",
            messages=(
                Message.user("what is 6*7?"),
                Message.assistant("", first.tool_calls),
                Message.tool(call.id, "tool result: 42", name="calculator"),
            ),
        )
        second = await pipeline.complete(follow)
    assert second.text == "The answer is 42."


async def test_provider_error_is_recorded(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        with pytest.raises(ProviderError, match="upstream exploded"):
            await pipeline.complete(Request.from_prompt("hi", model="fake/broken"))
        pipeline.flush()
        row = recent_calls(pipeline.store)[0]
    assert row["error"] == "upstream exploded"
    assert row["error_type"] == "upstream_error"


async def test_unknown_model_lists_known(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        with pytest.raises(UnknownModelError, match="fake/echo"):
            await pipeline.complete(Request.from_prompt("hi", model="nope/model"))


async def test_empty_prompt_is_refused(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        with pytest.raises(InvalidRequestError, match="empty"):
            await pipeline.complete(Request.from_prompt("   ", model="fake/echo"))


async def test_max_tokens_truncates_with_length(fake_config: Config) -> None:
    async with Pipeline(fake_config) as pipeline:
        out = await pipeline.complete(
            Request.from_prompt(
                "a b c d e f", model="fake/echo", params=SamplingParams(max_tokens=2)
            )
        )
    assert out.finish_reason == "length"
    assert out.usage.completion_tokens == 2


async def test_store_content_false_keeps_text_out(fake_config: Config) -> None:
    cfg = fake_config.model_copy(update={"store_content": False})
    async with Pipeline(cfg) as pipeline:
        await pipeline.complete(Request.from_prompt("secret words", model="fake/echo"))
        pipeline.flush()
        row = recent_calls(pipeline.store)[0]
    assert row["prompt"] is None
    assert row["response"] is None
    assert row["prompt_tokens"] == 3


def test_sync_and_async_api_agree(fake_config: Config) -> None:
    sync = mixstack.run("parity check", model="fake/echo", config=fake_config)
    chunks = list(mixstack.stream("parity check", model="fake/echo", config=fake_config))

    async def both() -> str:
        out = await mixstack.arun("parity check", model="fake/echo", config=fake_config)
        streamed = [
            c.text
            async for c in mixstack.astream("parity check", model="fake/echo", config=fake_config)
        ]
        assert "".join(streamed) == out.text
        return out.text

    import asyncio

    assert asyncio.run(both()) == sync.text == "".join(c.text for c in chunks)
    assert sync.usage == sync.usage.model_copy()


async def test_sync_run_inside_a_loop_is_refused(fake_config: Config) -> None:
    with pytest.raises(RuntimeError, match=r"await mixstack\.arun"):
        mixstack.run("x", model="fake/echo", config=fake_config)


def test_a_fake_only_pipeline_builds_no_provider_and_imports_no_client(tmp_path: Path) -> None:
    """The catalog reads built-in models and defaults from the provider classes: building
    a pipeline for a fake-only config builds no provider, loads no HTTP client or
    llama.cpp, and still lists the embedded local models."""
    config = tmp_path / "mixstack.yaml"
    config.write_text("models:\n  - name: fake/echo\n    provider: fake\n")
    code = (
        "import json, sys\n"
        "from mixstack import Pipeline\n"
        "from mixstack.config import load_config\n"
        f"p = Pipeline(load_config({str(config)!r}))\n"
        "heavy = ('aiohttp', 'httpx', 'anthropic', 'google.genai', 'numpy', 'llama_cpp')\n"
        "print(json.dumps({'built': [x.name for x in p.providers.loaded()],\n"
        "  'imported': [m for m in heavy if m in sys.modules],\n"
        "  'models': {e.name: [e.locality, sorted(e.capabilities)] for e in p.catalog}}))\n"
    )
    env = {**os.environ, "MIXSTACK_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    seen = json.loads(out.stdout)
    assert seen["built"] == []
    assert seen["imported"] == []
    assert seen["models"]["fake/echo"] == ["local", ["chat", "json", "tools", "vision"]]
    assert seen["models"]["local/smollm2-135m-instruct"] == ["local", ["chat", "json", "tools"]]
