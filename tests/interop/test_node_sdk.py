"""Node's official `openai` SDK against the gateway, when node and the SDK are on the machine.

Tests never run `npm install`: without node, or without the `openai` package resolvable by
node, the test is skipped and says which one is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.interop.conftest import Served

SCRIPT = """
const OpenAI = require('openai');
const client = new OpenAI({baseURL: process.argv[1], apiKey: 'k', maxRetries: 0});
(async () => {
  const done = await client.chat.completions.create({
    model: 'fake/echo', messages: [{role: 'user', content: 'from node'}]});
  const stream = await client.chat.completions.create({
    model: 'fake/echo', messages: [{role: 'user', content: 'streamed'}], stream: true});
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  const text0 = done.choices[0].message.content;
  console.log(JSON.stringify({model: done.model, text: text0, streamed: text}));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_node_openai_sdk(served: Served) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed on this machine; the Python SDK tests cover the API")
    probe = subprocess.run([node, "-e", "require('openai')"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("node's `openai` package is not installed (tests never run npm install)")
    out = subprocess.run(
        [node, "-e", SCRIPT, served.v1], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data == {"model": "fake/echo", "text": "echo: from node", "streamed": "echo: streamed"}
