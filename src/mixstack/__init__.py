"""mixstack: the open control plane for mixed open/closed AI stacks.

The public API is listed here by hand; everything else is internal. Names load on first use
(PEP 562), so `import mixstack` stays cheap: a script that only routes never imports the
agents, the eval harness or an HTTP client.
"""

import importlib
import sys
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from mixstack._version import __version__ as __version__

if _TYPE_CHECKING:
    from mixstack._api import CallOptions, arun, astream, run, stream
    from mixstack._types import (
        Chunk,
        Completion,
        Embeddings,
        ImagePart,
        Message,
        Request,
        ResponseFormat,
        SamplingParams,
        TextPart,
        Tool,
        ToolCall,
        ToolCallDelta,
        Usage,
    )
    from mixstack.agents import AgentResult, Decision, arun_agent, function_tool, run_agent
    from mixstack.agents._runtime import AgentOptions
    from mixstack.audit import TraceAudit, audit_trace
    from mixstack.catalog import Catalog, ModelEntry
    from mixstack.config import Config, ModelConfig, load_config
    from mixstack.errors import (
        BudgetExceeded,
        ConfigError,
        ContextLengthError,
        InvalidRequestError,
        MixstackError,
        ModelUnavailableError,
        PolicyError,
        ProviderError,
        RateLimited,
        ToolError,
        UnknownModelError,
        UserError,
    )
    from mixstack.evals import EvalSettings, Suite, evaluate_suite, load_suite
    from mixstack.pipeline import CallStream, Pipeline
    from mixstack.providers.base import Availability, Provider, ProviderReply
    from mixstack.rephrase import RephraseResult, arephrase, rephrase
    from mixstack.router import RouteDecision, RouteRefused


#: public name -> the module that defines it
_WHERE: dict[str, str] = {
    "AgentResult": "mixstack.agents",
    "Decision": "mixstack.agents",
    "arun_agent": "mixstack.agents",
    "function_tool": "mixstack.agents",
    "run_agent": "mixstack.agents",
    "AgentOptions": "mixstack.agents._runtime",
    "CallOptions": "mixstack._api",
    "arun": "mixstack._api",
    "astream": "mixstack._api",
    "run": "mixstack._api",
    "stream": "mixstack._api",
    "TraceAudit": "mixstack.audit",
    "audit_trace": "mixstack.audit",
    "Catalog": "mixstack.catalog",
    "ModelEntry": "mixstack.catalog",
    "Config": "mixstack.config",
    "ModelConfig": "mixstack.config",
    "load_config": "mixstack.config",
    "BudgetExceeded": "mixstack.errors",
    "ConfigError": "mixstack.errors",
    "ContextLengthError": "mixstack.errors",
    "InvalidRequestError": "mixstack.errors",
    "MixstackError": "mixstack.errors",
    "ModelUnavailableError": "mixstack.errors",
    "PolicyError": "mixstack.errors",
    "ProviderError": "mixstack.errors",
    "RateLimited": "mixstack.errors",
    "ToolError": "mixstack.errors",
    "UnknownModelError": "mixstack.errors",
    "UserError": "mixstack.errors",
    "EvalSettings": "mixstack.evals",
    "Suite": "mixstack.evals",
    "evaluate_suite": "mixstack.evals",
    "load_suite": "mixstack.evals",
    "CallStream": "mixstack.pipeline",
    "Pipeline": "mixstack.pipeline",
    "Availability": "mixstack.providers.base",
    "Provider": "mixstack.providers.base",
    "ProviderReply": "mixstack.providers.base",
    "RephraseResult": "mixstack.rephrase",
    "arephrase": "mixstack.rephrase",
    "rephrase": "mixstack.rephrase",
    "RouteDecision": "mixstack.router",
    "RouteRefused": "mixstack.router",
    "Chunk": "mixstack._types",
    "Completion": "mixstack._types",
    "Embeddings": "mixstack._types",
    "ImagePart": "mixstack._types",
    "Message": "mixstack._types",
    "Request": "mixstack._types",
    "ResponseFormat": "mixstack._types",
    "SamplingParams": "mixstack._types",
    "TextPart": "mixstack._types",
    "Tool": "mixstack._types",
    "ToolCall": "mixstack._types",
    "ToolCallDelta": "mixstack._types",
    "Usage": "mixstack._types",
}

__all__ = [
    "AgentOptions",
    "AgentResult",
    "Availability",
    "BudgetExceeded",
    "CallOptions",
    "CallStream",
    "Catalog",
    "Chunk",
    "Completion",
    "Config",
    "ConfigError",
    "ContextLengthError",
    "Decision",
    "Embeddings",
    "EvalSettings",
    "ImagePart",
    "InvalidRequestError",
    "Message",
    "MixstackError",
    "ModelConfig",
    "ModelEntry",
    "ModelUnavailableError",
    "Pipeline",
    "PolicyError",
    "Provider",
    "ProviderError",
    "ProviderReply",
    "RateLimited",
    "RephraseResult",
    "Request",
    "ResponseFormat",
    "RouteDecision",
    "RouteRefused",
    "SamplingParams",
    "Suite",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolError",
    "TraceAudit",
    "UnknownModelError",
    "Usage",
    "UserError",
    "arephrase",
    "arun",
    "arun_agent",
    "astream",
    "audit_trace",
    "evaluate_suite",
    "function_tool",
    "load_config",
    "load_suite",
    "rephrase",
    "run",
    "run_agent",
    "stream",
]


def __getattr__(name: str) -> _Any:
    """Import a public name's module on first use and cache the name here."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mixstack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(_ModuleType):
    """`mixstack.rephrase` is the function: importing the subpackage of the same name (which
    sets the attribute on its parent) must not replace it. (`ModuleType` is imported under a
    private name because the `mixstack._types` submodule takes the name `types` here.)"""

    def __setattr__(self, name: str, value: _Any) -> None:
        if isinstance(value, _ModuleType) and _WHERE.get(name) == value.__name__:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
