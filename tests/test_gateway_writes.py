"""A response's head and body leave in one write when its length is known; a streamed
answer's head is not held back."""

from __future__ import annotations

import asyncio
from typing import Any

from mixstack.gateway._connections import _HeadWithBody

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"
STREAMED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


class Recorder:
    """A transport that keeps what was written, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


def _written(*steps: bytes | None) -> list[bytes]:
    """Writes through the wrapper; None: let the loop turn."""

    async def run() -> list[bytes]:
        sink = Recorder()
        transport = _HeadWithBody(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        for step in steps:
            if step is None:
                await asyncio.sleep(0)
            else:
                transport.write(step)
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest passes
        return sink.writes

    return asyncio.run(run())


def test_a_head_with_its_length_goes_with_the_body_in_one_write() -> None:
    assert _written(HEAD, b"{}") == [HEAD + b"{}"]


def test_a_streamed_head_goes_at_once() -> None:
    assert _written(STREAMED, None, b"5\r\nhello\r\n") == [STREAMED, b"5\r\nhello\r\n"]


def test_a_held_head_goes_at_the_end_of_the_turn_when_no_body_comes() -> None:
    assert _written(HEAD, None, b"{}") == [HEAD, b"{}"]


def test_closing_sends_a_held_head_first() -> None:
    async def run() -> Recorder:
        sink = Recorder()
        transport = _HeadWithBody(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(HEAD)
        transport.close()
        return sink

    sink = asyncio.run(run())
    assert (sink.writes, sink.closed) == ([HEAD], True)
