"""The interop suite: mixstack's gateway driven by real client SDKs, on 127.0.0.1.

One gateway per test module, serving the embedded SmolLM2 (in-process), scripted fake models
and, where a module asks, llama-cpp-python's own OpenAI-compatible server as an upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.gateway._connections import server_options
from mixstack.store import recent_calls
from tests.conftest import FAKE_MODELS, own_home
from tests.upstream_servers import LlamaCppServer, ServerThread

SMOL = "local/smollm2-135m-instruct"


@dataclass
class Served:
    gateway: Gateway
    url: str

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def rows(self, n: int = 20) -> list[dict[str, Any]]:
        self.gateway.pipeline.flush()
        return recent_calls(self.gateway.pipeline.store, n)


def serve(home: Path, models: list[dict[str, Any]]) -> Iterator[Served]:
    config = parse_config(
        {
            "home": str(home),
            "models": [*FAKE_MODELS, *models],
            "workloads": {"private": {"privacy": "local-only", "prefer": [SMOL]}},
        }
    )
    with own_home(home):
        gateway = Gateway(config)
    # served as `mixstack serve` serves it: the gateway's own HTTP protocol
    with ServerThread(gateway.app(), **server_options(config.gateway)) as server:
        yield Served(gateway, server.url)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("home"), [])


@pytest.fixture(scope="module")
def llama_upstream() -> Iterator[str]:
    """llama-cpp-python's server on SmolLM2, a real OpenAI-compatible endpoint."""
    from mixstack.providers.local._embedded import smollm2_path

    server = LlamaCppServer(str(smollm2_path()))
    try:
        server.wait()
        yield server.url
    finally:
        server.stop()
