"""Tools: schemas from signatures, validation fed back, built-ins, sandbox, timeouts, HTTP."""

from __future__ import annotations

import asyncio
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, ClassVar

import pytest
from pydantic import Field

from mixstack.agents._tools import AgentTool, ToolContext, ToolError, function_tool
from mixstack.agents.builtins import builtin_tools, calculate, load_tools, resolve_in_root


def _tools(ctx: ToolContext) -> dict[str, AgentTool]:
    return {t.name: t for t in builtin_tools(ctx)}


def test_schema_comes_from_signature_and_docstring() -> None:
    @function_tool(read_only=True)
    def lookup(city: str, days: int = 3, units: str = "metric") -> str:
        """Weather forecast for a city.

        Args:
            city: the city name
            days: how many days ahead
        """
        return f"{city}:{days}:{units}"

    assert lookup.name == "lookup"
    assert lookup.description == "Weather forecast for a city."
    props = lookup.parameters["properties"]
    assert props["city"] == {"type": "string", "description": "the city name"}
    assert props["days"]["type"] == "integer"
    assert props["days"]["default"] == 3
    assert lookup.parameters["required"] == ["city"]
    assert lookup.annotations.read_only is True
    assert lookup.spec().name == "lookup"


async def test_annotated_field_constraints_reach_the_schema_and_the_check() -> None:
    @function_tool
    def book(
        nights: Annotated[int, Field(ge=1, le=30)],
        code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="airport code")],
    ) -> str:
        """Book a stay.

        Args:
            nights: how many nights
        """
        return f"{code}:{nights}"

    props = book.parameters["properties"]
    assert props["nights"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 30,
        "description": "how many nights",
    }
    assert props["code"]["pattern"] == "^[A-Z]{3}$"
    assert props["code"]["description"] == "airport code"
    bad = await book.call({"nights": 0, "code": "lyon"}, ToolContext())
    assert not bad.ok
    assert "nights" in bad.output
    assert "code" in bad.output
    assert (await book.call({"nights": 2, "code": "LYS"}, ToolContext())).output == "LYS:2"


async def test_invalid_arguments_become_a_message_not_an_exception() -> None:
    @function_tool
    def add(a: int, b: int) -> int:
        return a + b

    ctx = ToolContext()
    ok = await add.call({"a": "2", "b": 3}, ctx)  # lax coercion of a numeric string
    assert ok.ok
    assert ok.output == "5"
    bad = await add.call({"a": "two", "c": 1}, ctx)
    assert not bad.ok
    assert bad.error == "invalid_arguments"
    assert "a:" in bad.output
    assert "missing required argument 'b'" in bad.output
    assert "unexpected argument 'c'" in bad.output


async def test_raising_hanging_and_huge_tools_end_cleanly() -> None:
    @function_tool
    def boom() -> str:
        raise RuntimeError("disk on fire")

    @function_tool
    def hang() -> str:
        time.sleep(30)
        return "never"

    @function_tool
    async def ahang() -> str:
        await asyncio.sleep(30)
        return "never"

    @function_tool
    def huge() -> str:
        return "x" * 3_000_000

    ctx = ToolContext(timeout_s=0.3, max_output_chars=1000)
    out = await boom.call({}, ctx)
    assert not out.ok
    assert "RuntimeError: disk on fire" in out.output
    for slow in (hang, ahang):
        out = await slow.call({}, ctx)
        assert not out.ok
        assert out.error == "timeout"
        assert "timed out after 0.3 s" in out.output
    out = await huge.call({}, ctx)
    assert out.ok
    assert out.truncated
    assert "[output truncated: 3,000,000 characters, showing the first 1,000]" in out.output
    assert len(out.output) < 1200


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 * (3 + 4)", 14),
        ("23*17", 391),
        ("7^3", 343),
        ("144 / 12", 12.0),
        ("sqrt(16) + abs(-2)", 6.0),
        ("-5 // 2", -3),
        ("1,234 + 1", 1235),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "unsupported element"),
        ("open('/etc/passwd')", "unsupported element"),
        ("(1).__class__", "unsupported element"),
        ("[x for x in range(9)]", "unsupported element"),
        ("2 ** 99999999", "too large"),
        ("1 / 0", "division by zero"),
        ("import os", "not an arithmetic expression"),
        ("", "empty"),
    ],
)
def test_calculator_refuses_everything_but_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        calculate(expression)


async def test_calculator_tool_formats_results() -> None:
    calc = _tools(ToolContext())["calculator"]
    out = await calc.call({"expression": "10 / 4"}, ToolContext())
    assert out.output == "2.5"
    out = await calc.call({"expression": "6 * 7.0"}, ToolContext())
    assert out.output == "42"


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("alpha")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(tmp_path, root / "up")
    return root


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "absolute"),
        ("~/x", "absolute"),
        ("../secret.txt", "uses `..`"),
        ("docs/../../secret.txt", "uses `..`"),
        ("leak.txt", "outside the root"),
        ("up/secret.txt", "outside the root"),
        ("missing.txt", "does not exist"),
    ],
)
def test_sandbox_refuses_escapes(sandbox: Path, path: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        resolve_in_root(sandbox, path)


async def test_file_tools_stay_in_the_root(sandbox: Path) -> None:
    ctx = ToolContext(root=sandbox)
    tools = _tools(ctx)
    assert set(tools) == {"calculator", "read_file", "list_dir", "write_file", "ocr"}
    read = await tools["read_file"].call({"path": "docs/a.txt"}, ctx)
    assert read.ok
    assert read.output == "alpha"
    leak = await tools["read_file"].call({"path": "leak.txt"}, ctx)
    assert not leak.ok
    assert "TOP SECRET" not in leak.output
    listing = await tools["list_dir"].call({}, ctx)
    assert "docs/" in listing.output
    assert "leak.txt (link)" in listing.output
    wrote = await tools["write_file"].call({"path": "out/new.txt", "content": "hi"}, ctx)
    assert wrote.ok
    assert (sandbox / "out" / "new.txt").read_text() == "hi"
    escape = await tools["write_file"].call({"path": "up/evil.txt", "content": "x"}, ctx)
    assert not escape.ok
    assert not (sandbox.parent / "evil.txt").exists()
    through_link = await tools["write_file"].call(
        {"path": "leak.txt", "content": "overwritten"}, ctx
    )
    assert not through_link.ok
    assert (sandbox.parent / "secret.txt").read_text() == "TOP SECRET"


def test_without_a_root_there_are_no_file_tools_and_no_http_without_hosts() -> None:
    assert [t.name for t in load_tools(ToolContext())] == ["calculator"]
    with_hosts = {t.name for t in load_tools(ToolContext(http_allow_hosts=("127.0.0.1",)))}
    assert with_hosts == {"calculator", "http_get"}


async def test_ocr_tool_reads_an_image_in_the_root(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (420, 90), "white")
    font = ImageFont.load_default(size=36)
    ImageDraw.Draw(image).text((12, 20), "INVOICE 4711", fill="black", font=font)
    image.save(tmp_path / "scan.png")
    ctx = ToolContext(root=tmp_path, timeout_s=60)
    out = await _tools(ctx)["ocr"].call({"path": "scan.png"}, ctx)
    assert out.ok, out.output
    assert "4711" in out.output


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.hits.append(self.path)
        body = b"hello from the test server" if self.path != "/big" else b"y" * 100_000
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://example.invalid/")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_http_get_fetches_only_allowed_hosts(http_server: str) -> None:
    # the allow-list holds the port too: the bare host would mean port 80 only
    origin = http_server.removeprefix("http://")
    port_only = await _tools(ToolContext(http_allow_hosts=("127.0.0.1",)))["http_get"].call(
        {"url": http_server + "/page"}, ToolContext(http_allow_hosts=("127.0.0.1",))
    )
    assert not port_only.ok
    ctx = ToolContext(http_allow_hosts=(origin,), max_output_chars=500)
    http_get = _tools(ctx)["http_get"]
    out = await http_get.call({"url": http_server + "/page"}, ctx)
    assert out.ok
    assert out.output.startswith("HTTP 200 text/plain")
    assert "hello from the test server" in out.output
    big = await http_get.call({"url": http_server + "/big"}, ctx)
    assert big.ok
    assert big.truncated
    redirect = await http_get.call({"url": http_server + "/redirect"}, ctx)
    assert "not followed" in redirect.output
    other = ToolContext(http_allow_hosts=("docs.example.com",))
    refused = await http_get.call({"url": http_server + "/secret"}, other)
    assert not refused.ok
    assert "not in tools.http_allow_hosts" in refused.output
    scheme = await http_get.call({"url": "file:///etc/passwd"}, ctx)
    assert not scheme.ok
    assert _Handler.hits == ["/page", "/big", "/redirect"]
