"""The admission stage is the pipeline's: a key's model list, rate limits and budget hold are
enforced, and settled, on calls made through `Pipeline` itself (no gateway in front), for
completions, streams and embeddings alike."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mixstack._types import Request
from mixstack.config import Config, parse_config
from mixstack.errors import (
    BudgetExceeded,
    InvalidRequestError,
    PolicyError,
    ProviderError,
    RateLimited,
)
from mixstack.guard._keys import KeyStore, ModelNotAllowed
from mixstack.guard._usage import prompt_bound, prompt_tokens
from mixstack.pipeline import Pipeline
from mixstack.store import VirtualKey
from tests.conftest import FAKE_MODELS

#: $1000 per 1M tokens either way: a prompt of "hello there" and a 10-token answer cost cents
PRICEY: dict[str, Any] = {
    "name": "fake/pricey",
    "provider": "fake",
    "locality": "remote",
    "price": {"input_per_1m": 1000.0, "output_per_1m": 1000.0},
    "replies": [{"text": "five words in this reply"}],
}
SLOW = {**PRICEY, "name": "fake/slow", "latency_ms": 300}


@pytest.fixture
def config() -> Config:
    return parse_config({"models": [*FAKE_MODELS, PRICEY, SLOW]})


def _key(pipeline: Pipeline, **limits: Any) -> VirtualKey:
    return KeyStore(pipeline.store).create(name="k", **limits)[1]


def _usage(pipeline: Pipeline, key: VirtualKey) -> VirtualKey:
    pipeline.flush()
    row = pipeline.store.keys.get(key.id)
    assert row is not None
    return row


def _ask(model: str = "fake/pricey", max_tokens: int | None = 10) -> Request:
    request = Request.from_prompt("hello there", model=model)
    params = request.params.model_copy(update={"max_tokens": max_tokens})
    return request.with_changes(params=params)


async def test_a_keys_rate_limit_holds_on_every_kind_of_call(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, rpm=3)
        await pipeline.complete(_ask("fake/echo"), key=key)
        call = await pipeline.open_stream(_ask("fake/echo"), key=key)
        assert [c async for c in call][-1].usage is not None
        # admitted (so counted), then refused by the model: fake models make no embeddings
        with pytest.raises(InvalidRequestError, match="does not make embeddings"):
            await pipeline.embed(Request.from_prompt("embed me", model="fake/echo"), key=key)
        for refused in (
            pipeline.complete(_ask("fake/echo"), key=key),
            pipeline.open_stream(_ask("fake/echo"), key=key),
            pipeline.embed(Request.from_prompt("embed me", model="fake/echo"), key=key),
        ):
            with pytest.raises(RateLimited, match="3 requests per minute"):
                await refused
        # the same calls without a key are not admitted at all: nothing limits them
        assert (await pipeline.complete(_ask("fake/echo"))).text == "echo: hello there"


async def test_a_key_may_use_only_its_models(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, models=("fake/e*",))
        assert (await pipeline.complete(_ask("fake/echo"), key=key)).model == "fake/echo"
        with pytest.raises(ModelNotAllowed, match="may not use 'fake/pricey'"):
            await pipeline.complete(_ask(), key=key)


async def test_the_hold_is_taken_while_the_call_runs_and_settled_with_real_usage(
    config: Config,
) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=1.0)
        call = asyncio.ensure_future(pipeline.complete(_ask("fake/slow"), key=key))
        await asyncio.sleep(0.15)
        # held: the prompt's bound (11 bytes + 8 per message) and the 10 tokens asked for
        held = _usage(pipeline, key).reserved_usd
        assert held == pytest.approx((11 + 8 + 10) * 1000 / 1e6)
        done = await call
        row = _usage(pipeline, key)
    assert row.reserved_usd == pytest.approx(0)
    assert row.spent_usd == pytest.approx(done.usage.cost_usd)
    assert row.tokens_used == done.usage.prompt_tokens + done.usage.completion_tokens
    assert row.requests == 1


async def test_a_budget_is_never_exceeded_through_the_pipeline(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=0.05)

        async def one() -> str:
            try:
                await pipeline.complete(_ask(), key=key)
            except BudgetExceeded:
                return "refused"
            return "ok"

        outcomes = await asyncio.gather(*(one() for _ in range(10)))
        row = _usage(pipeline, key)
    assert "ok" in outcomes
    assert "refused" in outcomes
    # each answer: 3 prompt + 5 completion tokens at $1000 per 1M
    assert row.spent_usd == pytest.approx(outcomes.count("ok") * 0.008)
    assert row.spent_usd <= 0.05
    assert row.reserved_usd == pytest.approx(0)


async def test_a_failed_or_abandoned_call_spends_nothing_and_frees_its_hold(
    config: Config,
) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=1.0, tpm=1000)
        with pytest.raises(ProviderError):
            await pipeline.complete(_ask("fake/broken"), key=key)
        slow = asyncio.ensure_future(pipeline.complete(_ask("fake/slow"), key=key))
        await asyncio.sleep(0.1)
        slow.cancel()  # the caller left
        with pytest.raises(asyncio.CancelledError):
            await slow
        row = _usage(pipeline, key)
    assert (row.reserved_usd, row.spent_usd) == (pytest.approx(0), 0)
    # the abandoned call's prompt counts in the key's tokens (the upstream may have read it)
    assert row.tokens_used == prompt_tokens(_ask("fake/slow"))
    assert row.requests == 2


async def test_a_stream_cut_short_is_charged_its_prompt_and_the_pieces_sent(
    config: Config,
) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=1.0)
        call = await pipeline.open_stream(_ask(), key=key)
        chunks = aiter(call)
        await anext(chunks)
        await anext(chunks)  # the first piece was taken: one piece sent
        await call.aclose()
        row = _usage(pipeline, key)
        # the prompt by the one counter: the fake model's tokenizer (words + 1 a message)
        prompt = prompt_tokens(
            _ask(), pipeline.catalog.provider_for(call.ctx.entry), call.ctx.entry
        )
        unstarted = await pipeline.open_stream(_ask(), key=key)
        await unstarted.aclose()  # never iterated: nothing reached the caller
        again = _usage(pipeline, key)
    assert prompt == 3
    assert row.tokens_used == prompt + 1
    assert row.spent_usd == pytest.approx((prompt + 1) * 1000 / 1e6)
    assert row.reserved_usd == pytest.approx(0)
    assert (again.tokens_used, again.requests, again.reserved_usd) == (4, 2, pytest.approx(0))


async def test_a_limited_key_without_max_tokens_sends_the_bound_of_its_hold(
    config: Config,
) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=100.0)
        call = await pipeline.open_stream(_ask(max_tokens=None), key=key)
        await call.aclose()
    assert call.ctx.request.params.max_tokens == config.gateway.default_completion_tokens


def _observed(pipeline: Pipeline, events: list[str], *, prepare_fails: bool = False) -> None:
    """Log when the pipeline prepares a call and when its admission answers (a little late,
    as a round trip to Redis would)."""
    admission, prepare = pipeline.admission, pipeline.prepare
    answer = admission._admit_and_hold

    async def late_answer(*args: Any) -> Any:
        await asyncio.sleep(0.05)
        try:
            return await answer(*args)
        finally:
            events.append("answered")

    def prepared(*args: Any, **kwargs: Any) -> Any:
        events.append("prepared")
        if prepare_fails:
            raise PolicyError("the route refused it", code="refused")
        return prepare(*args, **kwargs)

    admission._admit_and_hold = late_answer  # type: ignore[method-assign]
    pipeline.prepare = prepared  # type: ignore[method-assign]


async def test_a_small_call_is_prepared_while_its_admission_is_answered(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=1.0, rpm=10)
        events: list[str] = []
        _observed(pipeline, events)
        done = await pipeline.complete(_ask("fake/echo"), key=key)
        call = await pipeline.open_stream(_ask("fake/echo"), key=key)
        await call.aclose()
        assert done.text == "echo: hello there"
        assert events == ["prepared", "answered"] * 2
        # a large one (scanned off the loop) is prepared only once admitted
        events.clear()
        large = Request.from_prompt("word " * 4000, model="fake/echo")
        await pipeline.complete(large, key=key)
        assert events == ["answered", "prepared"]
        row = _usage(pipeline, key)
    assert (row.requests, row.reserved_usd) == (3, pytest.approx(0))


async def test_a_refused_admission_comes_first_and_a_large_refused_call_is_not_prepared(
    config: Config,
) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, rpm=1)
        await pipeline.complete(_ask("fake/echo"), key=key)
        events: list[str] = []
        _observed(pipeline, events, prepare_fails=True)
        # refused by the window and by the route: the caller hears of the window, as when
        # the one came before the other
        with pytest.raises(RateLimited):
            await pipeline.complete(_ask("fake/echo"), key=key)
        assert events == ["prepared", "answered"]
        events.clear()
        large = Request.from_prompt("word " * 4000, model="fake/echo")
        with pytest.raises(RateLimited):
            await pipeline.complete(large, key=key)
        assert events == ["answered"]  # a refused flood of large calls costs no scanning
        # nor of small ones: a key refused lately waits for its admission until retry time
        events.clear()
        with pytest.raises(RateLimited):
            await pipeline.complete(_ask("fake/echo"), key=key)
        assert events == ["answered"]
        other = _key(pipeline, rpm=1)
        events.clear()
        with pytest.raises(PolicyError):  # another key's calls are prepared meanwhile
            await pipeline.complete(_ask("fake/echo"), key=other)
        assert events == ["prepared", "answered"]


async def test_a_call_whose_preparing_fails_frees_its_admission(config: Config) -> None:
    async with Pipeline(config) as pipeline:
        key = _key(pipeline, budget_usd=1.0, rpm=10)
        events: list[str] = []
        _observed(pipeline, events, prepare_fails=True)
        with pytest.raises(PolicyError, match="the route refused it"):
            await pipeline.complete(_ask(), key=key)
        row = _usage(pipeline, key)
    assert events == ["prepared", "answered"]
    assert (row.requests, row.reserved_usd, row.spent_usd) == (1, pytest.approx(0), 0)


def test_the_hold_bound_covers_the_estimate_it_stands_for() -> None:
    """The one counter's estimate is an average; a hold reserves its worst case."""
    for text in ("hello there", "東京都の天気は晴れです。" * 20, "naïve café " * 30):
        request = Request.from_prompt(text)
        assert prompt_bound(request) >= 4 * (prompt_tokens(request) - 4)
        assert prompt_bound(request) >= len(text)  # at least a token a character
