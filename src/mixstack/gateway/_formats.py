"""What the gateway needs from a wire format: parse a body, render an answer, write a stream.

Each wire format (OpenAI Chat Completions, Responses, Completions, Anthropic Messages) is one
module implementing `WireFormat`; the gateway runs every one of them through the same
admission, pipeline, accounting and logging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response

from mixstack.errors import InvalidRequestError, MixstackError
from mixstack.gateway._errors import error_response
from mixstack.types import Chunk, Completion, Request

__all__ = ["Parsed", "StreamWriter", "WireFormat", "openai_error_response", "parse_json_body"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A request body read into the pipeline's terms."""

    request: Request
    stream: bool = False
    include_usage: bool = False
    #: wire-specific values the renderer needs back (e.g. a Responses `previous_response_id`)
    context: Mapping[str, Any] | None = None
    #: `embed`: the pipeline's embeddings call instead of a completion
    kind: str = "complete"


class StreamWriter(Protocol):
    """One stream's events, as bytes ready for the socket."""

    def head(self) -> bytes:
        """Events before the first chunk (empty for Chat Completions)."""
        ...

    def chunk(self, chunk: Chunk) -> bytes: ...

    def end(self, completion: Completion | None) -> bytes:
        """Events after the final chunk: usage, the full answer, `[DONE]`…"""
        ...

    def error(self, exc: MixstackError) -> bytes: ...


class WireFormat(Protocol):
    """One HTTP API shape served by the gateway."""

    #: the path it is served on, e.g. `/v1/responses`
    path: str

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed: ...

    def render(self, answer: Any, parsed: Parsed) -> dict[str, Any]:
        """The JSON body of an answer (a `Completion`, or `Embeddings` for `kind="embed"`)."""
        ...

    def writer(self, request_id: str, model: str, parsed: Parsed) -> StreamWriter: ...

    def error_response(self, exc: MixstackError) -> Response: ...


def parse_json_body(model: type[M], body: bytes, what: str) -> M:
    """The body validated as `model`; a broken body is a 400 that says how to fix it."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise InvalidRequestError(
                f"the body is not valid JSON ({first['msg']}); send a JSON object.",
                code="invalid_json",
            ) from None
        if first["type"] == "model_type" and not first["loc"]:
            raise InvalidRequestError(
                f"the body must be a JSON object with {what}.", code="invalid_json"
            ) from None
        raise


def openai_error_response(exc: MixstackError) -> JSONResponse:
    return error_response(exc)
