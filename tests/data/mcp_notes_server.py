"""A tiny MCP server for the tests, written with the official SDK and run over stdio.

It keeps notes in a file given as the first argument, so a test can see whether a
destructive tool really ran.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

store = Path(sys.argv[1])
server = MCPServer("notes")


@server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def list_notes() -> str:
    """List every note."""
    return store.read_text() if store.exists() else "(no notes)"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def delete_notes() -> str:
    """Delete every note."""
    store.write_text("")
    return "deleted"


@server.tool()
def add_note(text: str) -> str:
    """Add a note."""
    with store.open("a") as handle:
        handle.write(text + "\n")
    return "added"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def fail() -> str:
    """Always fails."""
    raise ValueError("the notes service is down")


if __name__ == "__main__":
    server.run()
