"""Findings 4, 5 and 7: budgets hold exactly, keys restrict the whole fallback chain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from tests.upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json

PRICE = {"input_per_1m": 1000.0, "output_per_1m": 1000.0}


def _overbilling(body: dict[str, Any]) -> Scripted:
    """Ignores max_tokens and bills far more than it could have produced."""
    reply = chat_json("a long answer " * 50)
    reply["usage"] = {"prompt_tokens": 40_000, "completion_tokens": 90_000, "total_tokens": 0}
    return Scripted(json_body=reply)


def _negative(body: dict[str, Any]) -> Scripted:
    reply = chat_json("three word answer")
    reply["usage"] = {"prompt_tokens": -600_000, "completion_tokens": -5, "total_tokens": 0}
    return Scripted(json_body=reply)


class Upstreams:
    def __init__(self) -> None:
        self.cheap = RecordingUpstream()
        self.pricey = RecordingUpstream()
        self.cheap_server = ServerThread(self.cheap.app)
        self.pricey_server = ServerThread(self.pricey.app)

    def config(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": "up/cheap",
                    "provider": "openai",
                    "base_url": self.cheap_server.url + "/v1",
                    "price": {"input_per_1m": 1.0, "output_per_1m": 1.0},
                    "fallbacks": ["up/pricey"],
                    "retries": 0,
                },
                {
                    "name": "up/pricey",
                    "provider": "openai",
                    "base_url": self.pricey_server.url + "/v1",
                    "price": PRICE,
                    "retries": 0,
                    "context_window": 4096,
                },
            ],
            "gateway": {"key_cache_s": 0, "default_completion_tokens": 1024},
        }


@pytest.fixture
def served() -> Iterator[tuple[Gateway, Upstreams, str]]:
    ups = Upstreams()
    with ups.cheap_server, ups.pricey_server:
        gw = Gateway(parse_config(ups.config()))
        with ServerThread(gw.app()) as server:
            yield gw, ups, server.url


def _post(url: str, key: str, **body: Any) -> httpx.Response:
    payload = {"messages": [{"role": "user", "content": "hello there"}], **body}
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=payload,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


async def test_overspend_under_100_concurrent_overbilled_requests_is_within_one_hold(
    served: tuple[Gateway, Upstreams, str],
) -> None:
    gw, ups, url = served
    ups.pricey.default = _overbilling
    budget = 0.5
    secret, key = gw.keys.create(budget_usd=budget)
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)

    async def one() -> str:
        try:
            await client.chat.completions.create(
                model="up/pricey",
                messages=[{"role": "user", "content": "hello there"}],
                max_tokens=10,
            )
        except openai.RateLimitError:
            return "refused"
        return "ok"

    outcomes = await asyncio.gather(*(one() for _ in range(100)))
    await client.close()
    gw.pipeline.flush()
    row = gw.keys.get(key.id)
    assert row is not None
    hold = (11 + 8 + 10) * 1000 / 1_000_000  # prompt bytes + per-message + max_tokens
    assert "ok" in outcomes
    assert "refused" in outcomes
    assert row.spent_usd <= budget + hold
    assert row.spent_usd <= budget  # settlement never charges more than the hold covered
    assert row.reserved_usd == pytest.approx(0)
    # the upstream was told the bound it may bill for
    assert {r["max_tokens"] for r in ups.pricey.requests} == {10}


def test_a_request_without_max_tokens_is_sent_with_the_bound_of_its_hold(
    served: tuple[Gateway, Upstreams, str],
) -> None:
    gw, ups, url = served
    secret, _ = gw.keys.create(budget_usd=100.0)
    assert _post(url, secret, model="up/pricey").status_code == 200
    assert ups.pricey.requests[-1]["max_tokens"] == 1024  # default_completion_tokens
    unbudgeted, _ = gw.keys.create()
    assert _post(url, unbudgeted, model="up/pricey").status_code == 200
    assert "max_tokens" not in ups.pricey.requests[-1]  # nothing to bound: sent as asked


def test_negative_usage_never_refills_a_key(served: tuple[Gateway, Upstreams, str]) -> None:
    gw, ups, url = served
    ups.pricey.default = _negative
    secret, key = gw.keys.create(budget_usd=1.0)
    answer = _post(url, secret, model="up/pricey", max_tokens=10)
    assert answer.status_code == 200, answer.text
    usage = answer.json()["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    gw.pipeline.flush()
    row = gw.keys.get(key.id)
    assert row is not None
    assert 0 < row.spent_usd <= 1.0
    assert row.tokens_used > 0


def test_hold_is_priced_on_the_dearest_model_the_fallbacks_reach(
    served: tuple[Gateway, Upstreams, str],
) -> None:
    gw, ups, url = served
    # enough for the cheap model, not for its fallback at 1000x the price
    secret, _ = gw.keys.create(budget_usd=0.01)
    refused = _post(url, secret, model="up/cheap", max_tokens=100)
    assert refused.status_code == 429
    assert "budget" in refused.json()["error"]["message"]
    assert ups.cheap.requests == []


def test_a_model_restricted_key_is_never_answered_by_a_fallback_it_may_not_use(
    served: tuple[Gateway, Upstreams, str],
) -> None:
    gw, ups, url = served
    ups.cheap.default = lambda body: Scripted(status=500, json_body={"error": "down"})
    secret, _ = gw.keys.create(models=("up/cheap",))
    answer = _post(url, secret, model="up/cheap")
    assert answer.status_code >= 500
    assert answer.headers.get("x-mixstack-model") != "up/pricey"
    assert ups.pricey.requests == []
    # a key that may use both gets the fallback
    both, _ = gw.keys.create(models=("up/*",))
    assert _post(url, both, model="up/cheap").status_code == 200
    assert len(ups.pricey.requests) == 1


def test_huge_max_tokens_with_a_budgeted_key_is_not_a_server_error(
    served: tuple[Gateway, Upstreams, str],
) -> None:
    gw, _, url = served
    secret, _ = gw.keys.create(budget_usd=1000.0, max_tokens=10**9)
    for value in (2**31, 2**63, 2**63 - 1):
        answer = _post(url, secret, model="up/pricey", max_tokens=value)
        assert answer.status_code < 500, (value, answer.text)


def test_tpm_counts_the_request_own_tokens(served: tuple[Gateway, Upstreams, str]) -> None:
    gw, ups, url = served
    secret, _ = gw.keys.create(tpm=500)
    big = "word " * 5000
    answer = _post(url, secret, model="up/cheap", messages=[{"role": "user", "content": big}])
    assert answer.status_code == 429
    assert "tokens per minute" in answer.json()["error"]["message"]
    assert ups.cheap.requests == []
    assert _post(url, secret, model="up/cheap").status_code == 200


def test_cjk_prompt_holds_at_least_its_tokens(served: tuple[Gateway, Upstreams, str]) -> None:
    """Characters-per-token estimates undercount CJK: the hold bounds it by bytes."""
    gw, ups, url = served
    secret, key = gw.keys.create(budget_usd=100.0)
    text = "東京都の天気は晴れです。" * 200  # ~2,400 characters, ~2,400+ tokens
    held: list[float] = []

    def capture(body: dict[str, Any]) -> Scripted:
        row = gw.keys.get(key.id)
        assert row is not None
        held.append(row.reserved_usd)
        return Scripted(json_body=chat_json("ok"))

    ups.pricey.default = capture
    answer = _post(
        url, secret, model="up/pricey", max_tokens=1, messages=[{"role": "user", "content": text}]
    )
    assert answer.status_code == 200, answer.text
    assert held[0] >= len(text) * 1000 / 1_000_000  # at least a token per character
    assert json.loads(json.dumps(ups.pricey.requests[-1]))["max_tokens"] == 1
