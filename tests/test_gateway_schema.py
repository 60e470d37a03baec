"""Fuzz the gateway's published OpenAPI schema (schemathesis): no input may cause a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import ServerThread


def test_no_input_from_the_schema_makes_the_gateway_fail(home: Path) -> None:
    models = [m for m in FAKE_MODELS if m["name"] != "fake/broken"]
    gateway = Gateway(parse_config({"models": models, "default_model": "fake/echo"}))
    with ServerThread(gateway.app()) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/completions",
            "/v1/embeddings",
            "/v1/models",
        }
        for operation in operations:
            _fuzz(operation, server.url)


def _fuzz(operation: Any, url: str) -> None:
    examples = {"/v1/chat/completions": 50, "/v1/responses": 30, "/v1/completions": 20}.get(
        operation.path, 5
    )

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(base_url=url, timeout=30)
        assert response.status_code < 500, (case.path, case.body, response.text)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert {"message", "type", "param", "code"} <= set(error)

    check()


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"model": "fake/echo", "messages": [{}]}'])
def test_odd_bytes_are_400s(home: Path, body: bytes) -> None:
    import httpx

    gateway = Gateway(parse_config({"models": FAKE_MODELS, "default_model": "fake/echo"}))
    with ServerThread(gateway.app()) as server:
        response = httpx.post(f"{server.url}/v1/chat/completions", content=body)
    assert response.status_code == 400
