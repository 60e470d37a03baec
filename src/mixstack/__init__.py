"""mixstack: the open control plane for mixed open/closed AI stacks.

The public API is listed here by hand; everything else is internal.
"""

from mixstack.agents import AgentResult, Decision, arun_agent, function_tool, run_agent
from mixstack.api import arun, astream, run, stream
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
    UnknownModelError,
    UserError,
)
from mixstack.evals import EvalSettings, Suite, evaluate_suite, load_suite
from mixstack.pipeline import CallStream, Pipeline
from mixstack.providers.base import Provider, ProviderReply
from mixstack.rephrase import RephraseResult, arephrase, rephrase
from mixstack.router import RouteDecision, RouteRefused
from mixstack.types import (
    Chunk,
    Completion,
    ImagePart,
    Message,
    Request,
    ResponseFormat,
    SamplingParams,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AgentResult",
    "BudgetExceeded",
    "CallStream",
    "Catalog",
    "Chunk",
    "Completion",
    "Config",
    "ConfigError",
    "ContextLengthError",
    "Decision",
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
