"""Finding 7 and item 6: bad input is a 4xx, never a 5xx, also deep inside the handlers.

Random bodies from the schema mostly die in validation; these start from *valid* bodies
(so they reach admission, budgets, the guard, routing and the providers) and vary one part
at a time, with a budgeted key, plus the hand-made list of inputs that once made 500s.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from tests.conftest import FAKE_MODELS, own_home
from tests.upstream_servers import ServerThread


def _png(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def _image(url: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"type": "text", "text": "read"}, _part(url)]},
    ]


def _part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


USER = [{"role": "user", "content": "hello"}]

HAND = [
    {"messages": _image(_png(20_000, 20_000))},  # DecompressionBombError
    {"messages": _image(_png(10_000, 10_000))},
    {"messages": _image("data:image/png;base64,iVBORw0KGgo=")},
    {"messages": _image("data:image/png;base64,!!!")},
    {"messages": _image("file:///etc/passwd")},
    {"messages": USER, "max_tokens": 2**63},
    {"messages": USER, "max_tokens": 2**64 + 7},
    {"messages": USER, "max_tokens": -1},
    {"messages": USER, "max_completion_tokens": 2**63},
    {"messages": USER, "temperature": float("inf")},
    {"messages": USER, "seed": 2**70},
    {"messages": USER, "stop": ["x"] * 5000},
    {"messages": USER, "user": "\ud800"},
    {"messages": [{"role": "user", "content": "\ud800 lone surrogate"}]},
    {"messages": [{"role": "tool", "content": "x"}]},
    {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
    {"messages": USER, "tools": [{"type": "function", "function": {"name": "x" * 10_000}}]},
    {"messages": USER, "response_format": {"type": "json_schema"}},
    {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"schema": 5}}},
    {"messages": USER, "tool_choice": {"type": "function", "function": {}}},
    {"messages": USER, "stream": True, "stream_options": {"include_usage": "yes"}},
    {"messages": [{"role": "user", "content": "a" * 2_000_000}]},
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    models = [m for m in FAKE_MODELS if m["name"] != "fake/broken"]
    config = parse_config(
        {"models": models, "default_model": "fake/echo", "gateway": {"key_cache_s": 0}}
    )
    with own_home(tmp_path_factory.mktemp("home")):
        gw = Gateway(config)
    with ServerThread(gw.app()) as server:
        secret, _ = gw.keys.create(budget_usd=1000.0, max_tokens=10**12, tpm=10**9)
        yield server.url, secret


def _post(gateway: tuple[str, str], body: dict[str, Any]) -> httpx.Response:
    url, secret = gateway
    # ASCII JSON: a lone surrogate goes as the `\\ud800` escape JSON allows
    payload = json.dumps({"model": "fake/remote", **body}).encode()
    return httpx.post(
        f"{url}/v1/chat/completions",
        content=payload,
        headers={"authorization": f"Bearer {secret}", "content-type": "application/json"},
        timeout=120,
    )


@pytest.mark.parametrize("body", HAND, ids=[str(i) for i in range(len(HAND))])
def test_hand_made_bad_inputs_are_4xx(gateway: tuple[str, str], body: dict[str, Any]) -> None:
    answer = _post(gateway, body)
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code >= 400:
        assert {"message", "type", "param", "code"} <= set(answer.json()["error"])


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
FIELDS = [
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "user",
    "n",
    "stream",
    "tool_choice",
    "response_format",
    "tools",
    "stream_options",
]


@given(field=st.sampled_from(FIELDS), value=ODD, content=st.text(max_size=200))
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_valid_bodies_with_one_odd_field_are_never_5xx(
    gateway: tuple[str, str], field: str, value: Any, content: str
) -> None:
    body = {"messages": [{"role": "user", "content": content or "hi"}], field: value}
    answer = _post(gateway, body)
    assert answer.status_code < 500, (field, value, answer.text[:300])
