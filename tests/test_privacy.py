"""The privacy proof: PII never reaches a remote endpoint unless policy allows it.

Two real OpenAI-compatible HTTP servers run on 127.0.0.1: one declared `remote`, one
declared `on-prem`. Every byte the remote one receives (request line, headers, body) is
recorded, and the PII values must appear in none of it, in any encoding we can think of.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mixstack._types import Message, Request, ToolCall
from mixstack.config import parse_config
from mixstack.errors import PolicyError
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls
from tests.upstream_servers import (
    RecordingUpstream,
    Scripted,
    ServerThread,
    chat_events,
    chat_json,
    free_port,
)

PII = {
    "email": "jane.roe@example.org",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "key": "sk-proj-Q7xw9PzL2mVb8TnR4kYc6HdJ",
}
PROMPT = (
    f"Please write to {PII['email']} (phone {PII['phone']}) that card {PII['card']} was "
    f"charged twice; refund to IBAN {PII['iban']}. Our API key is {PII['key']}."
)


def forms(value: str) -> set[str]:
    """Every way a value could show up on the wire: as is, JSON-escaped, digits only."""
    out = {value, json.dumps(value)[1:-1], value.replace(" ", "")}
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 8:
        out.add(digits)
    return out


class RawRecorder:
    """ASGI middleware keeping every byte a server receives: request line, headers, body."""

    def __init__(self, app: Any):
        self.app = app
        self.raw: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}\n"
        headers = b"".join(k + b": " + v + b"\n" for k, v in scope["headers"])
        self.raw.append(head.encode() + headers)

        async def recording_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message.get("type") == "http.request":
                self.raw.append(message.get("body", b""))
            return message

        await self.app(scope, recording_receive, send)

    def leaked(self) -> list[str]:
        data = b"".join(self.raw).decode("utf-8", "replace")
        return [name for name, value in PII.items() if any(f in data for f in forms(value))]


def small_pieces(body: dict[str, Any]) -> Scripted:
    """Echo the last message back in 3-character pieces, so placeholders split across chunks."""
    text = body["messages"][-1]["content"]
    text = text if isinstance(text, str) else json.dumps(text)
    if body.get("stream"):
        pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
        return Scripted(events=chat_events(["echo: ", *pieces]))
    return Scripted(json_body=chat_json(f"echo: {text}"))


class Upstreams:
    def __init__(self) -> None:
        self.remote_app = RecordingUpstream(default=small_pieces)
        self.onprem_app = RecordingUpstream(default=small_pieces)
        self.remote = RawRecorder(self.remote_app.app)
        self.remote_server = ServerThread(self.remote)
        self.onprem_server = ServerThread(self.onprem_app.app)

    def config(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": "cloud/big",
                    "provider": "openai",
                    "locality": "remote",
                    "base_url": self.remote_server.url + "/v1",
                    "price": {"input_per_1m": 1.0, "output_per_1m": 4.0},
                    "retries": 0,
                },
                {
                    "name": "rack/mid",
                    "provider": "openai",
                    "locality": "on-prem",
                    "base_url": self.onprem_server.url + "/v1",
                    "price": {"input_per_1m": 0.5, "output_per_1m": 0.5},
                    "retries": 0,
                },
            ],
            "workloads": {
                "private": {"privacy": "local-only", "prefer": ["rack/mid"]},
                "support": {"privacy": "auto", "prefer": ["cloud/big", "rack/mid"]},
                "scrub": {"privacy": "redact", "prefer": ["cloud/big"]},
            },
            "routing": {"default_workload": "support"},
        }


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    with ups.remote_server, ups.onprem_server:
        yield ups


@pytest.fixture
def config_file(upstreams: Upstreams, tmp_path: Path) -> Path:
    path = tmp_path / "mixstack.yaml"
    path.write_text(yaml.safe_dump(upstreams.config()))
    return path


def test_cli_local_only_and_auto_never_send_pii_to_remote(
    cli: Any, upstreams: Upstreams, config_file: Path
) -> None:
    cfg = ["--config", str(config_file)]
    private = cli("run", *cfg, "--workload", "private", PROMPT)
    assert private.code == 0, private.err
    assert PII["email"] in private.out  # the on-prem model echoed it: it was allowed there
    auto = cli("run", *cfg, "--json", PROMPT)  # default workload: support (auto)
    assert auto.code == 0, auto.err
    route = auto.json()["route"]
    assert route["model"] == "rack/mid"
    assert {p["type"] for p in route["pii"]} >= {"EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE"}
    assert any(e["model"] == "cloud/big" and "PII" in e["reason"] for e in route["excluded"])
    refused = cli("run", *cfg, "--model", "cloud/big", PROMPT)
    assert refused.code == 3, refused.err
    assert "policy" in refused.err or "refused" in refused.err
    # the remote path is live: a clean prompt under the same workload goes there
    clean = cli("run", *cfg, "--json", "Please draft a polite refund note.")
    assert clean.code == 0, clean.err
    assert clean.json()["route"]["model"] == "cloud/big"

    assert len(upstreams.remote_app.requests) == 1
    assert upstreams.remote.leaked() == []
    assert len(upstreams.onprem_app.requests) == 2

    logs = cli("logs", *cfg, "--privacy", "--json", "-n", "10")
    assert logs.code == 0, logs.err
    rows = logs.json()
    assert [r["outcome"] for r in rows] == ["sent", "refused", "sent", "sent"]
    onprem_host = upstreams.onprem_server.url.removeprefix("http://")
    remote_host = upstreams.remote_server.url.removeprefix("http://")
    assert [r["host"] for r in rows] == [remote_host, None, onprem_host, onprem_host]
    assert rows[1]["pii"]
    assert rows[1]["locality"] is None
    assert rows[3]["policy"] == "local-only"
    assert rows[2]["policy"].startswith("auto: PII")
    dumped = json.dumps(rows)
    assert not any(f in dumped for v in PII.values() for f in forms(v))


def test_cli_redact_sends_placeholders_and_restores_the_stream(
    cli: Any, upstreams: Upstreams, config_file: Path
) -> None:
    out = cli("run", "--config", str(config_file), "--workload", "scrub", PROMPT)
    assert out.code == 0, out.err
    assert out.out.strip() == f"echo: {PROMPT}"
    assert upstreams.remote.leaked() == []
    sent = upstreams.remote_app.requests[0]["messages"][-1]["content"]
    assert "<EMAIL_ADDRESS_1_" in sent
    assert "<IBAN_CODE_1_" in sent
    assert "<API_KEY_1_" in sent


async def test_pipeline_redact_restores_complete_and_tool_calls(upstreams: Upstreams) -> None:
    config = parse_config(upstreams.config())
    twice = f"Mail {PII['email']} and again {PII['email']}"
    async with Pipeline(config) as pipeline:
        out = await pipeline.complete(Request.from_prompt(twice, workload="scrub"))
        pipeline.flush()
        row = recent_calls(pipeline.store, 1)[0]
    assert out.text == f"echo: {twice}"
    assert out.route is not None
    assert out.route["redacted"] is True
    sent = upstreams.remote_app.requests[0]["messages"][-1]["content"]
    assert re.fullmatch(r"Mail (<EMAIL_ADDRESS_1_[0-9A-F]{6}>) and again \1", sent), sent
    assert upstreams.remote.leaked() == []
    assert row["redacted"] == 1
    assert json.loads(row["pii"]) == [{"type": "EMAIL_ADDRESS", "count": 2}]
    assert PII["email"] not in (row["prompt"] or "")


async def test_tool_results_and_arguments_are_scanned(upstreams: Upstreams) -> None:
    config = parse_config(upstreams.config())
    call = ToolCall(id="c1", name="lookup", arguments=json.dumps({"q": "customer 42"}))
    request = Request(
        workload="support",
        messages=(
            Message.user("Who is customer 42?"),
            Message.assistant("", (call,)),
            Message.tool("c1", f"name: Jane Roe, iban {PII['iban']}", name="lookup"),
        ),
    )
    async with Pipeline(config) as pipeline:
        out = await pipeline.complete(request)
        with pytest.raises(PolicyError):
            await pipeline.complete(request.with_changes(model="cloud/big"))
    assert out.model == "rack/mid"
    assert upstreams.remote_app.requests == []
    assert upstreams.remote.leaked() == []


@pytest.fixture
def gateway(config_file: Path, home: Path, tmp_path: Path) -> Iterator[str]:
    """`mixstack serve` as a real subprocess in front of the two upstreams."""
    port = free_port()
    env = {**os.environ, "MIXSTACK_HOME": str(home)}
    log = (tmp_path / "gateway.log").open("wb")
    command = [sys.executable, "-m", "mixstack", "serve", "--config", str(config_file)]
    proc = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gateway did not start: {(tmp_path / 'gateway.log').read_text()}"
                )
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_gateway_never_sends_pii_to_remote(gateway: str, upstreams: Upstreams) -> None:
    def chat(text: str, model: str, **headers: str) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        return httpx.post(f"{gateway}/v1/chat/completions", json=body, headers=headers, timeout=60)

    private = chat(PROMPT, "workload/private")
    assert private.status_code == 200, private.text
    assert private.headers["x-mixstack-model"] == "rack/mid"
    auto = chat(PROMPT, "workload/support")
    assert auto.status_code == 200, auto.text
    assert auto.headers["x-mixstack-model"] == "rack/mid"
    header = chat(PROMPT, "rack/mid", **{"x-mixstack-workload": "support"})
    assert header.status_code == 200, header.text
    refused = chat(PROMPT, "cloud/big")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "policy_violation"
    assert PII["email"] not in refused.text
    streamed = httpx.post(
        f"{gateway}/v1/chat/completions",
        json={"model": "workload/scrub", "stream": True,
              "messages": [{"role": "user", "content": PROMPT}]},
        timeout=60,
    )  # fmt: skip
    assert streamed.status_code == 200, streamed.text
    pieces = [
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in streamed.text.splitlines()
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    ]
    assert "".join(pieces) == f"echo: {PROMPT}"
    clean = chat("Please draft a polite refund note.", "workload/support")
    assert clean.headers["x-mixstack-model"] == "cloud/big"

    assert len(upstreams.remote_app.requests) == 2  # the redacted one and the clean one
    assert upstreams.remote.leaked() == []
    assert len(upstreams.onprem_app.requests) == 3
