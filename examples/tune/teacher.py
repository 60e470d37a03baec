"""A stand-in for the rented model: an OpenAI-compatible endpoint on 127.0.0.1 that labels
support tickets, so the example runs offline.

It knows the ground truth of the synthetic tickets (tickets.jsonl) and answers with the
label, except for a fixed ~4% of tickets where it answers wrongly, as a real model would now
and then: those answers fail the suite's check and never reach the training set.
`python teacher.py [PORT]` serves it until interrupted.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HERE = Path(__file__).parent


def _truth() -> dict[str, str]:
    lines = (HERE / "tickets.jsonl").read_text(encoding="utf-8").splitlines()
    return {(t := json.loads(line))["input"]: t["expected"] for line in lines if line.strip()}


def _wrong(text: str) -> bool:
    return hashlib.sha256(text.encode()).digest()[0] < 10  # about 4% of tickets


def app() -> Starlette:
    truth = _truth()

    async def chat(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        text = str(body["messages"][-1]["content"])
        label = truth.get(text.strip(), "unknown")
        answer = "I'm not sure, maybe billing?" if _wrong(text) else label
        prompt_tokens = sum(len(str(m["content"]).split()) for m in body["messages"])
        return JSONResponse({
            "id": "chatcmpl-teacher", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "teacher"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 2,
                      "total_tokens": prompt_tokens + 2},
        })  # fmt: skip

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


class Teacher:
    """The endpoint in a background thread: `with Teacher(port): ...`."""

    def __init__(self, port: int):
        config = uvicorn.Config(app(), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Teacher:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
