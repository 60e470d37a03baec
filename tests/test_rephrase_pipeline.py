"""The rephrase stage of the pipeline: after routing, for the routed family, recorded."""

from __future__ import annotations

from typing import Any

import pytest

from mixstack._types import ImagePart, Message, Request
from mixstack.config import Config, parse_config
from mixstack.errors import ConfigError, InvalidRequestError
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls

MODELS: list[dict[str, Any]] = [
    {"name": "fake/echo", "provider": "fake"},
    {"name": "fake/claude", "provider": "fake", "family": "anthropic"},
    {"name": "fake/tiny", "provider": "fake", "parameters_b": 0.5},
]
ROUGH = "Analyze this screenshot and tell me what to do."


@pytest.fixture
def config() -> Config:
    return parse_config({"models": MODELS})


async def test_request_rephrase_rewrites_what_the_model_receives(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        request = Request.from_prompt(ROUGH, model="fake/echo", rephrase="auto")
        ctx = pipeline.prepare(request)
        assert ctx.original.messages[-1].text == ROUGH
        assert ctx.rephrased is not None
        assert ctx.rephrased.use_case == "image"
        out = await pipeline.complete(request)
        pipeline.flush()
        row = recent_calls(pipeline.store, 1)[0]
    assert out.text == f"echo: {ctx.rephrased.prompt}"
    assert "## Task" in out.text
    assert "blocking issue" in out.text.lower()
    assert row["rephrase_use_case"] == "image"
    assert row["original_prompt"] == ROUGH
    assert row["rephrased_prompt"] == ctx.rephrased.prompt
    assert ctx.rephrased.prompt in row["prompt"].replace("\\n", "\n")


async def test_the_rewrite_follows_the_routed_models_family(config: Config) -> None:
    async with Pipeline(config, record=False) as pipeline:
        xml = pipeline.prepare(Request.from_prompt(ROUGH, model="fake/claude", rephrase="auto"))
        small = pipeline.prepare(Request.from_prompt(ROUGH, model="fake/tiny", rephrase="image"))
    assert xml.rephrased is not None
    assert xml.rephrased.target_family == "anthropic"
    assert "<task>" in xml.request.messages[-1].text
    assert small.rephrased is not None
    assert small.rephrased.target_family == "small"
    assert "Answer in this form:\nUI state: <" in small.request.messages[-1].text


async def test_off_by_default_and_images_are_kept(config: Config) -> None:
    png = ImagePart.from_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    async with Pipeline(config, record=False) as pipeline:
        plain = pipeline.prepare(Request.from_prompt(ROUGH, model="fake/echo"))
        with_image = pipeline.prepare(
            Request(
                messages=(Message.system("be brief"), Message.user("What now?", png)),
                model="fake/echo",
                rephrase="auto",
            )
        )
    assert plain.rephrased is None
    assert plain.request.messages[-1].text == ROUGH
    assert with_image.rephrased is not None
    assert with_image.rephrased.use_case == "image"
    last = with_image.request.messages[-1]
    assert last.images == [png]
    assert with_image.request.messages[0].text == "be brief"


async def test_streaming_is_rephrased_and_recorded_too(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        call = await pipeline.open_stream(
            Request.from_prompt(
                "Write a Python function to add two numbers.", rephrase="code"
            ).with_changes(model="fake/echo")
        )
        text = "".join([chunk.text async for chunk in call])
        pipeline.flush()
        row = recent_calls(pipeline.store, 1)[0]
    assert "Python software engineer" in text
    assert row["rephrase_use_case"] == "code"


async def test_unknown_use_case_is_a_request_error(config: Config) -> None:
    async with Pipeline(config, record=False) as pipeline:
        with pytest.raises(InvalidRequestError, match="unknown use case 'sonnet'"):
            await pipeline.complete(Request.from_prompt("hi", model="fake/echo", rephrase="sonnet"))


async def test_texts_are_not_stored_without_store_content() -> None:
    config = parse_config({"models": MODELS, "store_content": False})
    async with Pipeline(config) as pipeline:
        await pipeline.complete(Request.from_prompt(ROUGH, model="fake/echo", rephrase="auto"))
        pipeline.flush()
        row = recent_calls(pipeline.store, 1)[0]
    assert row["rephrase_use_case"] == "image"
    assert row["original_prompt"] is None
    assert row["rephrased_prompt"] is None


async def test_a_workload_can_turn_rephrasing_on() -> None:
    config = parse_config(
        {
            "models": MODELS,
            "workloads": {"coding": {"rephrase": "code", "prefer": ["fake/echo"]}},
        }
    )
    async with Pipeline(config, record=False) as pipeline:
        on = pipeline.prepare(Request.from_prompt("sort a list", workload="coding"))
        off = pipeline.prepare(
            Request.from_prompt("sort a list", workload="coding", rephrase="off")
        )
    assert on.rephrased is not None
    assert on.rephrased.use_case == "code"
    assert not on.rephrased.detected
    assert on.request.messages[-1].text == on.rephrased.prompt
    assert off.rephrased is None
    assert off.request.messages[-1].text == "sort a list"


async def test_a_bad_workload_setting_is_a_config_error() -> None:
    config = parse_config(
        {"models": MODELS, "workloads": {"odd": {"rephrase": "sonnet", "prefer": ["fake/echo"]}}}
    )
    async with Pipeline(config, record=False) as pipeline:
        with pytest.raises(ConfigError, match=r"workloads\.odd\.rephrase: unknown use case"):
            pipeline.prepare(Request.from_prompt("hi", workload="odd"))
