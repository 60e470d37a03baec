"""The `models:` section: models a user declares (GGUF files, endpoints, scripted fakes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Capability", "Locality", "ModelConfig", "Price", "ScriptedReply", "Timeouts"]

Locality = Literal["local", "on-prem", "remote"]
Capability = Literal["chat", "completion", "vision", "tools", "json"]


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1m: float = Field(default=0.0, ge=0.0, description="USD per 1M prompt tokens")
    output_per_1m: float = Field(default=0.0, ge=0.0, description="USD per 1M completion tokens")


class Timeouts(BaseModel):
    """How long a call may take, in seconds; exceeded counts as a retryable failure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=10.0, gt=0, description="to open a connection")
    first_token: float = Field(default=60.0, gt=0, description="until the first streamed piece")
    total: float = Field(default=600.0, gt=0, description="for the whole answer")


class ScriptedReply(BaseModel):
    """One scripted answer of a `fake` model (used by tests and demos of logic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(
        default_factory=list, description="[{name, arguments}] with arguments as an object"
    )
    when: str | None = Field(
        default=None, description="reply only when the last user message contains this text"
    )
    error: str | None = Field(default=None, description="raise a provider error instead")
    reasoning: str | None = None


class ModelConfig(BaseModel):
    """A model entry. Fields not used by a provider are ignored by it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="`provider/model`, e.g. `local/my-model` or `vllm/qwen2.5`")
    provider: str = Field(description="provider plugin: local, fake, openai, anthropic, gemini…")
    locality: Locality | None = None
    capabilities: list[Capability] | None = None
    context_window: int | None = Field(default=None, ge=16)
    price: Price = Price()
    parameters_b: float | None = Field(
        default=None, gt=0, description="size in billions of parameters (for prompt rendering)"
    )
    family: str | None = Field(default=None, description="anthropic, openai, gemini, small…")
    # in-process GGUF models
    path: str | None = Field(default=None, description="GGUF file path (local provider)")
    style: Literal["chat", "completion"] = "chat"
    threads: int | None = Field(default=None, ge=1)
    lora_path: str | None = Field(
        default=None, description="GGUF LoRA adapter applied on top of `path` (local provider)"
    )
    slots: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="sequences decoded together (continuous batching); 1 = the serial engine; "
        "default: 4, fewer if their KV caches at the full context would pass an eighth of RAM",
    )
    slot_context: int | None = Field(
        default=None,
        ge=16,
        description="tokens of context per slot (prompt + answer); default: `context_window`",
    )
    # HTTP endpoints
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="env var holding the API key")
    upstream_model: str | None = Field(
        default=None, description="model id sent upstream (default: the part after `/`)"
    )
    # fault tolerance
    timeouts: Timeouts = Timeouts()
    retries: int = Field(default=2, ge=0, le=10, description="retries on 429/5xx/connection")
    fallbacks: list[str] = Field(
        default_factory=list, description="models to try in order when this one fails"
    )
    # fake models
    replies: list[ScriptedReply] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0.0, description="fake: delay per reply")
    # third-party plugins
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_has_provider(cls, value: str) -> str:
        prefix, sep, rest = value.partition("/")
        if not sep or not prefix or not rest:
            raise ValueError("must look like `provider/model`, e.g. `local/my-model`")
        if prefix == "workload":
            raise ValueError("`workload/…` names are reserved for workloads")
        return value
