"""The built-in tools: calculator, sandboxed files, OCR and an allow-listed `http_get`.

File tools exist only when a root is declared (`--root` or `tools.root`) and never reach
outside it: absolute paths and `..` are refused, and symlinks are resolved before the check.
`http_get` exists only when `tools.http_allow_hosts` lists hosts, and fetches only those.
Built-ins register through the `mixstack.tools` entry-point group like any plugin.
"""

from __future__ import annotations

import ast
import math
import operator
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field

from mixstack._plugins import plugins
from mixstack.agents._tools import (
    AgentTool,
    FunctionTool,
    ToolAnnotations,
    ToolContext,
    ToolError,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "builtin_tools",
    "calculate",
    "load_tools",
    "resolve_in_root",
]

ENTRY_POINT_GROUP = "mixstack.tools"

_READ_ONLY = ToolAnnotations(read_only=True, destructive=False, open_world=False)
_MAX_WRITE_CHARS = 1_000_000
_MAX_LIST = 500

# -- calculator -----------------------------------------------------------------------------

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_EXPONENT = 10_000
_MAX_DIGITS = 4_000


def calculate(expression: str) -> int | float:
    """Evaluate an arithmetic expression by walking its syntax tree (no `eval`)."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    text = text.replace(",", "") if "(" not in text else text
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > 500:
        raise ToolError("the expression is longer than 500 characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from exc
    try:
        value: int | float = _eval(tree.body)
    except ZeroDivisionError as exc:
        raise ToolError("division by zero") from exc
    except (OverflowError, ValueError) as exc:
        raise ToolError(f"cannot compute {expression!r}: {exc}") from exc
    if not isinstance(value, int | float):
        raise ToolError(f"{expression!r} does not give a number")
    return value


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ToolError(f"exponent {right} is too large (limit {_MAX_EXPONENT})")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, int) and value.bit_length() > _MAX_DIGITS * 3.33:
            raise ToolError(f"the result has more than {_MAX_DIGITS} digits")
        if isinstance(value, complex):
            raise ToolError("the result is not a real number")
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_eval(a) for a in node.args))
    allowed = "numbers, + - * / // % ** ( ), pi, e and " + ", ".join(sorted(_FUNCTIONS))
    raise ToolError(f"unsupported element {ast.unparse(node)!r}; use only {allowed}")


def _format_number(value: int | float) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".12g")
    return str(value)


#: what an expression is made of, for the schema: a grammar holds a local model to it (a
#: small model otherwise writes `7 \\times 8`); the calculator's own errors stay the check
_NAMES = "|".join(sorted({*_FUNCTIONS, *_CONSTANTS}, key=len, reverse=True))
_EXPRESSION_PATTERN = f"^([0-9(.-]|{_NAMES})([0-9 .+*/%^()-]|{_NAMES})*$"


def calculator(
    expression: Annotated[str, Field(json_schema_extra={"pattern": _EXPRESSION_PATTERN})],
) -> str:
    """Evaluate an arithmetic expression such as "2 * (3 + 4)" or "sqrt(2) ** 3".

    Args:
        expression: the arithmetic expression to evaluate
    """
    return _format_number(calculate(expression))


# -- files ----------------------------------------------------------------------------------


def resolve_in_root(root: Path | None, path: str, *, must_exist: bool = True) -> Path:
    """The real path of `path` inside `root`; refuses absolute paths, `..` and symlink escapes."""
    if root is None:
        raise ToolError("file tools need a root folder; run with --root DIR or set tools.root")
    given = Path(path.strip() or ".")
    if given.is_absolute() or path.startswith("~"):
        raise ToolError(f"{path!r} is absolute; give a path relative to the root folder")
    if ".." in given.parts:
        raise ToolError(f"{path!r} uses `..`; paths must stay inside the root folder")
    base = root.resolve()
    target = (base / given).resolve()
    if target != base and not target.is_relative_to(base):
        raise ToolError(f"{path!r} leads outside the root folder (through a symlink)")
    if must_exist and not target.exists():
        raise ToolError(f"{path!r} does not exist; use list_dir to see what is there")
    return target


def read_file(path: str, ctx: ToolContext) -> str:
    """Read a text file inside the root folder.

    Args:
        path: file path relative to the root folder
    """
    target = resolve_in_root(ctx.root, path)
    if not target.is_file():
        raise ToolError(f"{path!r} is not a file")
    limit = max(ctx.max_output_chars * 4, 4096)
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if b"\x00" in data[:4096]:
        raise ToolError(f"{path!r} is a binary file; use ocr for images")
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n[file longer than {limit:,} bytes; the rest was not read]"
    return text


def list_dir(ctx: ToolContext, path: str = ".") -> str:
    """List the entries of a folder inside the root folder.

    Args:
        path: folder path relative to the root folder ("." for the root itself)
    """
    target = resolve_in_root(ctx.root, path)
    if not target.is_dir():
        raise ToolError(f"{path!r} is not a folder")
    lines = []
    entries = sorted(target.iterdir(), key=lambda p: p.name)
    for entry in entries[:_MAX_LIST]:
        if entry.is_symlink():
            lines.append(f"{entry.name} (link)")
        elif entry.is_dir():
            lines.append(f"{entry.name}/")
        else:
            lines.append(f"{entry.name} ({entry.stat().st_size} bytes)")
    if len(entries) > _MAX_LIST:
        lines.append(f"… and {len(entries) - _MAX_LIST} more")
    return "\n".join(lines) if lines else "(empty folder)"


#: entries a file tool's choices may list; a bigger tree leaves the path free
_MAX_CHOICES = 64
_MAX_VISITED = 2000


def _entries(root: Path | None, depth: int = 2) -> tuple[list[str], list[str]] | None:
    """(files, folders) under the root as relative paths, hidden names and links left out;
    None when the tree is too big to offer as choices."""
    if root is None:
        return None
    files: list[str] = []
    folders: list[str] = []
    visited = 0
    pending = [(root, "", 0)]
    while pending:
        folder, prefix, level = pending.pop(0)
        try:
            items = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for item in items:
            visited += 1
            if visited > _MAX_VISITED or len(files) + len(folders) > _MAX_CHOICES:
                return None
            if item.name.startswith(".") or item.is_symlink():
                continue
            rel = prefix + item.name
            if item.is_dir():
                folders.append(rel)
                if level + 1 < depth:
                    pending.append((Path(item.path), rel + "/", level + 1))
            elif item.is_file():
                files.append(rel)
    return files, folders


def _file_choices(ctx: ToolContext) -> dict[str, list[Any]]:
    found = _entries(ctx.root)
    files = [f for f in found[0] if not f.lower().endswith(_IMAGE)] if found else []
    return {"path": files} if files else {}


def _folder_choices(ctx: ToolContext) -> dict[str, list[Any]]:
    found = _entries(ctx.root)
    return {"path": [".", *found[1]]} if found else {}


_IMAGE = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def _image_choices(ctx: ToolContext) -> dict[str, list[Any]]:
    found = _entries(ctx.root)
    images = [f for f in found[0] if f.lower().endswith(_IMAGE)] if found else []
    return {"path": images} if images else {}


def write_file(path: str, content: str, ctx: ToolContext) -> str:
    """Write a text file inside the root folder (replacing it if it exists).

    Args:
        path: file path relative to the root folder
        content: the text to write
    """
    if len(content) > _MAX_WRITE_CHARS:
        raise ToolError(f"content is longer than {_MAX_WRITE_CHARS:,} characters")
    target = resolve_in_root(ctx.root, path, must_exist=False)
    if target.is_dir():
        raise ToolError(f"{path!r} is a folder")
    resolve_in_root(ctx.root, str(Path(path).parent), must_exist=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return f"wrote {len(content)} characters to {path}"


def ocr(path: str, ctx: ToolContext) -> str:
    """Read the text in an image file inside the root folder (local OCR).

    Args:
        path: image path relative to the root folder (PNG, JPEG, GIF, BMP or WebP)
    """
    from mixstack._types import ImagePart
    from mixstack.errors import MixstackError
    from mixstack.vision import image_to_text

    target = resolve_in_root(ctx.root, path)
    try:
        image = ImagePart.from_bytes(target.read_bytes(), source=path)
        return image_to_text(image)
    except MixstackError as exc:
        raise ToolError(exc.message) from exc


# -- http -----------------------------------------------------------------------------------


_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_allowed(url: str, hosts: tuple[str, ...] | list[str]) -> bool:
    """Whether `url` is on the allow-list: its host (or a subdomain), and its scheme and
    port. An entry names a host (`example.org`: http or https on their default ports), a
    host and port (`example.org:8080`) or a whole origin (`https://example.org:8443`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return False  # a port that is not a number
    if not host or port is None:
        return False
    return any(_entry_allows(entry, scheme, host, port) for entry in hosts)


def _entry_allows(entry: str, scheme: str, host: str, port: int) -> bool:
    allowed = urlsplit(entry if "://" in entry else f"//{entry}")
    name = (allowed.hostname or "").lower()
    if not name or not (host == name or host.endswith("." + name)):
        return False
    if allowed.scheme and allowed.scheme.lower() != scheme:
        return False
    try:
        wanted = allowed.port
    except ValueError:
        return False
    if wanted is None:
        wanted = _DEFAULT_PORTS.get(allowed.scheme.lower() or scheme)
    return port == wanted


async def http_get(url: str, ctx: ToolContext) -> str:
    """Fetch a web page or API response with GET (only from allowed hosts).

    Args:
        url: the http(s) URL to fetch
    """
    import httpx

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ToolError(f"only http and https URLs can be fetched, not {parts.scheme or url!r}")
    if not host_allowed(url, ctx.http_allow_hosts):
        raise ToolError(
            f"host {parts.hostname!r} is not in tools.http_allow_hosts "
            f"({', '.join(ctx.http_allow_hosts)})"
        )
    limit = ctx.max_output_chars * 4
    async with (
        httpx.AsyncClient(timeout=ctx.timeout_s, follow_redirects=False) as client,
        client.stream("GET", url) as response,
    ):
        body = bytearray()
        async for piece in response.aiter_bytes():
            body.extend(piece)
            if len(body) > limit:
                break
        kind = response.headers.get("content-type", "")
        status = f"HTTP {response.status_code} {kind}".strip()
        if response.is_redirect:
            status += f" (redirect to {response.headers.get('location', '?')}, not followed)"
    text = bytes(body[:limit]).decode(response.encoding or "utf-8", errors="replace")
    return f"{status}\n\n{text}"


# -- registry -------------------------------------------------------------------------------


def builtin_tools(ctx: ToolContext) -> list[AgentTool]:
    """The built-ins that make sense for this context (file tools need a root, http a list)."""
    tools: list[AgentTool] = [FunctionTool(calculator, annotations=_READ_ONLY)]
    if ctx.root is not None:
        tools += [
            FunctionTool(read_file, annotations=_READ_ONLY, choices=_file_choices),
            FunctionTool(list_dir, annotations=_READ_ONLY, choices=_folder_choices),
            FunctionTool(
                write_file,
                annotations=ToolAnnotations(read_only=False, destructive=True, open_world=False),
            ),
            FunctionTool(ocr, annotations=_READ_ONLY, choices=_image_choices),
        ]
    if ctx.http_allow_hosts:
        tools.append(
            FunctionTool(
                http_get,
                annotations=ToolAnnotations(read_only=True, destructive=False, open_world=True),
            )
        )
    return tools


def load_tools(ctx: ToolContext) -> list[AgentTool]:
    """Every tool from the `mixstack.tools` entry points (each returns a list for a context)."""
    found: dict[str, AgentTool] = {}
    for ep in sorted(plugins(ENTRY_POINT_GROUP), key=lambda e: e.name):
        factory: Callable[[ToolContext], list[AgentTool]] = ep.load()
        for item in factory(ctx):
            found.setdefault(item.name, item)
    if not found:  # running from a tree without installed metadata
        found = {t.name: t for t in builtin_tools(ctx)}
    return list(found.values())
