"""The agent runtime: tools under a permission policy, a budget, traces, and agent teams."""

from mixstack.agents._budget import Budget, BudgetMeter
from mixstack.agents._loop import Agent, AgentOutcome, AgentSpec, ToolCallRecord
from mixstack.agents._policy import Approver, Decision, PermissionPolicy
from mixstack.agents._runtime import AgentResult, AgentRuntime, arun_agent, run_agent
from mixstack.agents._tools import (
    AgentTool,
    FunctionTool,
    ToolAnnotations,
    ToolContext,
    ToolError,
    ToolOutcome,
    function_tool,
)
from mixstack.agents._trace import TraceRecorder, TraceStep, load_trace, recent_traces

__all__ = [
    "Agent",
    "AgentOutcome",
    "AgentResult",
    "AgentRuntime",
    "AgentSpec",
    "AgentTool",
    "Approver",
    "Budget",
    "BudgetMeter",
    "Decision",
    "FunctionTool",
    "PermissionPolicy",
    "ToolAnnotations",
    "ToolCallRecord",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "TraceRecorder",
    "TraceStep",
    "arun_agent",
    "function_tool",
    "load_trace",
    "recent_traces",
    "run_agent",
]
