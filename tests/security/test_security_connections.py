"""Finding 8: slowloris. Header timeouts, body timeouts and a connection cap."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.gateway._connections import server_options
from tests.conftest import FAKE_MODELS
from tests.upstream_servers import free_port

CAP = 12


@pytest.fixture
def gateway_url() -> Iterator[str]:
    config = parse_config(
        {
            "models": FAKE_MODELS,
            "gateway": {
                "auth": "off",
                "header_timeout_s": 0.5,
                "body_timeout_s": 0.5,
                "idle_timeout_s": 0.5,
                "max_connections": CAP,
            },
        }
    )
    port = free_port()
    options = server_options(config.gateway)
    server = uvicorn.Server(
        uvicorn.Config(
            Gateway(config).app(), host="127.0.0.1", port=port, log_level="warning", **options
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        threading.Event().wait(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _slow_client(url: str, first: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    sock.sendall(first)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the timeout)."""
    data = b""
    while True:
        try:
            piece = sock.recv(4096)
        except TimeoutError:
            return data + b"<no close>"
        if not piece:
            return data
        data += piece


def test_headers_that_never_finish_are_cut_off(gateway_url: str) -> None:
    slow = [_slow_client(gateway_url, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")]
    slow.append(_slow_client(gateway_url, b"GET /health HTTP/1.1\r\nHo"))
    slow.append(_slow_client(gateway_url, b""))  # connects and says nothing
    for sock in slow:
        answer = _read_all(sock)
        sock.close()
        assert not answer.endswith(b"<no close>")
        if answer:
            assert answer.startswith(b"HTTP/1.1 408")
    assert httpx.get(f"{gateway_url}/health").status_code == 200


def test_a_body_that_trickles_gets_408(gateway_url: str) -> None:
    sock = _slow_client(
        gateway_url,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 500\r\n\r\n{"model": ',
    )
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request_timeout" in answer


def test_past_the_connection_cap_clients_get_a_clear_503(gateway_url: str) -> None:
    held = [_slow_client(gateway_url, b"") for _ in range(CAP)]
    try:
        extra = _slow_client(gateway_url, b"")
        answer = _read_all(extra)
        extra.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
        assert b"too many open connections" in answer
    finally:
        for sock in held:
            _read_all(sock)  # the header timeout closes each of them
            sock.close()
    # once the slow ones are gone normal clients are served again (the server may take a
    # moment to count the closed connections out: a bounded number of tries)
    statuses = []
    for _ in range(50):
        ok = httpx.post(
            f"{gateway_url}/v1/chat/completions",
            json={"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        statuses.append(ok.status_code)
        if ok.status_code != 503:
            break
        threading.Event().wait(0.05)
    assert statuses[-1] == 200, statuses
