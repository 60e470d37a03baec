"""The permission policy: whether one tool call may run, as a typed `Decision` with a reason.

Rules come from `permissions.<workload>` (else `permissions.default`); the first rule whose
tool pattern matches decides, and its argument constraints must hold. Without a matching rule
the tool's annotations decide: read-only → allow, destructive → ask, undeclared → ask.
`ask` goes to an approver (the terminal, or `--yes`) or, when no one can answer, to
`ask_default`. Once the context holds tool output flagged as a possible injection, calls
that change or reach out into the world are denied unless a person approves them on the
terminal, with the flag named: neither a rule, `--yes` nor `ask_default: allow` lets them
through, since the flagged text may be what asked for them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mixstack.agents._tools import AgentTool
from mixstack.agents.builtins import host_allowed
from mixstack.config import Config
from mixstack.config.agents import PermissionRule, PermissionSet
from mixstack.errors import ConfigError

__all__ = ["Approver", "AutoApprove", "Decision", "PermissionPolicy"]

Action = Literal["allow", "deny", "ask"]

#: asked with (tool name, arguments, the `ask` decision); True approves
Approver = Callable[[str, dict[str, Any], "Decision"], Awaitable[bool]]

_PATH_ARGS = {"path", "file", "filename", "dir", "directory", "folder", "src", "dst", "target"}
_URL_ARGS = {"url", "uri", "endpoint", "href", "link"}


class AutoApprove:
    """The approver of `--yes`: approves `ask` decisions, never calls after flagged output.

    A class (not a function) so the policy can tell it from a person at a terminal and
    record "approved by --yes" rather than claim someone answered."""

    async def __call__(self, tool: str, arguments: dict[str, Any], decision: Decision) -> bool:
        return decision.source != "taint"


@dataclass(frozen=True, slots=True)
class Decision:
    """allow / deny / ask, why, and where the answer came from (rule, annotations, …)."""

    action: Action
    reason: str
    source: Literal["rule", "annotations", "taint", "approver", "ask_default", "constraint"]

    @property
    def allowed(self) -> bool:
        return self.action == "allow"

    def to_json(self) -> dict[str, str]:
        return {"action": self.action, "reason": self.reason, "source": self.source}


class PermissionPolicy:
    """The rules for one workload. Immutable once built: nothing a model says changes it."""

    def __init__(
        self,
        rules: PermissionSet,
        *,
        workload: str = "default",
        root: Path | None = None,
        approver: Approver | None = None,
    ):
        self._rules = tuple(rules.rules)
        self._ask_default = rules.ask_default
        self.workload = workload
        self._root = root
        self._approver = approver

    @classmethod
    def for_workload(
        cls,
        config: Config,
        workload: str | None,
        *,
        root: Path | None = None,
        approver: Approver | None = None,
    ) -> PermissionPolicy:
        key = workload if workload and workload in config.permissions else "default"
        rules = config.permissions.get(key, PermissionSet())
        return cls(rules, workload=key, root=root, approver=approver)

    def check_tools(self, names: Iterable[str]) -> None:
        """A rule naming a tool that does not exist is a config error (a typo would be silent)."""
        known = set(names)
        for i, rule in enumerate(self._rules):
            literal = not any(ch in rule.tool for ch in "*?[")
            if literal and rule.tool not in known:
                raise ConfigError(
                    f"permissions.{self.workload}.rules[{i}]: no tool named {rule.tool!r}; "
                    f"available tools: {', '.join(sorted(known)) or '(none)'}. "
                    "Fix the name or use a pattern such as `read_*`."
                )

    # -- deciding -----------------------------------------------------------------------

    def decide(
        self, tool: AgentTool, arguments: dict[str, Any], *, flagged: tuple[str, ...] = ()
    ) -> Decision:
        decision = self._by_rules(tool, arguments) or _by_annotations(tool)
        if flagged and decision.action != "deny" and _has_effects(tool):
            return Decision(
                "ask",
                f"FLAGGED: the context holds tool output flagged as a possible injection "
                f"({', '.join(flagged)}); {tool.name} changes or reaches out into the world "
                "and only a person may approve it",
                "taint",
            )
        return decision

    def _by_rules(self, tool: AgentTool, arguments: dict[str, Any]) -> Decision | None:
        for i, rule in enumerate(self._rules):
            if not fnmatch.fnmatchcase(tool.name, rule.tool):
                continue
            where = f"permissions.{self.workload}.rules[{i}]"
            if rule.action == "deny":
                return Decision("deny", rule.reason or f"denied by {where}", "rule")
            broken = self._broken_constraint(rule, arguments)
            if broken:
                return Decision("deny", f"{broken} ({where})", "constraint")
            return Decision(rule.action, rule.reason or f"{rule.action} by {where}", "rule")
        return None

    def _broken_constraint(self, rule: PermissionRule, arguments: dict[str, Any]) -> str | None:
        if rule.paths_under is not None:
            folders = [self._folder(p) for p in rule.paths_under]
            for name, value in arguments.items():
                if name.lower() in _PATH_ARGS and isinstance(value, str):
                    target = self._path(value)
                    if not any(target == f or target.is_relative_to(f) for f in folders):
                        return f"{name}={value!r} is not under {', '.join(rule.paths_under)}"
        if rule.hosts is not None:
            for name, value in arguments.items():
                is_url = isinstance(value, str) and value.startswith(("http://", "https://"))
                if (name.lower() in _URL_ARGS or is_url) and not host_allowed(
                    str(value), rule.hosts
                ):
                    return f"{name}={value!r} is not on an allowed host ({', '.join(rule.hosts)})"
        for name, pattern in (rule.args or {}).items():
            if name not in arguments:
                return f"argument {name!r} is required by the rule"
            if not re.fullmatch(pattern, str(arguments[name])):
                return f"{name}={arguments[name]!r} does not match {pattern!r}"
        return None

    def _folder(self, configured: str) -> Path:
        path = Path(configured).expanduser()
        if not path.is_absolute():
            path = (self._root or Path.cwd()) / path
        return path.resolve()

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (self._root or Path.cwd()) / path
        return path.resolve()

    # -- asking -------------------------------------------------------------------------

    async def resolve(self, decision: Decision, tool: str, arguments: dict[str, Any]) -> Decision:
        """Turn `ask` into allow or deny: the approver answers, else `ask_default` applies."""
        if decision.action != "ask":
            return decision
        automatic = isinstance(self._approver, AutoApprove)
        if decision.source == "taint" and (self._approver is None or automatic):
            why = "--yes does not approve it" if automatic else "no one is at a terminal"
            return Decision("deny", f"denied: {why} ({decision.reason})", "taint")
        if self._approver is not None:
            approved = await self._approver(tool, arguments, decision)
            verdict: Action = "allow" if approved else "deny"
            if automatic:
                word = "approved by --yes" if approved else "refused by --yes"
            else:
                word = "approved on the terminal" if approved else "refused on the terminal"
            return Decision(verdict, f"{word} ({decision.reason})", "approver")
        return Decision(
            self._ask_default,
            f"needs approval and no one can answer; permissions.{self.workload}.ask_default "
            f"is {self._ask_default} ({decision.reason})",
            "ask_default",
        )


def _by_annotations(tool: AgentTool) -> Decision:
    notes = tool.annotations
    if notes.destructive:
        return Decision("ask", f"{tool.name} is declared destructive", "annotations")
    if notes.read_only and notes.open_world:
        return Decision("ask", f"{tool.name} reaches the open world", "annotations")
    if notes.read_only:
        return Decision("allow", f"{tool.name} is declared read-only", "annotations")
    return Decision("ask", f"{tool.name} does not declare that it is read-only", "annotations")


def _has_effects(tool: AgentTool) -> bool:
    notes = tool.annotations
    return not (notes.read_only and not notes.open_world)
