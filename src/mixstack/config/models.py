"""The `models:` section: models a user declares (GGUF files, endpoints, scripted fakes).

Each provider has its own typed entry, chosen by the entry's `provider:` (a tagged union):
a field another provider uses is an error naming it, never silently ignored. Providers from
third-party packages get `PluginModelConfig`, whose `options:` mapping they read themselves.

    local      LocalModelConfig      path, style, threads, lora_path, slots, slot_context
    fake       FakeModelConfig       replies, latency_ms; base_url, upstream_model played
    openai     OpenAIModelConfig     base_url, api_key_env, upstream_model, quirks
    anthropic  AnthropicModelConfig  base_url, api_key_env, upstream_model, default_max_tokens
    gemini     GeminiModelConfig     base_url, api_key_env, upstream_model
    (other)    PluginModelConfig     base_url, api_key_env, upstream_model, options
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
)

__all__ = [
    "BUILTIN_PROVIDERS",
    "ENTRY_TYPES",
    "AnthropicModelConfig",
    "Capability",
    "EndpointModelConfig",
    "FakeModelConfig",
    "GeminiModelConfig",
    "LocalModelConfig",
    "Locality",
    "ModelConfig",
    "OpenAIModelConfig",
    "OpenAIQuirks",
    "PluginModelConfig",
    "Price",
    "ScriptedReply",
    "Timeouts",
    "model_config",
]

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


class _ModelBase(BaseModel):
    """What every model entry has, whatever its provider."""

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
    workloads: list[str] | None = Field(
        default=None,
        description="route only these workloads' traffic to it (a tuned model); a request "
        "that names the model is still served",
    )
    # fault tolerance
    timeouts: Timeouts = Timeouts()
    retries: int = Field(default=2, ge=0, le=10, description="retries on 429/5xx/connection")
    fallbacks: list[str] = Field(
        default_factory=list, description="models to try in order when this one fails"
    )

    @field_validator("name")
    @classmethod
    def _name_has_provider(cls, value: str) -> str:
        prefix, sep, rest = value.partition("/")
        if not sep or not prefix or not rest:
            raise ValueError("must look like `provider/model`, e.g. `local/my-model`")
        if prefix == "workload":
            raise ValueError("`workload/…` names are reserved for workloads")
        return value

    @property
    def upstream_id(self) -> str | None:
        """The model id sent to an endpoint when it differs from the name (endpoints only)."""
        return None

    @property
    def base_url_or_none(self) -> str | None:
        """The endpoint's URL, if this entry has one (in-process models have none)."""
        return None


class LocalModelConfig(_ModelBase):
    """An in-process GGUF model run by llama.cpp."""

    provider: Literal["local"]
    path: str | None = Field(default=None, description="GGUF file path (or `package:<module>`)")
    style: Literal["chat", "completion"] = "chat"
    threads: int | None = Field(default=None, ge=1)
    lora_path: str | None = Field(
        default=None, description="GGUF LoRA adapter applied on top of `path`"
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


class _UpstreamModelBase(_ModelBase):
    """An entry that names an endpoint and an upstream model id: an endpoint entry calls
    them, a `fake` entry plays them (one declaration for both)."""

    base_url: str | None = Field(
        default=None,
        description="the endpoint's URL (a `fake` entry only shows it where routes say "
        "where bytes go; nothing is sent there)",
    )
    upstream_model: str | None = Field(
        default=None,
        description="model id sent upstream (default: the part after `/`; a `fake` entry "
        "only reads it for the model's family)",
    )

    @property
    def upstream_id(self) -> str | None:
        return self.upstream_model

    @property
    def base_url_or_none(self) -> str | None:
        return self.base_url


class FakeModelConfig(_UpstreamModelBase):
    """A scripted model for tests and demos of logic (never a stand-in for a real one)."""

    provider: Literal["fake"]
    replies: list[ScriptedReply] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0.0, description="delay per reply")


class EndpointModelConfig(_UpstreamModelBase):
    """A model behind an HTTP endpoint."""

    api_key_env: str | None = Field(default=None, description="env var holding the API key")


class OpenAIQuirks(BaseModel):
    """Where an OpenAI-compatible server departs from OpenAI's own API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="the body field that carries the answer's token cap (OpenAI's reasoning "
        "models take `max_completion_tokens`)",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers sent with every request"
    )


class OpenAIModelConfig(EndpointModelConfig):
    """OpenAI or any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, …)."""

    provider: Literal["openai"]
    quirks: OpenAIQuirks = OpenAIQuirks()


class AnthropicModelConfig(EndpointModelConfig):
    """Anthropic's Messages API."""

    provider: Literal["anthropic"]
    default_max_tokens: int = Field(
        default=4096,
        ge=1,
        description="`max_tokens` sent when a request sets none (the API requires one)",
    )


class GeminiModelConfig(EndpointModelConfig):
    """Google's Gemini API."""

    provider: Literal["gemini"]


#: the providers this package ships, each with its own entry type
BUILTIN_PROVIDERS = ("local", "fake", "openai", "anthropic", "gemini")


class PluginModelConfig(EndpointModelConfig):
    """A model of a provider from another package: `options` is that provider's to read."""

    options: dict[str, Any] = Field(
        default_factory=dict, description="settings of the plugin provider, as it documents"
    )

    @field_validator("provider")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value in BUILTIN_PROVIDERS:  # only reached when a built-in is spelled oddly
            raise ValueError(f"`{value}` models take that provider's own fields")
        return value


def _provider_tag(data: Any) -> str:
    provider = data.get("provider") if isinstance(data, Mapping) else getattr(data, "provider", "")
    return provider if provider in BUILTIN_PROVIDERS else "plugin"


ModelConfig = Annotated[
    Annotated[LocalModelConfig, Tag("local")]
    | Annotated[FakeModelConfig, Tag("fake")]
    | Annotated[OpenAIModelConfig, Tag("openai")]
    | Annotated[AnthropicModelConfig, Tag("anthropic")]
    | Annotated[GeminiModelConfig, Tag("gemini")]
    | Annotated[PluginModelConfig, Tag("plugin")],
    Discriminator(_provider_tag),
]
"""One model entry: the type for its `provider:` (see the module's table)."""

_ADAPTER: TypeAdapter[ModelConfig] = TypeAdapter(ModelConfig)

#: each entry type by its tag (a built-in provider's name, or `plugin`)
ENTRY_TYPES: dict[str, type[BaseModel]] = {
    "local": LocalModelConfig,
    "fake": FakeModelConfig,
    "openai": OpenAIModelConfig,
    "anthropic": AnthropicModelConfig,
    "gemini": GeminiModelConfig,
    "plugin": PluginModelConfig,
}


def model_config(data: Mapping[str, Any]) -> ModelConfig:
    """The typed entry for `data` (a `models:` item); raises pydantic's ValidationError."""
    return _ADAPTER.validate_python(dict(data))
