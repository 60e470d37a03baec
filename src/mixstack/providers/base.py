"""The one interface every provider implements, and the entry-point registry that finds them.

A provider is a wire format (in-process llama.cpp, OpenAI-compatible HTTP, Anthropic, …).
Endpoints and models are config, not code: the same provider serves many `ModelConfig`s.
Built-in providers register through the `mixstack.providers` entry-point group exactly as a
third-party plugin would.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mixstack._plugins import plugins
from mixstack.errors import ConfigError, InvalidRequestError
from mixstack.streaming import StreamAccumulator
from mixstack.types import Chunk, FinishReason, Request, ToolCall, Usage

if TYPE_CHECKING:
    from mixstack.config import Capability, Config, Locality, ModelConfig, ModelEntry

__all__ = [
    "ENTRY_POINT_GROUP",
    "Availability",
    "EmbeddingReply",
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "ProviderReply",
    "ProviderTraits",
    "requested_fields",
]

ENTRY_POINT_GROUP = "mixstack.providers"


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a model can run here, and if not, why (the file, SDK or key that is missing)."""

    available: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What a provider returns for a non-streamed call; the pipeline adds cost and timing."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason = "stop"
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    #: the model that actually answered upstream, if the endpoint reports it
    upstream_model: str | None = None
    #: False when the endpoint reported no usage: the pipeline then counts or estimates it
    usage_reported: bool = True
    #: OpenAI-shaped `logprobs` of the answer (`{"content": [...]}`) when asked for
    logprobs: dict[str, Any] | None = None
    #: the further answers when the request asked for `n` > 1 (each text + tool calls)
    alternatives: tuple[ProviderReply, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbeddingReply:
    """Vectors of the inputs, in order, and the tokens read (None: the endpoint said none)."""

    vectors: list[list[float]]
    prompt_tokens: int | None


class Provider(abc.ABC):
    """One wire format. Instances are created once per pipeline by a `ProviderFactory`; a
    provider class is one (`Provider(config)`), and registered as such (its entry point
    names the class) the catalog reads its models and defaults without building it."""

    #: name used in `ModelConfig.provider`
    name: str
    default_locality: Locality = "remote"
    default_capabilities: tuple[Capability, ...] = ("chat",)

    def __init__(self, config: Config | None = None) -> None:
        """`Provider(config)` builds one; the built-in providers keep nothing of the config
        (models are config, handed to each call)."""
        del config

    @classmethod
    def builtin_models(cls, config: Config) -> list[ModelConfig]:
        """Models this provider brings without any config (e.g. the embedded local models),
        read from the class: knowing them builds no provider and imports no SDK."""
        return []

    @abc.abstractmethod
    def availability(self, model: ModelEntry) -> Availability:
        """Whether the model can run right now (file present, SDK installed, key set)."""

    def endpoint(self, model: ModelEntry) -> str:
        """Where bytes go when this model is called: a host, or `in-process`."""
        return model.config.base_url_or_none or "in-process"

    #: request fields beyond the core ones (messages, temperature, top_p, max_tokens, stop,
    #: tools, response format) this provider honours; `*` = every field, sent as it is
    accepts: frozenset[str] = frozenset()

    def unsupported(self, model: ModelEntry, request: Request) -> list[str]:
        """The fields of `request` this provider would have to drop (the pipeline refuses
        the request with a 400 naming them rather than drop anything)."""
        if "*" in self.accepts:
            return []
        return [f for f in requested_fields(request) if f not in self.accepts]

    def count_prompt_tokens(self, model: ModelEntry, request: Request) -> int | None:
        """Exact prompt size in tokens when the provider can tell cheaply, else None."""
        return None

    def count_text_tokens(self, model: ModelEntry, text: str) -> int | None:
        """Tokens of a piece of text in the model's own tokenizer when the provider has it
        (in-process models), else None (callers then use `mixstack.tokens`)."""
        return None

    @abc.abstractmethod
    def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        """Stream the answer. The last chunk carries `finish_reason` and token `usage`."""

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        """Answer in one piece. The default collects `stream`; providers may do better."""
        acc = StreamAccumulator()
        async for chunk in self.stream(model, request):
            acc.add(chunk)
        usage = acc.usage or Usage()
        return ProviderReply(
            text=acc.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason=acc.finish_reason or "stop",
            tool_calls=acc.tool_calls,
            reasoning=acc.reasoning,
            usage_reported=acc.usage is not None,
            logprobs=acc.logprobs,
        )

    async def embed(
        self, model: ModelEntry, texts: list[str], extra: dict[str, Any]
    ) -> EmbeddingReply:
        """Embedding vectors of `texts`; providers that make none say so."""
        raise InvalidRequestError(
            f"{model.name} ({self.name} provider) does not make embeddings; use a `local/` "
            "model or an OpenAI-compatible endpoint that serves /embeddings.",
            param="model",
        )

    async def aclose(self) -> None:
        """Release connections or other resources held by the provider."""
        return


def requested_fields(request: Request) -> list[str]:
    """The optional fields a request sets beyond the core ones every provider honours."""
    params = request.params
    found = [
        name
        for name, on in (
            ("n", params.n > 1),
            ("seed", params.seed is not None),
            ("presence_penalty", params.presence_penalty is not None),
            ("frequency_penalty", params.frequency_penalty is not None),
            ("logit_bias", bool(params.logit_bias)),
            ("logprobs", params.logprobs),
            ("top_logprobs", params.top_logprobs is not None),
        )
        if on
    ]
    if request.raw_prompt:
        found.append("prompt")
    found.extend(request.extra)
    return found


class ProviderFactory(Protocol):
    def __call__(self, config: Config) -> Provider: ...


@dataclass(frozen=True, slots=True)
class ProviderTraits:
    """What the catalog needs of a provider: its built-in models and the defaults of its
    models' locality and capabilities."""

    builtin_models: tuple[ModelConfig, ...]
    default_locality: Locality
    default_capabilities: tuple[Capability, ...]


class ProviderRegistry:
    """Finds provider factories through entry points and builds each provider once."""

    def __init__(self, config: Config, extra: dict[str, ProviderFactory] | None = None):
        self._config = config
        self._factories: dict[str, ProviderFactory] | None = None
        self._extra = dict(extra or {})
        self._providers: dict[str, Provider] = {}
        self._traits: dict[str, ProviderTraits] = {}

    def _load_factories(self) -> dict[str, ProviderFactory]:
        if self._factories is None:
            found: dict[str, ProviderFactory] = {}
            for ep in plugins(ENTRY_POINT_GROUP):
                found[ep.name] = _LazyFactory(ep.name, ep.value)
            found.update(self._extra)
            self._factories = found
        return self._factories

    def names(self) -> list[str]:
        return sorted(self._load_factories())

    def _factory(self, name: str) -> ProviderFactory:
        factories = self._load_factories()
        if name not in factories:
            raise ConfigError(
                f"unknown provider {name!r}; installed providers: {', '.join(self.names())}. "
                "Install the plugin that provides it or fix `provider:` in the config."
            )
        return factories[name]

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            provider = self._factory(name)(self._config)
            self._providers[name] = provider
        return provider

    def traits(self, name: str) -> ProviderTraits:
        """The provider's built-in models and defaults: read from its class where its entry
        point names one (nothing is built, no SDK or HTTP client imported), else from the
        provider its factory builds."""
        traits = self._traits.get(name)
        if traits is None:
            factory = self._factory(name)
            target = factory.load() if isinstance(factory, _LazyFactory) else factory
            source: type[Provider] | Provider = (
                target
                if isinstance(target, type) and issubclass(target, Provider)
                else self.get(name)
            )
            traits = ProviderTraits(
                tuple(source.builtin_models(self._config)),
                source.default_locality,
                tuple(source.default_capabilities),
            )
            self._traits[name] = traits
        return traits

    def loaded(self) -> list[Provider]:
        return list(self._providers.values())


class _LazyFactory:
    """Imports the entry point's module only when the provider is first used."""

    def __init__(self, name: str, target: str):
        self.name = name
        self.target = target
        self._loaded: ProviderFactory | None = None

    def load(self) -> ProviderFactory:
        """What the entry point names: a provider class, or a function that builds one."""
        if self._loaded is None:
            for ep in plugins(ENTRY_POINT_GROUP):
                if ep.name == self.name:
                    self._loaded = ep.load()
                    break
            else:
                raise ConfigError(f"provider {self.name!r} disappeared; reinstall it.")
        return self._loaded

    def __call__(self, config: Config) -> Provider:
        return self.load()(config)
