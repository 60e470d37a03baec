"""Shared fixtures: an isolated mixstack home per test, configs, and a real CLI subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixstack.config import Config, parse_config

FAKE_MODELS: list[dict[str, Any]] = [
    {
        "name": "fake/echo",
        "provider": "fake",
    },
    {
        "name": "fake/tools",
        "provider": "fake",
        "replies": [
            {"when": "tool result", "text": "The answer is 42."},
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
        ],
    },
    {
        "name": "fake/broken",
        "provider": "fake",
        "replies": [{"error": "upstream exploded"}],
    },
    {
        "name": "fake/remote",
        "provider": "fake",
        "locality": "remote",
        "price": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        "replies": [{"text": "rented answer with several words"}],
    },
]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own store; the model cache stays shared (it is content-addressed)."""
    home = tmp_path / "home"
    monkeypatch.setenv("MIXSTACK_HOME", str(home))
    monkeypatch.delenv("MIXSTACK_CONFIG", raising=False)
    return home


@contextmanager
def own_home(path: Path) -> Iterator[Path]:
    """`MIXSTACK_HOME` set to `path` for a module-scoped fixture's set-up: the per-test
    `home` fixture is not in place yet, and an exported home (the user's) must stay untouched."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIXSTACK_HOME", str(path))
        yield path


@pytest.fixture
def fake_config() -> Config:
    return parse_config({"models": FAKE_MODELS})


@pytest.fixture
def fake_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mixstack.yaml"
    path.write_text(yaml.safe_dump({"models": FAKE_MODELS}))
    return path


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> CliResult:
    """Run the real `mixstack` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "mixstack", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc)


@pytest.fixture
def cli() -> Any:
    return run_cli


@pytest.fixture
def redis() -> Iterator[Any]:
    """A Redis of the test's own (from the Debian package, in a temp dir, on 127.0.0.1)."""
    from tests.services import redis_server

    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One PostgreSQL for the session's tests that compare backends (started from the Debian
    package in a temp dir; each test takes a fresh database on it: `pg_database`)."""
    from tests.services import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_database(pg_server: Any) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL."""
    from tests.services import create_database

    return create_database(pg_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each store backend in turn, on a fresh database (`tests/backends.py`)."""
    from tests.backends import Backend

    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'mixstack.db'}")
    return Backend("postgresql", request.getfixturevalue("pg_database"))
