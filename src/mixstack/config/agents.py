"""The `tools:`, `permissions:` and `agents:` sections: what agents may use, and how.

tools:
  root: ./workspace            # file tools are confined here (`--root` overrides)
  http_allow_hosts: [docs.example.com]   # http_get stays off while this is empty
  timeout_s: 20
  max_output_chars: 8000
  mcp_servers:
    - {name: notes, command: python, args: [notes_server.py]}
permissions:
  default:                     # any workload without its own entry
    ask_default: deny          # what `ask` becomes when nobody can answer
    rules:
      - {tool: calculator, action: allow}
      - {tool: "read_*", action: allow, paths_under: [./workspace/public]}
      - {tool: write_file, action: deny}
agents:
  max_steps: 8
  budget: {tokens: 20000, usd: 0.05, steps: 30, wall_s: 300}
  planner: {model: local/smollm2-135m-instruct}
  workers:
    - {name: maths, workload: private, tools: [calculator]}
  critic: {max_rounds: 1}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AgentRole",
    "AgentsConfig",
    "BudgetConfig",
    "CriticConfig",
    "McpServerConfig",
    "PermissionRule",
    "PermissionSet",
    "ToolsConfig",
    "WorkerConfig",
    "check_agent_sections",
]

Action = Literal["allow", "deny", "ask"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class McpServerConfig(_Section):
    """An MCP server started as a subprocess and spoken to over stdio."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="prefix of its tools: `name_tool`")
    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout_s: float = Field(default=20.0, gt=0, description="start-up and per-call timeout")


class ToolsConfig(_Section):
    root: str | None = Field(default=None, description="folder the file tools are confined to")
    http_allow_hosts: list[str] = Field(
        default_factory=list, description="hosts http_get may fetch; empty = http_get is off"
    )
    timeout_s: float = Field(default=20.0, gt=0, description="per tool call")
    max_output_chars: int = Field(default=8000, ge=200, description="longer output is truncated")
    mcp_servers: list[McpServerConfig] = Field(default_factory=list)

    @field_validator("mcp_servers")
    @classmethod
    def _unique_servers(cls, value: list[McpServerConfig]) -> list[McpServerConfig]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"MCP server names must be unique; repeated: {', '.join(dupes)}")
        return value


class PermissionRule(_Section):
    """One rule; the first rule whose `tool` pattern matches decides.

    Constraints (`paths_under`, `hosts`, `args`) must all hold for an `allow` or `ask`
    rule to apply as written; a call that breaks one is denied with the reason.
    """

    tool: str = Field(description="tool name or glob pattern (`read_*`, `notes.*`, `*`)")
    action: Action
    paths_under: list[str] | None = Field(
        default=None, description="path arguments must resolve inside one of these folders"
    )
    hosts: list[str] | None = Field(
        default=None, description="URL arguments must point at one of these hosts"
    )
    args: dict[str, str] | None = Field(
        default=None, description="argument name → regular expression its value must match"
    )
    reason: str | None = None

    @model_validator(mode="after")
    def _deny_has_no_constraints(self) -> PermissionRule:
        constrained = self.paths_under or self.hosts or self.args
        if self.action == "deny" and constrained:
            raise ValueError("a deny rule takes no constraints; put them on an allow rule")
        return self


class PermissionSet(_Section):
    rules: list[PermissionRule] = Field(default_factory=list)
    ask_default: Literal["allow", "deny"] = Field(
        default="deny", description="what `ask` resolves to when no one can answer"
    )


class BudgetConfig(_Section):
    """Limits shared by every agent of one run; a run that reaches one stops."""

    tokens: int | None = Field(default=None, ge=1)
    usd: float | None = Field(default=None, ge=0)
    steps: int | None = Field(default=None, ge=1, description="model calls plus tool calls")
    wall_s: float | None = Field(default=None, gt=0)


class AgentRole(_Section):
    """A planner, worker or critic: which model or workload answers, and how it is told."""

    model: str | None = None
    workload: str | None = None
    instructions: str = ""
    max_tokens: int = Field(default=256, ge=1)


class WorkerConfig(AgentRole):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    tools: list[str] | None = Field(default=None, description="tool names; None = all tools")
    max_steps: int | None = Field(default=None, ge=1)


class CriticConfig(AgentRole):
    max_rounds: int = Field(default=1, ge=0, description="times work may be sent back")


class AgentsConfig(_Section):
    max_steps: int = Field(default=8, ge=1, description="model calls per agent")
    max_tokens: int = Field(default=256, ge=1, description="per model call")
    budget: BudgetConfig = BudgetConfig()
    planner: AgentRole | None = None
    workers: list[WorkerConfig] = Field(default_factory=list)
    critic: CriticConfig | None = None
    parallel: bool = Field(default=True, description="run independent workers concurrently")

    @field_validator("workers")
    @classmethod
    def _unique_workers(cls, value: list[WorkerConfig]) -> list[WorkerConfig]:
        names = [w.name for w in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"worker names must be unique; repeated: {', '.join(dupes)}")
        return value


def check_agent_sections(
    permissions: dict[str, PermissionSet], agents: AgentsConfig, workloads: Any
) -> None:
    """Cross-section checks: permission keys and agent workloads must name known workloads.

    `workloads` is whatever the config holds for its `workloads:` section (a mapping or a
    list of named entries); without that section only `default` can be checked.
    """
    known = _workload_names(workloads)
    if known is None:
        return
    allowed = known | {"default"}
    for key in permissions:
        if key not in allowed:
            raise ValueError(
                f"permissions.{key}: no workload named {key!r}; "
                f"use `default` or one of: {', '.join(sorted(known)) or '(none declared)'}"
            )
    roles: list[tuple[str, AgentRole | None]] = [
        ("agents.planner", agents.planner),
        ("agents.critic", agents.critic),
        *((f"agents.workers[{w.name}]", w) for w in agents.workers),
    ]
    for where, role in roles:
        if role is not None and role.workload and role.workload not in known:
            raise ValueError(f"{where}.workload: no workload named {role.workload!r}")


def _workload_names(workloads: Any) -> set[str] | None:
    if not workloads:
        return None
    if isinstance(workloads, dict):
        return {str(k) for k in workloads}
    names = {getattr(w, "name", None) for w in workloads}
    return {n for n in names if isinstance(n, str)} or None
