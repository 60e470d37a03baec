"""Real HTTP servers on 127.0.0.1 for tests: uvicorn in a thread, plus scripted upstreams.

`ServerThread` runs any ASGI app; `RecordingUpstream` is an OpenAI-compatible endpoint that
records every request and answers from a script (status codes, JSON, SSE, delays, hangs).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None, **options: Any):
        """`options`: more uvicorn options (`server_options` for the gateway's own)."""
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60  # the lifespan may load the entity model first
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Scripted:
    """One scripted answer: JSON body, SSE events, or an error status."""

    status: int = 200
    json_body: dict[str, Any] | None = None
    events: list[dict[str, Any] | str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    #: seconds to wait between SSE events
    event_gap_s: float = 0.0
    #: close the stream (without [DONE]) after this many events
    cut_after: int | None = None


def chat_json(
    text: str = "hello", *, model: str = "up-model", finish: str = "stop", **message: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, **message},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def chat_events(pieces: list[str], *, finish: str = "stop") -> list[dict[str, Any] | str]:
    base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events: list[dict[str, Any] | str] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    ]
    for piece in pieces:
        events.append(
            {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        )
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    events.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": len(pieces), "total_tokens": 9},
        }
    )
    events.append("[DONE]")
    return events


class RecordingUpstream:
    """An OpenAI-compatible `/v1/chat/completions` that records requests and follows a script.

    Script entries are consumed in order; when the script is empty, `default` answers.
    """

    def __init__(self, default: Callable[[dict[str, Any]], Scripted] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[Scripted] = []
        self.connections: set[tuple[str, int]] = set()
        self.cancelled = 0
        self.default = default or _echo
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "up-model", "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if request.client is not None:
            self.connections.add((request.client.host, request.client.port))
        step = self.script.pop(0) if self.script else self.default(body)
        if step.delay_s:
            # wait, but notice a client that goes away (as a real upstream would)
            try:
                message = await asyncio.wait_for(request.receive(), timeout=step.delay_s)
            except TimeoutError:
                message = {}
            if message.get("type") == "http.disconnect":
                self.cancelled += 1
                return Response(status_code=499)
        if step.status >= 400 or step.events is None:
            return JSONResponse(step.json_body or {}, status_code=step.status, headers=step.headers)
        return StreamingResponse(
            self._sse(step), media_type="text/event-stream", headers=step.headers
        )

    async def _sse(self, step: Scripted) -> Any:
        assert step.events is not None
        try:
            for i, event in enumerate(step.events):
                if step.cut_after is not None and i >= step.cut_after:
                    return
                if step.event_gap_s and i:
                    await asyncio.sleep(step.event_gap_s)
                data = event if isinstance(event, str) else json.dumps(event)
                yield f"data: {data}\n\n".encode()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def _echo(body: dict[str, Any]) -> Scripted:
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else json.dumps(last)
    if body.get("stream"):
        return Scripted(events=chat_events(["echo: ", text]))
    return Scripted(json_body=chat_json(f"echo: {text}"))


class LlamaCppServer:
    """`llama-cpp-python`'s own OpenAI-compatible server as a real self-hosted endpoint."""

    def __init__(self, model_path: str, *, n_ctx: int = 2048):
        import subprocess
        import sys

        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                model_path,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(n_ctx),
                "--n_threads",
                "2",
                "--verbose",
                "False",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"llama_cpp.server exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("llama_cpp.server did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
