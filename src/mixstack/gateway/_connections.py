"""Connection hygiene for `mixstack serve`: header and idle timeouts, a connection cap.

uvicorn times out idle keep-alive connections, but not a client that opens a connection and
never finishes its request headers (slowloris): enough of those exhaust the process's file
descriptors and every other client fails. The protocol below (uvicorn's httptools protocol
with two additions) closes a connection whose headers are not complete `header_timeout_s`
after it opened (or after its previous response), and refuses connections past
`max_connections` at once with a 503 that says why, instead of letting them queue. It also
sends a whole answer's head and body in one write (uvicorn writes them apart).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mixstack.config.gateway import GatewayConfig

__all__ = ["GuardedHttpProtocol", "server_options"]

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"content-length: 150\r\n\r\n"
)
_BUSY_BODY = (
    b'{"error": {"message": "the gateway has too many open connections; retry shortly or '
    b'raise gateway.max_connections.", "type": "server_busy", "param": null, "code": null}}'
)
_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: 140\r\n\r\n"
)
_TIMEOUT_BODY = (
    b'{"error": {"message": "the request headers did not arrive in time; send the whole '
    b'request at once.", "type": "request_timeout", "param": null, "code": null}}'
)


def _fit(head: bytes, body: bytes) -> bytes:
    """The response with the real content length (the header templates hold a guess)."""
    start = head.index(b"content-length: ")
    return head[:start] + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a header timeout, a connection cap, and a whole
    answer's head and body in one write."""

    header_timeout_s: float = 10.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_fit(_BUSY, _BUSY_BODY))
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_fit(_TIMEOUT, _TIMEOUT_BODY))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    @classmethod
    def configure(cls, settings: GatewayConfig) -> None:
        """Take the limits from the config (in each worker process: the class is passed to
        uvicorn by reference, so its workers can import it)."""
        cls.header_timeout_s = settings.header_timeout_s
        cls.max_connections = settings.max_connections


class _HeadWithBody:
    """A response cycle's view of its connection: a head whose length header says the body
    follows at once waits for that body's first write and goes with it, one system call and
    one wake-up of the client instead of two. Anything else (a streamed answer's head) goes
    as it comes; a held head still goes at the end of the loop's turn if no body came."""

    __slots__ = ("_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head + data)
        elif data.startswith(b"HTTP/1.1 ") and b"\r\ncontent-length: " in data:
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def server_options(settings: GatewayConfig) -> dict[str, Any]:
    """uvicorn options for the gateway's connection limits and timeouts."""
    GuardedHttpProtocol.configure(settings)
    return {"http": GuardedHttpProtocol, "timeout_keep_alive": settings.idle_timeout_s}
