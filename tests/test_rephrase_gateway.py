"""The gateway header `x-mixstack-rephrase`, end to end on real 127.0.0.1 servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.store import recent_calls
from tests.upstream_servers import RecordingUpstream, ServerThread

ROUGH = "Analyze this screenshot and tell me what to do."


@pytest.fixture
def served() -> Iterator[tuple[Gateway, str, RecordingUpstream]]:
    upstream = RecordingUpstream()
    with ServerThread(upstream.app) as up:
        config = parse_config(
            {
                "models": [
                    {
                        "name": "up/claude",
                        "provider": "openai",
                        "base_url": f"{up.url}/v1",
                        "upstream_model": "up-model",
                        "family": "anthropic",
                        "retries": 0,
                    }
                ],
                "default_model": "up/claude",
                "gateway": {"key_cache_s": 0},
            }
        )
        gateway = Gateway(config)
        with ServerThread(gateway.app()) as server:
            yield gateway, server.url, upstream


def _post(url: str, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] = {"model": "up/claude", "messages": [{"role": "user", "content": ROUGH}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_the_header_rewrites_the_prompt_for_the_upstream_family(
    served: tuple[Gateway, str, RecordingUpstream],
) -> None:
    gateway, url, upstream = served
    plain = _post(url, {})
    assert plain.status_code == 200, plain.text
    assert upstream.requests[-1]["messages"][-1]["content"] == ROUGH
    res = _post(url, {"x-mixstack-rephrase": "auto"})
    assert res.status_code == 200, res.text
    sent = upstream.requests[-1]["messages"][-1]["content"]
    assert sent.startswith("<role>You are a product support specialist")
    assert f"<task>\n{ROUGH}\n</task>" in sent
    gateway.pipeline.flush()
    row = recent_calls(gateway.pipeline.store, 1)[0]
    assert row["front_door"] == "gateway"
    assert row["rephrase_use_case"] == "image"
    assert row["original_prompt"] == ROUGH
    assert row["rephrased_prompt"] == sent


def test_an_unknown_use_case_in_the_header_is_a_400(
    served: tuple[Gateway, str, RecordingUpstream],
) -> None:
    _, url, upstream = served
    res = _post(url, {"x-mixstack-rephrase": "sonnet"})
    assert res.status_code == 400
    error = res.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "unknown use case 'sonnet'" in error["message"]
    assert upstream.requests == []
