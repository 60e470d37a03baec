"""Fake Anthropic Messages and Gemini generateContent upstreams: real HTTP apps on 127.0.0.1.

Shapes follow the vendors' API reference (responses and SSE event sequences). Each app records
the request bodies it gets; `mode` switches between a text answer, a tool call and an error.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class FakeAnthropic:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.mode = "text"
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.mode == "overloaded":
            return JSONResponse(
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                status_code=529,
                headers={"retry-after": "3"},
            )
        if body.get("stream"):
            return StreamingResponse(self._events(), media_type="text/event-stream")
        if self.mode == "tool":
            content: list[dict[str, Any]] = [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": "Bonjour from Claude."}]
            stop = "end_turn"
        return JSONResponse(
            {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 21, "output_tokens": 9},
            }
        )

    async def _events(self) -> Any:
        def sse(kind: str, data: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()

        yield sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_02",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "claude-test",
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 25, "output_tokens": 1},
                },
            },
        )
        yield sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        yield sse("ping", {"type": "ping"})
        for piece in ("Bon", "jour"):
            yield sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        yield sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = "end_turn"
        if self.mode == "tool":
            stop = "tool_use"
            yield sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_02",
                        "name": "get_weather",
                        "input": {},
                    },
                },
            )
            for part in ('{"city": ', '"Paris"}'):
                yield sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 1,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                )
            yield sse("content_block_stop", {"type": "content_block_stop", "index": 1})
        yield sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
        )
        yield sse("message_stop", {"type": "message_stop"})


class FakeGemini:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.mode = "text"
        self.app = Starlette(
            routes=[Route("/{version}/models/{rest:path}", self._generate, methods=["POST"])]
        )

    def _candidate(self, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        return cand

    async def _generate(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.paths.append(request.url.path + ("?" + request.url.query if request.url.query else ""))
        if self.mode == "unavailable":
            return JSONResponse(
                {
                    "error": {
                        "code": 503,
                        "message": "The model is overloaded.",
                        "status": "UNAVAILABLE",
                    }
                },
                status_code=503,
            )
        usage = {"promptTokenCount": 17, "candidatesTokenCount": 8, "totalTokenCount": 25}
        if self.mode == "tool":
            parts: list[dict[str, Any]] = [
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
            ]
        else:
            parts = [{"text": "Ciao from Gemini."}]
        if request.url.path.endswith(":streamGenerateContent"):
            return StreamingResponse(self._stream(parts, usage), media_type="text/event-stream")
        return JSONResponse(
            {
                "candidates": [self._candidate(parts, "STOP")],
                "usageMetadata": usage,
                "modelVersion": "gemini-test",
            }
        )

    async def _stream(self, parts: list[dict[str, Any]], usage: dict[str, int]) -> Any:
        if self.mode == "tool":
            pieces = [self._candidate(parts, "STOP")]
        else:
            pieces = [
                self._candidate([{"text": "Ciao "}], None),
                self._candidate([{"text": "from Gemini."}], "STOP"),
            ]
        for i, cand in enumerate(pieces):
            chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-test"}
            if i == len(pieces) - 1:
                chunk["usageMetadata"] = usage
            yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()
