"""Assemble one agent run from the config: tools, permission policies, budget, trace.

A run is a single agent, or — when the config declares `agents.workers` — a team of a
planner, workers and a critic (see `orchestrator`). Either way it returns an `AgentResult`
that says what was done and why it stopped, and leaves a trace in the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from mixstack._shared import shared_pipeline
from mixstack._sync import run_sync
from mixstack._types import ImagePart
from mixstack.agents._budget import Budget, BudgetMeter
from mixstack.agents._loop import Agent, AgentOutcome, AgentSpec, ToolCallRecord
from mixstack.agents._policy import Approver, PermissionPolicy
from mixstack.agents._tools import AgentTool, ToolContext
from mixstack.agents._trace import TraceRecorder, TraceStep
from mixstack.agents.builtins import load_tools
from mixstack.config import Config
from mixstack.errors import ConfigError, InvalidRequestError
from mixstack.pipeline import Pipeline

__all__ = ["AgentOptions", "AgentResult", "AgentRuntime", "arun_agent", "run_agent"]


@dataclass(slots=True)
class AgentResult:
    """What an agent run did: its answer, why it stopped, its trace id, steps, tool calls and
    usage."""

    result: str
    stopped: str
    reason: str
    trace_id: str
    steps: int
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    kind: str = "agent"
    #: the runtime composed the answer from a tool result because the model's could not
    #: stand (the reason and the trace's `compose` step say why)
    composed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "stopped": self.stopped,
            "reason": self.reason,
            "trace_id": self.trace_id,
            "kind": self.kind,
            "composed": self.composed,
            "steps": self.steps,
            "tool_calls": [c.to_json() for c in self.tool_calls],
            "usage": self.usage,
        }


class AgentRuntime:
    """Everything one run needs; nothing in it can be changed by a model or a tool."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        workload: str | None = None,
        model: str | None = None,
        root: Path | None = None,
        tools: Sequence[AgentTool] = (),
        approver: Approver | None = None,
        max_steps: int | None = None,
        budget: Budget | None = None,
        single: bool = False,
        record: bool = True,
    ):
        self.pipeline = pipeline
        self.config: Config = pipeline.config
        cfg_tools = self.config.tools
        chosen_root = root or (Path(cfg_tools.root).expanduser() if cfg_tools.root else None)
        if chosen_root is not None and not chosen_root.is_dir():
            raise InvalidRequestError(
                f"root folder {str(chosen_root)!r} does not exist; create it or fix --root."
            )
        self.context = ToolContext(
            root=chosen_root.resolve() if chosen_root else None,
            http_allow_hosts=tuple(cfg_tools.http_allow_hosts),
            timeout_s=cfg_tools.timeout_s,
            max_output_chars=cfg_tools.max_output_chars,
        )
        self.workload = workload
        self.model = model
        self._extra_tools = list(tools)
        self.approver = approver
        agents_cfg = self.config.agents
        self.max_steps = max_steps or agents_cfg.max_steps
        self.budget = budget or Budget.from_config(agents_cfg.budget)
        self.team = bool(agents_cfg.workers) and not single
        self._record = record

    def policy(self, workload: str | None) -> PermissionPolicy:
        return PermissionPolicy.for_workload(
            self.config, workload, root=self.context.root, approver=self.approver
        )

    @contextlib.asynccontextmanager
    async def _tools(self) -> AsyncIterator[list[AgentTool]]:
        tools: dict[str, AgentTool] = {t.name: t for t in load_tools(self.context)}
        for extra in self._extra_tools:
            tools[extra.name] = extra
        servers = self.config.tools.mcp_servers
        if not servers:
            yield list(tools.values())
            return
        from mixstack.agents._mcp import connect_servers

        async with connect_servers(servers) as mcp_tools:
            for item in mcp_tools:
                tools[item.name] = item
            yield list(tools.values())

    async def run(self, task: str, images: tuple[ImagePart, ...] = ()) -> AgentResult:
        if not task.strip():
            raise InvalidRequestError("the task is empty; pass it as an argument or on stdin.")
        async with self._tools() as tools:
            names = [t.name for t in tools]
            for key in {"default", *self.config.permissions}:
                PermissionPolicy.for_workload(self.config, key).check_tools(names)
            meter = BudgetMeter(self.budget)
            trace = TraceRecorder(
                self.pipeline.store if self._record else None,
                task=task,
                kind="team" if self.team else "agent",
                workload=self.workload or "",
                store_content=self.config.store_content,
            )
            try:
                if self.team:
                    from mixstack.agents._orchestrator import Team

                    team = Team(self, tools, meter, trace)
                    outcome = await team.run(task, images)
                else:
                    agent = self.agent(AgentSpec(), tools, meter, trace)
                    outcome = await agent.run(task, images)
            except BaseException as exc:  # the trace says how the run ended, then it propagates
                stopped = "error" if isinstance(exc, Exception) else "interrupted"
                reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                trace.add(TraceStep(kind="stop", agent="runtime", ok=False, error=reason))
                self._finish(AgentOutcome("", stopped, reason), meter, trace)
                raise
            return self._finish(outcome, meter, trace)

    def agent(
        self,
        spec: AgentSpec,
        tools: list[AgentTool],
        meter: BudgetMeter,
        trace: TraceRecorder,
    ) -> Agent:
        workload = spec.workload or self.workload
        spec = AgentSpec(
            name=spec.name,
            model=spec.model or self.model,
            workload=workload,
            instructions=spec.instructions,
            max_steps=min(spec.max_steps, self.max_steps) if spec.max_steps else self.max_steps,
            max_tokens=spec.max_tokens or self.config.agents.max_tokens,
        )
        return Agent(
            self.pipeline,
            spec,
            tools=tools,
            policy=self.policy(workload),
            context=self.context,
            meter=meter,
            trace=trace,
        )

    def select_tools(
        self, tools: list[AgentTool], names: list[str] | None, who: str
    ) -> list[AgentTool]:
        if names is None:
            return tools
        by_name = {t.name: t for t in tools}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ConfigError(
                f"{who}.tools names unknown tools: {', '.join(missing)}; available: "
                f"{', '.join(sorted(by_name)) or '(none)'}. Fix the names in the config."
            )
        return [by_name[n] for n in names]

    def _finish(
        self, outcome: AgentOutcome, meter: BudgetMeter, trace: TraceRecorder
    ) -> AgentResult:
        prompt = sum(s.prompt_tokens for s in trace.steps)
        completion = sum(s.completion_tokens for s in trace.steps)
        cost = sum(s.cost_usd for s in trace.steps)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cost_usd": round(cost, 8),
            "model_calls": sum(1 for s in trace.steps if s.kind == "model"),
            "wall_s": round(meter.elapsed_s, 3),
        }
        trace.finish(
            stopped=outcome.stopped,
            result=outcome.result,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
            budget=meter.to_json(),
        )
        return AgentResult(
            result=outcome.result,
            stopped=outcome.stopped,
            reason=outcome.reason,
            trace_id=trace.id,
            steps=len(trace.steps),
            tool_calls=outcome.tool_calls,
            usage=usage,
            kind="team" if self.team else "agent",
            composed=outcome.composed,
        )


class AgentOptions(TypedDict, total=False):
    """How an agent run may be shaped (see `AgentRuntime`)."""

    #: the workload whose policy and permissions apply
    workload: str | None
    #: the model every step uses; None: the router chooses per step
    model: str | None
    #: the only folder file tools may touch (default: `tools.root` of the config)
    root: Path | None
    #: extra tools (e.g. `@mixstack.function_tool` functions) beside the built-ins
    tools: Sequence[AgentTool]
    #: asked when a permission rule says `ask`
    approver: Approver | None
    max_steps: int | None
    budget: Budget | None
    #: one agent even when the config declares a team
    single: bool
    #: leave a trace in the store
    record: bool


def _check_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(AgentOptions.__annotations__))
    if unknown:
        raise InvalidRequestError(
            f"unknown agent option(s) {', '.join(unknown)}; use one of: "
            f"{', '.join(sorted(AgentOptions.__annotations__))}.",
            param=unknown[0],
        )


async def arun_agent(
    task: str,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    images: Sequence[ImagePart] = (),
    **options: Unpack[AgentOptions],
) -> AgentResult:
    """Run an agent (or the configured team) on a task and return what it did.

    Without `pipeline`, the config's shared pipeline runs it (built once per process)."""
    _check_options(options)
    active = pipeline if pipeline is not None else shared_pipeline(config)
    return await AgentRuntime(active, **options).run(task, tuple(images))


def run_agent(
    task: str,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    images: Sequence[ImagePart] = (),
    **options: Unpack[AgentOptions],
) -> AgentResult:
    """Sync `arun_agent` (same arguments); not inside a running event loop."""
    _check_options(options)
    return run_sync(
        arun_agent(task, config=config, pipeline=pipeline, images=images, **options),
        what="mixstack.run_agent()",
        awaitable="mixstack.arun_agent()",
    )
