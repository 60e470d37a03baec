"""Findings 10 and 13: hung upstreams answer within the timeouts (504 or fallback); no
upstream address or answer reaches a client; an upstream 429 stays a 429 with retry-after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mixstack.config import parse_config
from mixstack.config.models import Timeouts
from mixstack.gateway import Gateway
from tests.upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_events

LEAKY = "INTERNAL-UPSTREAM-DETAIL sk-upstream-secret-in-error-body"


class Fixture:
    def __init__(self) -> None:
        self.hung = RecordingUpstream(default=lambda b: Scripted(delay_s=30))
        self.spare = RecordingUpstream()
        self.hung_server = ServerThread(self.hung.app)
        self.spare_server = ServerThread(self.spare.app)

    def config(self, **model: Any) -> dict[str, Any]:
        quick = {"connect": 1, "first_token": 0.5, "total": 1}
        return {
            "models": [
                {
                    "name": "up/hung",
                    "provider": "openai",
                    "base_url": self.hung_server.url + "/v1",
                    "locality": "on-prem",  # no takeover by the embedded local model
                    "timeouts": quick,
                    "retries": 2,
                    **model,
                },
                {
                    "name": "up/spare",
                    "provider": "openai",
                    "base_url": self.spare_server.url + "/v1",
                    "locality": "on-prem",
                    "retries": 0,
                },
            ],
            "gateway": {"auth": "off"},
        }


@pytest.fixture
def ups() -> Iterator[Fixture]:
    f = Fixture()
    with f.hung_server, f.spare_server:
        yield f


def _ask(gw: Gateway, model: str, **body: Any) -> httpx.Response:
    with ServerThread(gw.app()) as server:
        return httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}], **body},
            timeout=30,
        )


def test_default_timeouts_are_what_a_user_expects() -> None:
    t = Timeouts()
    assert (t.connect, t.first_token, t.total) == (10.0, 60.0, 600.0)


@pytest.mark.parametrize("stream", [False, True])
def test_a_hung_upstream_gives_504_once_without_retrying(ups: Fixture, stream: bool) -> None:
    answer = _ask(Gateway(parse_config(ups.config())), "up/hung", stream=stream)
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["type"] == "timeout"
    assert len(ups.hung.requests) == 1  # a timed-out endpoint is not asked again


@pytest.mark.parametrize("stream", [False, True])
def test_a_hung_upstream_falls_back_within_its_timeouts(ups: Fixture, stream: bool) -> None:
    gw = Gateway(parse_config(ups.config(fallbacks=["up/spare"])))
    answer = _ask(gw, "up/hung", stream=stream)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-mixstack-model"] == "up/spare"


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_upstream_addresses_and_error_bodies_are_not_echoed(ups: Fixture, status: int) -> None:
    body = {"error": {"message": LEAKY, "type": "server_error"}}
    ups.spare.default = lambda b: Scripted(status=status, json_body=body)
    answer = _ask(Gateway(parse_config(ups.config())), "up/spare")
    assert answer.status_code >= 400
    text = answer.text
    assert "INTERNAL-UPSTREAM-DETAIL" not in text
    assert "sk-upstream" not in text
    assert ups.spare_server.url not in text
    assert "127.0.0.1" not in text
    assert "up/spare" in answer.json()["error"]["message"]


def test_stream_errors_do_not_echo_the_upstream_either(ups: Fixture) -> None:
    events = [*chat_events(["partial "])[:2], {"error": {"message": LEAKY}}]
    ups.spare.default = lambda b: Scripted(events=events)
    answer = _ask(Gateway(parse_config(ups.config())), "up/spare", stream=True)
    assert "INTERNAL-UPSTREAM-DETAIL" not in answer.text
    assert ups.spare_server.url not in answer.text


def test_upstream_429_reaches_the_client_as_429_with_retry_after(ups: Fixture) -> None:
    ups.spare.default = lambda b: Scripted(
        status=429, json_body={"error": {"message": "slow down"}}, headers={"retry-after": "7"}
    )
    answer = _ask(Gateway(parse_config(ups.config())), "up/spare")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["error"]["type"] == "rate_limit_error"


def test_health_details_and_metrics_need_an_admin_key(ups: Fixture) -> None:
    gw = Gateway(parse_config({**ups.config(), "gateway": {"auth": "auto", "key_cache_s": 0}}))
    user, _ = gw.keys.create()
    admin, _ = gw.keys.create(admin=True)
    with ServerThread(gw.app()) as server:
        plain = httpx.get(f"{server.url}/health").json()
        as_user = httpx.get(f"{server.url}/health", headers={"authorization": f"Bearer {user}"})
        as_admin = httpx.get(f"{server.url}/health", headers={"authorization": f"Bearer {admin}"})
        metrics = httpx.get(f"{server.url}/metrics", headers={"authorization": f"Bearer {user}"})
    assert plain == {"status": "ok"}
    assert as_user.json() == {"status": "ok"}
    assert "circuits" in as_admin.json()
    assert metrics.status_code == 403
