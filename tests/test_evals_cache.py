"""The response cache: what a key is made of, and lookups a chunk at a time in a real store."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mixstack._types import (
    Completion,
    ImagePart,
    Message,
    Request,
    ResponseFormat,
    SamplingParams,
    Tool,
    ToolCall,
    Usage,
)
from mixstack.evals._cache import PreparedKeys, RequestKeys, ResponseCache, request_key
from mixstack.store import SQLiteStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _canonical(request: Request) -> str:
    """The key as documented: sha256 of the sorted, compact JSON of what decides the answer."""

    def part(p: Any) -> Any:
        if isinstance(p, ImagePart):
            return {"image": hashlib.sha256(p.data or (p.url or "").encode()).hexdigest()}
        return p.text

    payload = {
        "model": request.model,
        "workload": request.workload,
        "messages": [
            {
                "role": m.role,
                "content": [part(p) for p in m.content],
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


TOOLS = (Tool(name="add", description="sum", parameters={"type": "object", "z": [1, "é"]}),)
REQUESTS = [
    Request.from_prompt("What is 2 + 3?"),
    Request.from_prompt("Quelle est la réponse ? ✓", model="fake/echo", system="Be brief."),
    Request(
        messages=(
            Message.system('Quote "this"\n\ttabbed \\ slash'),
            Message.user("look", ImagePart.from_bytes(PNG, source="a.png")),
            Message.assistant("", (ToolCall(id="t1", name="add", arguments='{"a": 1}'),)),
            Message.tool("t1", "3", name="add"),
            Message.user("", ImagePart.from_url("https://example.test/cat.png")),
        ),
        model="workload/math",
        workload="math",
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "add"}},
        params=SamplingParams(temperature=0.2, max_tokens=9, stop=("\n", "END"), seed=7),
        response_format=ResponseFormat(type="json_schema", json_schema={"b": 1, "a": None}),
        rephrase="auto",
    ),
    Request.from_prompt("pick", model="m", tools=TOOLS, tool_choice="required"),
]


@pytest.mark.parametrize("request_", REQUESTS)
def test_a_key_is_the_hash_of_the_canonical_payload(request_: Request) -> None:
    keys = RequestKeys()
    assert request_key(request_) == _canonical(request_)
    # the shared parts' JSON is remembered: asking again, or for another model, stays exact
    assert keys(request_) == keys(request_) == _canonical(request_)
    other = request_.with_changes(model="other/model")
    assert keys(request_, "other/model") == _canonical(other) != _canonical(request_)


def test_what_changes_the_answer_changes_the_key() -> None:
    base = Request.from_prompt("What is 2 + 3?", model="m", params=SamplingParams(max_tokens=8))
    keys = RequestKeys()
    variants = [
        base.with_changes(model="m2"),
        base.with_changes(params=SamplingParams(max_tokens=9)),
        base.with_changes(messages=(Message.user("What is 2 + 4?"),)),
        base.with_changes(tools=TOOLS),
        base.with_changes(response_format=ResponseFormat(type="json_object")),
    ]
    assert len({keys(r) for r in [base, *variants]}) == 1 + len(variants)
    # not the metadata, nor where an image came from: only its bytes
    assert keys(base.with_changes(metadata={"case": "x"})) == keys(base)
    a = Request.from_prompt("see", images=(ImagePart.from_bytes(PNG, source="a.png"),))
    b = Request.from_prompt("see", images=(ImagePart.from_bytes(PNG, source="b.png"),))
    c = Request.from_prompt("see", images=(ImagePart.from_bytes(PNG + b"x", source="a.png"),))
    assert keys(a) == keys(b) != keys(c)


def test_prepared_keys_match_the_runner_s() -> None:
    prepared = PreparedKeys(["m1", "workload/w"])
    request = REQUESTS[2]
    prepared.add("case-1", "plain", request)
    assert len(prepared) == 2
    assert prepared.get("case-1", "plain", "m1") == request_key(request.with_changes(model="m1"))
    assert prepared.get("case-1", "plain", "workload/w") == request_key(
        request.with_changes(model="workload/w")
    )
    assert prepared.get("case-1", "other", "m1") is None


def test_get_many_finds_hits_across_chunks_in_a_real_store(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "cache.db") as store:
        cache = ResponseCache(store)
        stored = {}
        for i in range(0, 1200, 2):  # every other key answered: more than one lookup chunk
            completion = Completion(
                request_id=f"r{i}",
                model="m",
                provider="fake",
                text=f"answer {i}",
                usage=Usage(prompt_tokens=i, latency_ms=1.5),
                route={"reason": "explicit model"},
            )
            stored[f"k{i}"] = completion
            cache.put(f"k{i}", completion)
        store.flush()
        wanted = [f"k{i}" for i in range(1200)] + ["k0"]  # a duplicate asks once
        found = asyncio.run(cache.get_many(wanted))
        assert set(found) == set(stored)
        for key, text in found.items():
            back = ResponseCache.load(text)
            # as first recorded, latency and usage included; the routing is not replayed
            assert back == stored[key].model_copy(update={"route": None})
        assert asyncio.run(cache.get("k4")) == ResponseCache.load(found["k4"])
        assert asyncio.run(cache.get("k5")) is None
        assert asyncio.run(cache.get_many([])) == {}
