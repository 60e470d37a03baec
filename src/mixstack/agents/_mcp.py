"""Tools from MCP servers started as subprocesses and spoken to over stdio (official `mcp` SDK).

Each server in `tools.mcp_servers` is started for the run, its tools are listed and exposed
as `<server>_<tool>`, with the server's annotations (read-only, destructive, open-world)
feeding the permission defaults. The SDK is an optional extra (`mixstack[mcp]`), imported only
when a server is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from mixstack.agents._tools import AgentTool, ToolAnnotations, ToolContext, ToolError
from mixstack.config.agents import McpServerConfig
from mixstack.errors import ConfigError, MixstackError

__all__ = ["McpTool", "connect_servers"]


def _field(obj: Any, *names: str) -> Any:
    """Read a field under its SDK 2 (snake_case) or SDK 1 (camelCase) name."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


class McpTool(AgentTool):
    def __init__(self, server: McpServerConfig, session: Any, tool: Any):
        self.server = server.name
        self.remote_name = str(tool.name)
        self.name = f"{server.name}_{tool.name}"
        self.description = str(tool.description or "")
        self.parameters = dict(_field(tool, "input_schema", "inputSchema") or {"type": "object"})
        notes = tool.annotations
        self.annotations = ToolAnnotations(
            read_only=_field(notes, "read_only_hint", "readOnlyHint") if notes else None,
            destructive=_field(notes, "destructive_hint", "destructiveHint") if notes else None,
            open_world=_field(notes, "open_world_hint", "openWorldHint") if notes else None,
        )
        self._session = session
        self._timeout = server.timeout_s

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        import jsonschema

        validator = jsonschema.Draft202012Validator(self.parameters)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            parts = []
            for err in errors[:4]:
                where = ".".join(str(p) for p in err.path) or "arguments"
                parts.append(f"{where}: {err.message}")
            raise ToolError("; ".join(parts))
        return arguments

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        timeout = min(self._timeout, ctx.timeout_s)
        result = await self._session.call_tool(
            self.remote_name, arguments, read_timeout_seconds=timeout
        )
        pieces: list[str] = []
        for block in result.content or []:
            text = getattr(block, "text", None)
            pieces.append(text if isinstance(text, str) else f"[{block.type} content]")
        structured = _field(result, "structured_content", "structuredContent")
        if not pieces and structured is not None:
            pieces.append(json.dumps(structured, ensure_ascii=False))
        text = "\n".join(pieces)
        if _field(result, "is_error", "isError"):
            raise ToolError(text or "the MCP server reported an error")
        return text


@contextlib.asynccontextmanager
async def connect_servers(servers: list[McpServerConfig]) -> AsyncIterator[list[AgentTool]]:
    """Start every server, list its tools, and stop the servers when the run ends.

    The SDK's task groups wrap anything raised inside them in exception groups; a mixstack
    error is unwrapped again so that callers see one clear error.
    """
    try:
        async with _connected(servers) as tools:
            yield tools
    except BaseExceptionGroup as group:
        leaf = _first_leaf(group)
        if isinstance(leaf, MixstackError):
            raise leaf from None
        raise


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


@contextlib.asynccontextmanager
async def _connected(servers: list[McpServerConfig]) -> AsyncIterator[list[AgentTool]]:
    try:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
    except ImportError as exc:
        raise ConfigError(
            "tools.mcp_servers needs the MCP SDK; run `pip install 'mixstack[mcp]'` "
            "or remove the servers from the config."
        ) from exc
    tools: list[AgentTool] = []
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            errlog = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))  # noqa: SIM115
            params = StdioServerParameters(
                command=server.command,
                args=list(server.args),
                env={**os.environ, **server.env},
                cwd=server.cwd,
            )
            try:
                read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
                session = await stack.enter_async_context(ClientSession(read, write))
                # `timeout`, not `wait_for`: on 3.11 `wait_for` can swallow a cancellation
                async with asyncio.timeout(server.timeout_s):
                    await session.initialize()
                async with asyncio.timeout(server.timeout_s):
                    listed = await session.list_tools()
            except (OSError, TimeoutError, Exception) as exc:
                errlog.seek(0)
                tail = errlog.read()[-300:].strip()
                detail = f" (server said: {tail})" if tail else ""
                raise ConfigError(
                    f"MCP server {server.name!r} ({server.command}) could not be started or "
                    f"listed: {type(exc).__name__}: {exc}{detail}; "
                    f"check tools.mcp_servers[{server.name}]."
                ) from exc
            tools.extend(McpTool(server, session, tool) for tool in listed.tools)
        yield tools
