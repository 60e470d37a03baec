"""The OpenAI Embeddings wire format (`POST /v1/embeddings`).

In-process models embed through llama.cpp's embedding mode (mean-pooled, unit length);
OpenAI-compatible endpoints receive the call on their own `/embeddings`. Fields such as
`dimensions` travel on to endpoints and are refused by models that cannot honour them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from mixstack.errors import InvalidRequestError, MixstackError
from mixstack.gateway._errors import error_response
from mixstack.gateway._formats import Parsed, StreamWriter, parse_json_body
from mixstack.types import Embeddings, Message, Request

__all__ = ["EmbeddingsRequest", "EmbeddingsWire"]


class EmbeddingsRequest(BaseModel):
    """`POST /v1/embeddings`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str
    input: str | list[str] = Field(description="a text or a list of texts (token ids: no)")
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


def _texts(value: str | list[str]) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not texts:
        raise InvalidRequestError("`input` is empty; send at least one text.", param="input")
    for i, text in enumerate(texts):
        if not text.strip():
            raise InvalidRequestError(
                f"input[{i}] is empty; every input must hold some text.", param=f"input[{i}]"
            )
    return texts


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    import numpy as np  # here: the gateway process need not load numpy to start

    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


class EmbeddingsWire:
    """`POST /v1/embeddings`."""

    path = "/v1/embeddings"

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed:
        req = parse_json_body(EmbeddingsRequest, body, "`model` and `input`")
        request = Request(
            messages=tuple(Message.user(t) for t in _texts(req.input)),
            model=req.model,
            workload=headers.get("x-mixstack-workload") or None,
            caller=caller,
            metadata={"user": req.user} if req.user else {},
            extra=dict(req.model_extra or {}),
        )
        return Parsed(request, False, False, {"encoding": req.encoding_format}, kind="embed")

    def render(self, answer: Any, parsed: Parsed) -> dict[str, Any]:
        assert isinstance(answer, Embeddings)
        assert parsed.context is not None
        encoding = parsed.context["encoding"]
        return {
            "object": "list",
            "model": answer.model,
            "data": [
                {"object": "embedding", "index": i, "embedding": _encode(v, encoding)}
                for i, v in enumerate(answer.vectors)
            ],
            "usage": {
                "prompt_tokens": answer.usage.prompt_tokens,
                "total_tokens": answer.usage.prompt_tokens,
            },
        }

    def writer(self, request_id: str, model: str, parsed: Parsed) -> StreamWriter:
        raise InvalidRequestError("embeddings are not streamed.")  # parse never asks for it

    def error_response(self, exc: MixstackError) -> Response:
        return error_response(exc)
