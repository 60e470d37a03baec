"""The agent runtime: tools under a permission policy, a budget, traces, and agent teams."""

from mixstack.agents.budget import Budget, BudgetMeter
from mixstack.agents.loop import Agent, AgentOutcome, AgentSpec, ToolCallRecord
from mixstack.agents.policy import Approver, Decision, PermissionPolicy
from mixstack.agents.runtime import AgentResult, AgentRuntime, arun_agent, run_agent
from mixstack.agents.tools import (
    AgentTool,
    FunctionTool,
    ToolAnnotations,
    ToolContext,
    ToolError,
    ToolOutcome,
    function_tool,
)
from mixstack.agents.trace import TraceRecorder, TraceStep, load_trace, recent_traces

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
