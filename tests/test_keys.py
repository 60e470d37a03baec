"""Virtual keys, budgets and rate limits: the CLI, the store, and the gateway on the wire."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from mixstack.config import parse_config
from mixstack.errors import RateLimited
from mixstack.gateway import Gateway
from mixstack.guard._keys import KeyStore
from mixstack.guard._ratelimit import RateLimiter
from mixstack.store import open_store
from mixstack.store.rates import verdict
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import ServerThread

PRICEY = {
    "name": "fake/pricey",
    "provider": "fake",
    "locality": "remote",
    "price": {"input_per_1m": 1000.0, "output_per_1m": 1000.0},
    "replies": [{"text": "five words in this reply"}],
    "latency_ms": 20,
}


@pytest.fixture
def gateway(home: Path) -> Iterator[tuple[Gateway, str]]:
    config = parse_config(
        {"models": [*FAKE_MODELS, PRICEY], "gateway": {"key_cache_s": 0, "auth": "auto"}}
    )
    gw = Gateway(config)
    with ServerThread(gw.app()) as server:
        yield gw, f"{server.url}/v1"


def _client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0)


def _ask(client: openai.OpenAI, model: str = "fake/echo", **kw: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello there"}], **kw
    )


def test_cli_creates_lists_and_revokes_keys_stored_hashed(cli: Any, home: Path) -> None:
    made = cli("keys", "create", "--name", "team-a", "--budget", "2.5", "--rpm", "10")
    assert made.code == 0, made.err
    secret = made.out.strip()
    assert secret.startswith("mxs-")
    assert "only time" in made.err
    listed = cli("keys", "list", "--json").json()
    assert [(k["name"], k["budget_usd"], k["rpm"]) for k in listed] == [("team-a", 2.5, 10)]
    key_id = listed[0]["id"]
    assert key_id in made.err
    with sqlite3.connect(home / "mixstack.db") as db:
        dump = "\n".join(db.iterdump())
    assert secret not in dump
    assert key_id in dump
    assert cli("keys", "revoke", key_id).code == 0
    again = cli("keys", "revoke", key_id)
    assert again.code == 2
    assert "mixstack keys list" in again.err
    assert cli("keys", "create", "--rpm", "0").code == 2


def test_keys_are_required_once_one_exists(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    assert _ask(_client(url)).choices[0].message.content == "echo: hello there"
    secret, key = gw.keys.create(name="a")
    other, _ = gw.keys.create(name="b")
    with pytest.raises(openai.AuthenticationError) as info:
        _ask(_client(url, "wrong"))
    assert info.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        _client(url, "wrong").models.list()
    assert _ask(_client(url, secret)).choices[0].message.content == "echo: hello there"
    gw.keys.revoke(key.id)
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        _ask(_client(url, secret))
    assert _ask(_client(url, other)).model == "fake/echo"


def test_a_key_limited_to_some_models_gets_403_elsewhere(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    secret, _ = gw.keys.create(models=("fake/e*",))
    client = _client(url, secret)
    assert _ask(client).model == "fake/echo"
    with pytest.raises(openai.PermissionDeniedError, match="may not use 'fake/remote'"):
        _ask(client, "fake/remote")
    assert [m.id for m in client.models.list().data] == ["fake/echo"]


def test_rpm_limit_answers_429_with_retry_after(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    secret, _ = gw.keys.create(rpm=2)
    client = _client(url, secret)
    _ask(client)
    _ask(client)
    with pytest.raises(openai.RateLimitError) as info:
        _ask(client)
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 60
    assert info.value.code == "rate_limit_exceeded"


def test_tpm_window_slides() -> None:
    """The one decision every backend makes (SQLite, PostgreSQL and Redis's script alike)."""
    entries = [(0.0, 90)]
    refused = verdict(entries, None, 100, 20, now=0.0)
    assert refused is not None
    assert (refused.reason, refused.retry_after_s) == ("tpm", pytest.approx(60))
    assert verdict([(0.0, 10)], None, 100, 20, now=0.0) is None  # settled to fewer tokens
    assert verdict(entries, None, 100, 95, now=61.0) is None  # the entry left the window
    rpm = verdict([(0.0, 1), (10.0, 1), (20.0, 1)], 2, None, 1, now=30.0)
    assert rpm is not None
    assert (rpm.reason, rpm.retry_after_s) == ("rpm", pytest.approx(40))


def test_tpm_settles_to_real_tokens_in_the_store(home: Path) -> None:
    async def run() -> None:
        with open_store() as store:
            limiter = RateLimiter(store.rates)
            ticket = await limiter.admit("k", rpm=None, tpm=100, tokens=90)
            with pytest.raises(RateLimited) as info:
                await limiter.admit("k", rpm=None, tpm=100, tokens=20)
            assert 59 <= info.value.retry_after_s <= 60
            ticket.settle(10)  # the call used far fewer tokens than estimated
            store.flush()
            await limiter.admit("k", rpm=None, tpm=100, tokens=20)
            with pytest.raises(RateLimited, match="more than key k's limit of 100"):
                await limiter.admit("k", rpm=None, tpm=100, tokens=101)

    asyncio.run(run())


def test_token_budget_blocks_when_used_up(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    secret, _ = gw.keys.create(max_tokens=60)
    client = _client(url, secret)
    _ask(client, max_tokens=5)  # reserves ~5+8, uses 3+3
    _ask(client, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as info:
        _ask(client, max_tokens=50)
    assert info.value.code is None
    assert "token budget" in info.value.message
    body: Any = info.value.body
    assert body["type"] == "insufficient_quota"


async def test_budget_holds_exactly_under_concurrency(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    budget = 0.25
    secret, key = gw.keys.create(budget_usd=budget)
    client = openai.AsyncOpenAI(base_url=url, api_key=secret, max_retries=0)

    async def one() -> str:
        try:
            done = await client.chat.completions.create(
                model="fake/pricey",
                messages=[{"role": "user", "content": "hello there"}],
                max_tokens=10,
            )
        except openai.RateLimitError as exc:
            return "refused" if "budget" in exc.message else exc.message
        return done.choices[0].message.content or ""

    first = await asyncio.gather(*(one() for _ in range(40)))
    rest = [await one() for _ in range(40)]
    await client.close()
    answered = [r for r in first + rest if r != "refused"]
    assert "refused" in first
    assert rest[-1] == "refused"
    gw.pipeline.flush()
    row = gw.keys.get(key.id)
    assert row is not None
    # each answer: 3 prompt + 5 completion tokens at $1000 per 1M = $0.008
    assert row.spent_usd == pytest.approx(len(answered) * 0.008)
    assert row.spent_usd <= budget
    # a reservation bounds the prompt by its bytes: (11 + 8 + 10) tokens = $0.029; less than
    # that is left unused
    assert budget - row.spent_usd < 0.029
    assert row.requests == len(answered)
    assert row.reserved_usd == pytest.approx(0)


def test_key_store_survives_reopen(home: Path) -> None:
    with open_store() as store:
        secret, key = KeyStore(store).create(name="x", tpm=5)
    with open_store() as store:
        found = asyncio.run(KeyStore(store).alookup(secret))
    assert found is not None
    assert (found.id, found.tpm) == (key.id, 5)
