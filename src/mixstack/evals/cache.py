"""The response cache: answers stored by model, parameters and messages, so a rerun is free.

A hit returns the completion as first recorded, its original latency and cost included, so
statistics of a cached rerun match the cold run.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from mixstack.store import Store
from mixstack.types import Completion, ImagePart, Request

__all__ = ["ResponseCache", "request_key"]


def _part(part: Any) -> Any:
    if isinstance(part, ImagePart):
        data = part.data or (part.url or "").encode()
        return {"image": hashlib.sha256(data).hexdigest()}
    return part.text


def request_key(request: Request) -> str:
    """What decides the answer: model, messages, tools, format and sampling parameters."""
    payload = {
        "model": request.model,
        "workload": request.workload,
        "messages": [
            {
                "role": m.role,
                "content": [_part(p) for p in m.content],
                "tool_calls": [c.model_dump() for c in m.tool_calls],
                "tool_call_id": m.tool_call_id,
                "name": m.name,
            }
            for m in request.messages
        ],
        "tools": [t.model_dump() for t in request.tools],
        "tool_choice": request.tool_choice,
        "params": request.params.model_dump(),
        "response_format": request.response_format.model_dump(),
        "rephrase": request.rephrase,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, store: Store):
        self._store = store

    def get(self, key: str) -> Completion | None:
        row = self._store.query_one("SELECT completion FROM response_cache WHERE key = ?", (key,))
        if row is None:
            return None
        return Completion.model_validate_json(row[0])

    def put(self, key: str, completion: Completion) -> None:
        self._store.submit(
            "INSERT OR REPLACE INTO response_cache (key, model, created_at, completion) "
            "VALUES (?, ?, ?, ?)",
            (key, completion.model, time.time(), completion.model_dump_json()),
        )
