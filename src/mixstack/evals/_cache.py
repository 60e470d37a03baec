"""The response cache: answers stored by model, parameters and messages, so a rerun is free.

A hit returns the completion as first recorded, its original latency and cost included, so
statistics of a cached rerun match the cold run; only its routing decision is left out (a
replayed answer is not routed, and reading that JSON back was half the cost of a hit). The
runner looks hits up a chunk of requests at a time (`get_many`: one query per chunk).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from mixstack._types import Completion, ImagePart, Message, Request
from mixstack.store import Store

__all__ = ["PreparedKeys", "RequestKeys", "ResponseCache", "request_key"]

# the canonical form of the key's payload: keys sorted, compact, UTF-8 kept as is
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
#: how `_encode` writes a string (with ensure_ascii off)
_string: Callable[[str], str] = json.encoder.encode_basestring

#: what a hit does not need back
_UNSTORED = {"route"}

_Dump = Callable[[Any, Callable[[Any], Any]], str]


def _text(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _choice(value: str | dict[str, Any] | None) -> str:
    return _encode(value) if isinstance(value, dict) else _text(value)


def _part(part: Any) -> str:
    if isinstance(part, ImagePart):
        data = part.data or (part.url or "").encode()
        return '{"image":"' + hashlib.sha256(data).hexdigest() + '"}'
    return _string(part.text)


def _message(m: Message) -> str:
    calls = _encode([c.model_dump() for c in m.tool_calls]) if m.tool_calls else "[]"
    return "".join(
        (
            '{"content":[',
            ",".join([_part(p) for p in m.content]),
            '],"name":',
            _text(m.name),
            ',"role":',
            _string(m.role),
            ',"tool_call_id":',
            _text(m.tool_call_id),
            ',"tool_calls":',
            calls,
            "}",
        )
    )


def _tools(tools: Any) -> Any:
    return [t.model_dump() for t in tools]


def _model_dump(value: Any) -> Any:
    return value.model_dump()


def _plain(value: Any, dump: Callable[[Any], Any]) -> str:
    return _encode(dump(value))


def _key(request: Request, model: str | None, shared: _Dump) -> str:
    """sha256 of the canonical JSON (`_encode`) of
    `{messages, model, params, rephrase, response_format, tool_choice, tools, workload}`,
    each message as `{content, name, role, tool_call_id, tool_calls}` and an image part as
    `{"image": sha256 of its bytes}`.

    The JSON is written out field by field in sorted key order, byte for byte what `_encode`
    gives for the whole payload (a test holds the two together), because encoding one small
    object at a time dominated the cost of a cached rerun; the parts most requests of a suite
    share (tools, params, format) are serialized once by `shared`.
    """
    blob = "".join(
        (
            '{"messages":[',
            ",".join([_message(m) for m in request.messages]),
            '],"model":',
            _text(model),
            ',"params":',
            shared(request.params, _model_dump),
            ',"rephrase":',
            _text(request.rephrase),
            ',"response_format":',
            shared(request.response_format, _model_dump),
            ',"tool_choice":',
            _choice(request.tool_choice),
            ',"tools":',
            shared(request.tools, _tools),
            ',"workload":',
            _text(request.workload),
            "}",
        )
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def request_key(request: Request) -> str:
    """What decides the answer: model, messages, tools, format and sampling parameters.

    Images count by their content (a hash of their bytes), not by where they came from.
    """
    return _key(request, request.model, _plain)


class RequestKeys:
    """`request_key` for many requests: the JSON of a shared part is computed once per object.

    A suite's cases share their tools, params and format objects; those are recognised by
    identity (the object is kept alongside, so an id is never mistaken after reuse).
    """

    def __init__(self, limit: int = 1024):
        self._limit = limit
        self._seen: dict[int, tuple[Any, str]] = {}

    def __call__(self, request: Request, model: str | None = None) -> str:
        """The key of `request` as sent to `model` (default: the request's own model)."""
        return _key(request, model if model is not None else request.model, self._shared)

    def _shared(self, value: Any, dump: Callable[[Any], Any]) -> str:
        seen = self._seen.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        text = _encode(dump(value))
        if len(self._seen) >= self._limit:  # per-case objects: keep memory flat
            self._seen.clear()
        self._seen[id(value)] = (value, text)
        return text


class PreparedKeys:
    """Cache keys noted while a suite is checked, by (case id, variant, model).

    The check builds every request anyway (to catch template and image errors before any
    call); keeping each one's key (a few hundred bytes) lets the run build again only the
    requests it must send. Keys are made the same way as the runner makes them.
    """

    def __init__(self, models: Sequence[str], keys: RequestKeys | None = None):
        self.models = list(models)
        self._keys = keys or RequestKeys()
        self._found: dict[tuple[str, str, str], str] = {}

    def add(self, case_id: str, variant: str, request: Request) -> None:
        for model in self.models:
            self._found[(case_id, variant, model)] = self._keys(request, model)

    def get(self, case_id: str, variant: str, model: str) -> str | None:
        return self._found.get((case_id, variant, model))

    def __len__(self) -> int:
        return len(self._found)


class ResponseCache:
    """Completions by request key, in the store's response cache (reads off the event loop)."""

    def __init__(self, store: Store):
        self._repo = store.responses

    async def get(self, key: str) -> Completion | None:
        stored = await self._repo.get(key)
        return None if stored is None else Completion.model_validate_json(stored)

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored completions (as JSON, see `load`) of those keys that have one."""
        return await self._repo.get_many(keys)

    @staticmethod
    def load(stored: str) -> Completion:
        return Completion.model_validate_json(stored)

    def put(self, key: str, completion: Completion) -> None:
        self._repo.put(key, completion.model, completion.model_dump_json(exclude=_UNSTORED))
