"""Finding 6 and 7: guard work never stalls other clients; oversized images are refused
before their pixels are decoded (400, not 500)."""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.guard._normalize import GuardScanner
from mixstack.guard._pii import PiiSpan
from mixstack.pipeline import Pipeline
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import ServerThread


class HeldScanner(GuardScanner):
    """Holds every scan of a large text until released (a scan that takes "forever")."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def scan(self, text: str, *, model: bool = True) -> list[PiiSpan]:
        if len(text) > 50_000:
            self.entered.set()
            assert self.release.wait(60), "the test never released the scan"
        return super().scan(text, model=model)


@pytest.fixture
def held() -> Iterator[tuple[HeldScanner, str]]:
    config = parse_config({"models": FAKE_MODELS, "gateway": {"auth": "off"}})
    pipeline = Pipeline(config)
    scanner = HeldScanner()
    pipeline.router.scanner = scanner
    gw = Gateway(config, pipeline=pipeline)
    with ServerThread(gw.app()) as server:
        yield scanner, server.url
    scanner.release.set()


def test_health_answers_while_a_large_prompt_is_being_scanned(
    held: tuple[HeldScanner, str],
) -> None:
    scanner, url = held
    big = {"model": "fake/remote", "messages": [{"role": "user", "content": "lorem " * 20_000}]}
    result: dict[str, Any] = {}

    def send() -> None:
        result["status"] = httpx.post(
            f"{url}/v1/chat/completions", json=big, timeout=60
        ).status_code

    sender = threading.Thread(target=send)
    sender.start()
    assert scanner.entered.wait(30), "the large prompt was never scanned"
    # the scan is held: a gateway scanning on its event loop could not answer anything now
    health = httpx.get(f"{url}/health", timeout=10)
    assert health.status_code == 200
    small = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "fake/remote", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert small.status_code == 200
    scanner.release.set()
    sender.join(60)
    assert result["status"] == 200


def _png(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (_png(20_000, 20_000), "image_too_large"),
        (_png(10_000, 10_000), "image_too_large"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "invalid_image"),
    ],
)
def test_oversized_or_broken_images_get_400(image: bytes, code: str) -> None:
    config = parse_config({"models": FAKE_MODELS, "gateway": {"auth": "off"}})
    gw = Gateway(config)
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    body = {
        "model": "fake/remote",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what does it say?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }
    with ServerThread(gw.app()) as server:
        answer = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
