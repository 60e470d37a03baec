"""`mixstack demo`'s gateway step on a home whose gateway fails closed."""

from __future__ import annotations

import asyncio

import pytest

from mixstack.cli.demo import _step_gateway
from mixstack.config import Config
from mixstack.guard._keys import KeyStore
from mixstack.pipeline import Pipeline
from mixstack.store import open_store


def test_gateway_step_shows_the_refusal_when_the_home_has_keys(
    fake_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    KeyStore(open_store()).create(name="someone")

    async def step() -> None:
        async with Pipeline(fake_config) as pipeline:
            await _step_gateway(pipeline)

    asyncio.run(step())
    out = capsys.readouterr().out
    assert "HTTP 401" in out
    assert "fails closed" in out


def test_gateway_step_shows_the_answer_without_keys(
    fake_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    async def step() -> None:
        async with Pipeline(fake_config) as pipeline:
            await _step_gateway(pipeline)

    asyncio.run(step())
    out = capsys.readouterr().out
    assert f"x-mixstack-model: {fake_config.default_model}" in out
    assert "HTTP 4" not in out
