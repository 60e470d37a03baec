"""Retries, timeouts, fallbacks and circuit breaking in the call stage, on real HTTP servers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from mixstack._resilience import Breakers, CallPolicy, CircuitBreaker, Resilience, backoff_delay
from mixstack._types import Request
from mixstack.config import parse_config
from mixstack.errors import InvalidRequestError, ProviderError
from mixstack.pipeline import Pipeline
from tests.upstream_servers import (
    RecordingUpstream,
    Scripted,
    ServerThread,
    chat_events,
    chat_json,
    free_port,
)

BUSY = {"error": {"message": "busy"}}


@pytest.fixture
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    rec = RecordingUpstream()
    with ServerThread(rec.app) as server:
        yield rec, server.url


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _model(name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A self-hosted endpoint (on-prem: the router adds no local takeover of its own)."""
    return {
        "name": name,
        "provider": "openai",
        "base_url": f"{url}/v1",
        "locality": "on-prem",
        **extra,
    }


def _pipeline(models: list[dict[str, Any]], sleeps: Sleeps, **breakers: Any) -> Pipeline:
    config = parse_config({"models": models, "default_model": models[0]["name"]})
    pipeline = Pipeline(config, record=False)
    pipeline.resilience = Resilience(Breakers(**breakers), sleep=sleeps)
    return pipeline


def test_backoff_is_jittered_exponential_and_honours_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, rng=rng) for n in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 0.25 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(0, 3.0, rng=rng) == 3.0
    assert len({backoff_delay(2, rng=rng) for _ in range(5)}) > 1


def test_circuit_breaker_opens_then_lets_one_trial_through() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_s=0.0)
    breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "half-open"  # cooldown 0: the trial is due at once
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    breaker.success()
    assert breaker.state == "closed"
    slow = CircuitBreaker(threshold=1, cooldown_s=60)
    slow.failure()
    assert slow.state == "open"
    assert not slow.allow()


async def test_retries_5xx_with_backoff_then_succeeds(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    rec.script += [Scripted(status=503, json_body=BUSY), Scripted(status=502, json_body=BUSY)]
    sleeps = Sleeps()
    async with _pipeline([_model("up/a", url, retries=2)], sleeps) as pipeline:
        done = await pipeline.complete(Request.from_prompt("hi", model="up/a"))
    assert done.text == "echo: hi"
    assert len(rec.requests) == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[0] <= 0.25 < sleeps.delays[1] * 2


async def test_retry_after_is_honoured(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    rec.script.append(Scripted(status=429, json_body=BUSY, headers={"retry-after": "2"}))
    sleeps = Sleeps()
    async with _pipeline([_model("up/a", url)], sleeps) as pipeline:
        await pipeline.complete(Request.from_prompt("hi", model="up/a"))
    assert sleeps.delays == [2.0]


async def test_client_errors_are_neither_retried_nor_fallen_back(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    rec.script.append(Scripted(status=400, json_body={"error": {"message": "bad field"}}))
    models = [_model("up/a", url, fallbacks=["up/b"]), _model("up/b", url)]
    async with _pipeline(models, Sleeps()) as pipeline:
        with pytest.raises(InvalidRequestError, match="bad field"):
            await pipeline.complete(Request.from_prompt("hi", model="up/a"))
    assert len(rec.requests) == 1


async def test_falls_back_when_the_endpoint_is_down(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    dead = f"http://127.0.0.1:{free_port()}"
    models = [_model("dead/a", dead, retries=1, fallbacks=["up/b"]), _model("up/b", url)]
    sleeps = Sleeps()
    async with _pipeline(models, sleeps) as pipeline:
        done = await pipeline.complete(Request.from_prompt("hi", model="dead/a"))
        call = await pipeline.open_stream(Request.from_prompt("again", model="dead/a"))
        text = "".join([c.text async for c in call])
    assert done.model == "up/b"
    assert done.route is not None
    assert any("up/b took over" in note for note in done.route["notes"])
    assert text == "echo: again"
    assert call.model == "up/b"
    assert len(rec.requests) == 2
    assert len(sleeps.delays) == 2  # one retry of the dead endpoint per call


async def test_an_on_prem_models_own_remote_fallback_is_never_used(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    dead = f"http://127.0.0.1:{free_port()}"
    models = [
        _model("mine/a", dead, locality="on-prem", retries=0, fallbacks=["rented/b"]),
        _model("rented/b", url, locality="remote"),
    ]
    async with _pipeline(models, Sleeps()) as pipeline:
        with pytest.raises(ProviderError, match="connection"):
            await pipeline.complete(Request.from_prompt("private notes", model="mine/a"))
    assert rec.requests == []


async def test_first_token_timeout_falls_back(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    rec.script.append(Scripted(events=chat_events(["late"]), delay_s=3))
    timeouts = {"first_token": 0.3, "total": 5}
    models = [
        _model("up/slow", url, retries=0, timeouts=timeouts, fallbacks=["up/b"]),
        _model("up/b", url),
    ]
    async with _pipeline(models, Sleeps()) as pipeline:
        call = await pipeline.open_stream(Request.from_prompt("hi", model="up/slow"))
        text = "".join([c.text async for c in call])
    assert text == "echo: hi"
    assert call.model == "up/b"
    assert call.completion is not None
    assert call.completion.route is not None
    assert "timed out waiting for the first token" in call.completion.route["reason"]


async def test_failure_after_the_first_chunk_ends_the_stream_without_fallback(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    rec.script.append(Scripted(events=chat_events(["a", "b", "c"])[1:], event_gap_s=1.0))
    timeouts = {"first_token": 5, "total": 0.5}
    models = [
        _model("up/a", url, retries=0, timeouts=timeouts, fallbacks=["up/b"]),
        _model("up/b", url),
    ]
    seen: list[str] = []
    async with _pipeline(models, Sleeps()) as pipeline:
        call = await pipeline.open_stream(Request.from_prompt("hi", model="up/a"))

        async def consume() -> None:
            async for chunk in call:
                seen.append(chunk.text)

        with pytest.raises(ProviderError, match="timed out"):
            await consume()
    assert seen == ["a"]
    assert len(rec.requests) == 1


async def test_total_timeout_on_a_plain_call(upstream: tuple[RecordingUpstream, str]) -> None:
    rec, url = upstream
    rec.script.append(Scripted(json_body=chat_json("late"), delay_s=3))
    models = [_model("up/a", url, retries=0, timeouts={"total": 0.3})]
    async with _pipeline(models, Sleeps()) as pipeline:
        with pytest.raises(ProviderError, match="timed out"):
            await pipeline.complete(Request.from_prompt("hi", model="up/a"))


async def test_circuit_opens_per_model_and_skips_the_dead_one(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    rec, url = upstream
    rec.script += [Scripted(status=500, json_body=BUSY) for _ in range(2)]
    models = [_model("up/a", url, retries=1), _model("up/b", url)]
    async with _pipeline(models, Sleeps(), threshold=2, cooldown_s=60) as pipeline:
        with pytest.raises(ProviderError, match="HTTP 500"):
            await pipeline.complete(Request.from_prompt("one", model="up/a"))
        with pytest.raises(ProviderError, match="paused"):
            await pipeline.complete(Request.from_prompt("two", model="up/a"))
        assert pipeline.resilience.breakers.states() == {f"up/a @ {url}/v1": "open"}
        assert len(rec.requests) == 2
        # another model at the same URL is not judged by up/a's failures: it is called
        done = await pipeline.complete(Request.from_prompt("three", model="up/b"))
        assert done.model == "up/b"
    assert len(rec.requests) == 3


async def test_a_call_policy_overrides_retries_and_turns_fallbacks_off(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    """`retries=N` replaces the model's `retries:`; `fallbacks=False` keeps the call on the
    routed model: its own error, no request to the fallback (what an eval needs)."""
    rec, url = upstream
    rec.script += [Scripted(status=503, json_body=BUSY)] * 3
    models = [_model("up/a", url, retries=5, fallbacks=["up/b"]), _model("up/b", url)]
    sleeps = Sleeps()
    async with _pipeline(models, sleeps) as pipeline:
        with pytest.raises(ProviderError, match="busy"):
            await pipeline.complete(
                Request.from_prompt("hi", model="up/a"),
                policy=CallPolicy(retries=1, fallbacks=False),
            )
        assert len(rec.requests) == 2  # one try and one retry, nothing sent for up/b
        done = await pipeline.complete(
            Request.from_prompt("hi", model="up/a"), policy=CallPolicy(retries=0)
        )
    assert done.model == "up/b"  # fallbacks on: up/a failed once (no retry), up/b answered
    assert len(rec.requests) == 4
    with pytest.raises(InvalidRequestError, match="retries=11 is out of range"):
        CallPolicy(retries=11)


async def test_python_api_takes_retries_and_fallbacks(
    upstream: tuple[RecordingUpstream, str],
) -> None:
    import mixstack

    rec, url = upstream
    rec.script += [Scripted(status=503, json_body=BUSY)] * 3
    models = [_model("up/a", url, retries=5, fallbacks=["up/b"]), _model("up/b", url)]
    async with _pipeline(models, Sleeps()) as pipeline:
        with pytest.raises(ProviderError, match="busy"):
            await mixstack.arun("hi", model="up/a", pipeline=pipeline, retries=2, fallbacks=False)
    assert len(rec.requests) == 3
