"""Core value types: messages and their parts, tools, sampling, completions, usage, chunks.

Every front door (CLI, gateway, evals, agents) builds a `Request` from these and every
provider returns a `Completion` or a stream of `Chunk`s.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mixstack.errors import InvalidRequestError

__all__ = [
    "Chunk",
    "Completion",
    "ContentPart",
    "Embeddings",
    "FinishReason",
    "ImagePart",
    "Message",
    "Request",
    "ResponseFormat",
    "Role",
    "SamplingParams",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def _sniff_image(data: bytes) -> str | None:
    for signature, media_type in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextPart(_Value):
    """A piece of text in a message's content."""

    type: Literal["text"] = "text"
    text: str


class ImagePart(_Value):
    """An image given as bytes (from a file, raw bytes or a data URL) or as a remote URL.

    Remote URLs are passed through to vision models that accept them; mixstack never
    downloads them itself (no network at run time except configured endpoints).
    """

    type: Literal["image"] = "image"
    data: bytes | None = None
    url: str | None = None
    media_type: str = "application/octet-stream"
    source: str | None = Field(default=None, description="where the image came from, for errors")
    detail: str | None = Field(default=None, description="OpenAI's `detail` hint, forwarded")

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<bytes>") -> ImagePart:
        media_type = _sniff_image(data)
        if media_type is None:
            raise InvalidRequestError(
                f"{source} is not an image (PNG, JPEG, GIF, BMP or WebP expected); "
                "pass an image file."
            )
        return cls(data=data, media_type=media_type, source=source)

    @classmethod
    def from_path(cls, path: str | Path) -> ImagePart:
        p = Path(path)
        if not p.is_file():
            raise InvalidRequestError(f"image file {str(p)!r} does not exist; check the path.")
        return cls.from_bytes(p.read_bytes(), source=str(p))

    @classmethod
    def from_url(cls, url: str, *, detail: str | None = None) -> ImagePart:
        part = cls._from_url(url)
        return part if detail is None else part.model_copy(update={"detail": detail})

    @classmethod
    def _from_url(cls, url: str) -> ImagePart:
        """Accepts `data:` URLs (decoded here) and http(s) URLs (kept as a reference)."""
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            if ";base64" not in header:
                raise InvalidRequestError(
                    "image data URLs must be base64 encoded (data:…;base64,…)"
                )
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequestError(
                    "image data URL is not valid base64; re-encode the image."
                ) from exc
            return cls.from_bytes(data, source="data URL")
        if url.startswith(("http://", "https://")):
            guessed, _ = mimetypes.guess_type(url)
            return cls(url=url, media_type=guessed or "image/*", source=url)
        raise InvalidRequestError(
            f"unsupported image URL {url[:60]!r}; use an http(s) URL or a base64 data URL."
        )

    def data_url(self) -> str:
        if self.data is None:
            assert self.url is not None
            return self.url
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


ContentPart = TextPart | ImagePart


class ToolCall(_Value):
    """A call the model asked for: the tool's name and its JSON arguments."""

    id: str
    name: str
    arguments: str = Field(description="JSON-encoded arguments, as the model produced them")

    def parsed_arguments(self) -> dict[str, Any]:
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value


class ToolCallDelta(_Value):
    """A piece of a streamed tool call: its index, then its id, name and argument text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class Tool(_Value):
    """A function the model may call: name, description and JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    strict: bool | None = Field(default=None, description="arguments must match `parameters`")


class Message(_Value):
    """One turn (system, user, assistant or tool) whose content is a list of parts."""

    role: Role
    content: tuple[ContentPart, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=(TextPart(text=text),))

    @classmethod
    def user(cls, text: str, *images: ImagePart) -> Message:
        parts: list[ContentPart] = [TextPart(text=text)] if text else []
        parts.extend(images)
        return cls(role="user", content=tuple(parts))

    @classmethod
    def assistant(cls, text: str, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        content = (TextPart(text=text),) if text else ()
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, tool_call_id: str, text: str, name: str | None = None) -> Message:
        return cls(
            role="tool", content=(TextPart(text=text),), tool_call_id=tool_call_id, name=name
        )

    @property
    def text(self) -> str:
        """The text parts joined by blank lines (images left out)."""
        return "\n\n".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.content if isinstance(p, ImagePart)]


class SamplingParams(_Value):
    """How the model samples: temperature, top_p, max_tokens, stop, seed, penalties, logprobs."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=16, description="how many answers")
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    #: token id (as a string, as OpenAI sends it) → bias in -100..100
    logit_bias: dict[str, float] | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class ResponseFormat(_Value):
    """The shape the answer must take: free text, any JSON object, or JSON matching a schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


class Request(_Value):
    """One model call as every front door builds it."""

    messages: tuple[Message, ...]
    model: str | None = Field(default=None, description="`provider/model` or `workload/<name>`")
    workload: str | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    params: SamplingParams = SamplingParams()
    response_format: ResponseFormat = ResponseFormat()
    rephrase: str | None = Field(default=None, description="`auto` or a use case; None = off")
    caller: str | None = Field(default=None, description="key id or user, for accounting")
    metadata: dict[str, str] = Field(default_factory=dict)
    raw_prompt: bool = Field(
        default=False,
        description="the one user message is a raw prompt (`/v1/completions`): no chat template",
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="further body fields (OpenAI's or an endpoint's own, e.g. `top_k`): sent "
        "as they are to OpenAI-compatible endpoints; other providers honour the ones they "
        "know and refuse the rest",
    )

    @classmethod
    def from_prompt(
        cls,
        prompt: str,
        *,
        model: str | None = None,
        system: str | None = None,
        images: tuple[ImagePart, ...] = (),
        **kwargs: Any,
    ) -> Request:
        messages: list[Message] = []
        if system:
            messages.append(Message.system(system))
        messages.append(Message.user(prompt, *images))
        return cls(messages=tuple(messages), model=model, **kwargs)

    def with_changes(self, **changes: Any) -> Request:
        return self.model_copy(update=changes)


class Usage(_Value):
    """Tokens in and out, cost, latency and time to first token of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    #: True when the endpoint reported no usage and mixstack estimated it (~4 chars a token)
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class Completion(_Value):
    """A model's answer: text or tool calls, why it stopped, usage and cost, the route taken."""

    request_id: str
    model: str
    provider: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage = Usage()
    reasoning: str | None = None
    route: dict[str, Any] | None = Field(
        default=None, description="the routing decision, as JSON, when the pipeline chose"
    )
    logprobs: dict[str, Any] | None = Field(
        default=None, description="OpenAI-shaped `{content: [...]}` when the request asked"
    )
    alternatives: tuple[Completion, ...] = Field(
        default=(), description="answers 2..n when the request asked for `n` > 1"
    )


class Embeddings(_Value):
    """The vectors of one embeddings call, in input order, with its usage and route."""

    request_id: str
    model: str
    provider: str
    vectors: list[list[float]]
    usage: Usage = Usage()
    route: dict[str, Any] | None = None


class Chunk(_Value):
    """One streamed piece. The last chunk of a stream carries `finish_reason` and `usage`."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    #: OpenAI-shaped logprob entries of this piece's tokens (`{"token", "logprob", …}`)
    logprobs: tuple[dict[str, Any], ...] = ()
