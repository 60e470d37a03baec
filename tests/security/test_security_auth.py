"""Finding 1 and item 10: auth fails closed, keys expire and reset, admin-only endpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.guard._keys import KeyStore, next_reset, parse_expiry
from mixstack.store import open_store
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import ServerThread

BODY = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}


def _gateway(auth: str) -> Gateway:
    return Gateway(
        parse_config({"models": FAKE_MODELS, "gateway": {"key_cache_s": 0, "auth": auth}})
    )


@pytest.fixture
def served(home: Path) -> Iterator[tuple[Gateway, httpx.Client]]:
    gw = _gateway("auto")
    with ServerThread(gw.app()) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        yield gw, http


def _bearer(key: str | None) -> dict[str, str]:
    return {} if key is None else {"authorization": f"Bearer {key}"}


def _status(
    http: httpx.Client, key: str | None, path: str = "/v1/chat/completions", **extra: Any
) -> int:
    if path == "/v1/chat/completions":
        return http.post(path, json={**BODY, **extra}, headers=_bearer(key)).status_code
    return http.get(path, headers=_bearer(key)).status_code


def test_revoking_the_last_key_keeps_the_gateway_closed(
    served: tuple[Gateway, httpx.Client],
) -> None:
    gw, http = served
    assert _status(http, None) == 200  # no key has ever existed: open (auth: auto)
    secret, key = gw.keys.create(name="only")
    assert _status(http, secret) == 200
    assert gw.keys.revoke(key.id)
    for attempt in (None, secret, "mxs-made-up"):
        assert _status(http, attempt) == 401, attempt
        assert _status(http, attempt, "/v1/models") == 401, attempt
    answer = http.post("/v1/chat/completions", json=BODY, headers=_bearer(secret))
    assert answer.json()["error"]["code"] == "invalid_api_key"
    assert "revoked" in answer.json()["error"]["message"]


def test_a_key_created_elsewhere_is_enforced_while_no_keys_is_still_cached(home: Path) -> None:
    # a replica that last saw no keys caches that answer; a key another process creates
    # meanwhile must still be honoured with its limits, and the gateway closes at once
    gw = Gateway(
        parse_config({"models": FAKE_MODELS, "gateway": {"key_cache_s": 3600, "auth": "auto"}})
    )
    with ServerThread(gw.app()) as server, httpx.Client(base_url=server.url) as http:
        assert _status(http, None) == 200  # "no keys" is now cached for an hour
        with open_store(home=home) as other:
            secret, _ = KeyStore(other).create(name="elsewhere", models=("fake/other",))
        answer = http.post("/v1/chat/completions", json=BODY, headers=_bearer(secret))
        assert answer.status_code == 403, answer.text
        assert "fake/echo" in answer.json()["error"]["message"]
        assert _status(http, None) == 401
        assert _status(http, "mxs-made-up") == 401


def test_auth_required_refuses_everything_before_any_key_exists(home: Path) -> None:
    gw = _gateway("required")
    with ServerThread(gw.app()) as server, httpx.Client(base_url=server.url) as http:
        assert _status(http, None) == 401
        assert _status(http, None, "/v1/models") == 401
        assert _status(http, "mxs-made-up") == 401
        secret, _ = gw.keys.create()
        assert _status(http, secret) == 200


def test_an_expired_key_gets_401_and_says_so(served: tuple[Gateway, httpx.Client]) -> None:
    gw, http = served
    secret, key = gw.keys.create(expires_at=time.time() + 3600)
    assert _status(http, secret) == 200
    # the clock moves past the expiry (set in the store, as another process would)
    gw.pipeline.store.write(
        "UPDATE api_keys SET expires_at = ? WHERE id = ?", (time.time() - 1, key.id)
    ).result()
    answer = http.post("/v1/chat/completions", json=BODY, headers=_bearer(secret))
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]
    assert _status(http, secret, "/v1/models") == 401


def test_budget_period_starts_spend_again_from_zero(served: tuple[Gateway, httpx.Client]) -> None:
    gw, http = served
    secret, key = gw.keys.create(max_tokens=40, budget_period="daily")
    statuses = [_status(http, secret, max_tokens=5) for _ in range(12)]
    assert statuses[0] == 200
    assert statuses[-1] == 429
    # a day later (the period start moved back, as if the clock had moved on)
    gw.pipeline.store.flush()
    gw.pipeline.store.write(
        "UPDATE api_keys SET period_start = ? WHERE id = ?", (time.time() - 86401, key.id)
    ).result()
    assert _status(http, secret, max_tokens=5) == 200
    fresh = gw.keys.get(key.id)
    assert fresh is not None
    assert fresh.period_start is not None
    assert fresh.period_start > time.time() - 86400


def test_admin_only_endpoints(served: tuple[Gateway, httpx.Client]) -> None:
    gw, http = served
    user, _ = gw.keys.create(name="user")
    admin, _ = gw.keys.create(name="ops", admin=True)
    assert _status(http, user) == 200  # traffic, so metrics have a key label
    for path in ("/metrics",):
        assert _status(http, None, path) == 401
        assert _status(http, user, path) == 403
        assert _status(http, admin, path) == 200
    forbidden = http.get("/metrics", headers=_bearer(user)).json()
    assert forbidden["error"]["code"] == "admin_key_required"
    # plain liveness stays open and says nothing else
    open_health = http.get("/health")
    assert open_health.status_code == 200
    assert open_health.json() == {"status": "ok"}
    detailed = http.get("/health", headers=_bearer(admin)).json()
    assert "circuits" in detailed
    assert "models" in detailed
    assert http.get("/health", headers=_bearer(user)).json() == {"status": "ok"}


def test_cli_keys_admin_expiry_period_and_list_all(cli: Any) -> None:
    made = cli("keys", "create", "--admin", "--expires", "30d", "--json")
    assert made.code == 0, made.err
    info = made.json()
    assert info["admin"] is True
    assert info["expires_at"] > time.time() + 29 * 86400
    periodic = cli("keys", "create", "--budget", "1", "--budget-period", "monthly", "--json")
    assert periodic.code == 0, periodic.err
    assert periodic.json()["budget_period"] == "monthly"
    bad = cli("keys", "create", "--budget-period", "hourly", "--budget", "1")
    assert bad.code == 2
    assert "daily, weekly, monthly" in bad.err
    assert cli("keys", "create", "--expires", "yesterday").code == 2
    assert cli("keys", "revoke", info["id"]).code == 0
    active = cli("keys", "list", "--json").json()
    everything = cli("keys", "list", "--all", "--json").json()
    assert info["id"] not in [k["id"] for k in active]
    assert info["id"] in [k["id"] for k in everything]
    table = cli("keys", "list", "--all", env={"COLUMNS": "250"})
    assert "(revoked)" in table.out
    assert "admin" in table.out


def test_expiry_and_period_arithmetic() -> None:
    now = 1_700_000_000.0
    assert parse_expiry("12h", now) == now + 12 * 3600
    assert parse_expiry("2w", now) == now + 14 * 86400
    assert parse_expiry("2099-01-31", now) > now
    jan31 = 1_706_659_200.0  # 2024-01-31 00:00 UTC
    assert next_reset(jan31, "monthly") == 1_709_164_800.0  # 2024-02-29, leap year
    assert next_reset(now, "weekly") == now + 7 * 86400
