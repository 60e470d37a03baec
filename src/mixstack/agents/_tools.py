"""Tools an agent can call: plain typed Python functions, with a schema from the signature.

`function_tool(fn)` reads the signature and the docstring (`Args:` section) to build a JSON
schema; arguments are validated by pydantic before the call and a validation error becomes a
message for the model, not an exception. A parameter annotated `ToolContext` is injected and
left out of the schema. Every call has a timeout and its output is truncated with a note.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from mixstack._types import Tool
from mixstack.errors import ToolError

__all__ = [
    "AgentTool",
    "FunctionTool",
    "ToolAnnotations",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "function_tool",
    "truncate",
]


@dataclass(frozen=True, slots=True)
class ToolAnnotations:
    """What a tool does to the world (the MCP annotation vocabulary); `None` = not declared."""

    read_only: bool | None = None
    destructive: bool | None = None
    open_world: bool | None = None

    def to_json(self) -> dict[str, bool | None]:
        return {
            "read_only": self.read_only,
            "destructive": self.destructive,
            "open_world": self.open_world,
        }


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What built-in tools need from the run: the sandbox root and the HTTP allow-list."""

    root: Path | None = None
    http_allow_hosts: tuple[str, ...] = ()
    timeout_s: float = 20.0
    max_output_chars: int = 8000


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    ok: bool
    output: str
    error: str | None = None
    truncated: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    note = f"\n[output truncated: {len(text):,} characters, showing the first {limit:,}]"
    return text[:limit] + note, True


class AgentTool(abc.ABC):
    """One callable tool as the agent runtime sees it."""

    name: str
    description: str
    parameters: dict[str, Any]
    annotations: ToolAnnotations

    def spec(self) -> Tool:
        return Tool(name=self.name, description=self.description, parameters=self.parameters)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments, checked and coerced; raises `ToolError` with a readable message."""
        return arguments

    def choices(self, ctx: ToolContext) -> dict[str, list[Any]]:
        """The values a parameter can take here, where they are few and known (the files a
        file tool can open): constrained decoding holds a local model to them. Empty when
        any value may do."""
        return {}

    @abc.abstractmethod
    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        """Run the tool with validated arguments; raise `ToolError` for expected failures."""

    async def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        """Validate, run under the timeout, truncate; never raises for a tool's own failure."""
        try:
            checked = self.validate(arguments)
        except ToolError as exc:
            return ToolOutcome(False, f"invalid arguments: {exc}", error="invalid_arguments")
        try:
            # `timeout`, not `wait_for`: on 3.11 `wait_for` can swallow a cancellation
            async with asyncio.timeout(ctx.timeout_s):
                text = await self.invoke(checked, ctx)
        except TimeoutError:
            message = f"{self.name} timed out after {ctx.timeout_s:g} s"
            return ToolOutcome(False, message, error="timeout")
        except ToolError as exc:
            return ToolOutcome(False, f"{self.name} failed: {exc}", error="tool_error")
        except Exception as exc:
            message = f"{self.name} raised {type(exc).__name__}: {exc}"
            return ToolOutcome(False, message, error="exception")
        shown, cut = truncate(text, ctx.max_output_chars)
        return ToolOutcome(True, shown, truncated=cut)


class FunctionTool(AgentTool):
    """A tool backed by a typed Python function (sync functions run in a daemon thread)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations = ToolAnnotations(),
        choices: Callable[[ToolContext], dict[str, list[Any]]] | None = None,
    ):
        self.fn = fn
        self._choices = choices
        self.name = name or fn.__name__
        summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
        self.description = description if description is not None else summary
        self.annotations = annotations
        self._context_param, self._model = _arguments_model(fn, self.name, arg_docs)
        self.parameters = _clean_schema(self._model.model_json_schema())

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(_describe_errors(exc)) from exc
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def choices(self, ctx: ToolContext) -> dict[str, list[Any]]:
        return self._choices(ctx) if self._choices is not None else {}

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        kwargs = dict(arguments)
        if self._context_param:
            kwargs[self._context_param] = ctx
        if inspect.iscoroutinefunction(self.fn):
            result = await self.fn(**kwargs)
        else:
            result = await _in_daemon_thread(self.fn, kwargs)
        return result if isinstance(result, str) else _to_text(result)


@overload
def function_tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    open_world: bool | None = None,
) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    open_world: bool | None = None,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    open_world: bool | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a typed function into a tool; usable as `@function_tool` or `@function_tool(...)`.

    `read_only`, `destructive` and `open_world` declare what the tool does to the world (the
    permission policy's defaults follow them: read-only is allowed, destructive asks)."""
    annotations = ToolAnnotations(read_only, destructive, open_world)

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(f, name=name, description=description, annotations=annotations)

    return wrap(fn) if fn is not None else wrap


async def _in_daemon_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Run a sync function off the loop in a daemon thread, so a hung tool cannot block exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value = fn(**kwargs)
        except BaseException as exc:
            try:
                loop.call_soon_threadsafe(settle, None, exc)
            except RuntimeError:
                return
            return
        try:
            loop.call_soon_threadsafe(settle, value, None)
        except RuntimeError:  # the loop is gone: nobody waits for this result any more
            return

    threading.Thread(target=work, name=f"mixstack-tool-{fn.__name__}", daemon=True).start()
    return await future


def _to_text(value: Any) -> str:
    import json

    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


_ARG_LINE = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before `Args:`) and a description per argument (Google style)."""
    summary_lines: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and stripped[:-1] in ("Args", "Arguments", "Parameters"):
            section = "args"
            continue
        if stripped.endswith(":") and stripped[:-1] in ("Returns", "Raises", "Examples"):
            section = "other"
            continue
        if section is None:
            summary_lines.append(stripped)
        elif section == "args":
            match = _ARG_LINE.match(line)
            if match:
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current and stripped:
                args[current] = (args[current] + " " + stripped).strip()
    summary = " ".join(s for s in summary_lines if s).strip()
    return summary, args


def _arguments_model(
    fn: Callable[..., Any], tool_name: str, docs: dict[str, str]
) -> tuple[str | None, type[BaseModel]]:
    hints = get_type_hints(fn, include_extras=True)
    context_param: str | None = None
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {tool_name!r}: *args/**kwargs cannot be described to a model")
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        doc = docs.get(param.name)
        # the docstring's description joins the annotation's own `Field(...)` (its bounds,
        # pattern or description), which a second `Field` beside it would replace
        typed = Annotated[annotation, Field(description=doc)] if doc else annotation
        fields[param.name] = (typed, default)
    model_name = "".join(p.capitalize() for p in re.split(r"\W+", tool_name) if p) or "Tool"
    model = create_model(
        f"{model_name}Arguments",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return context_param, model


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's titles: they cost tokens and tell the model nothing new."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    cleaned: dict[str, Any] = walk(schema)
    cleaned.setdefault("properties", {})
    return cleaned


def _describe_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:4]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            parts.append(f"unexpected argument {where!r}")
        elif err["type"] == "missing":
            parts.append(f"missing required argument {where!r}")
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
