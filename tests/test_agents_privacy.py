"""Every agent step goes through the pipeline: tool output with private data stays local."""

from __future__ import annotations

import json
from pathlib import Path

from mixstack.agents import AgentRuntime, load_trace
from mixstack.config import parse_config
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls

READ = [{"name": "read_file", "arguments": {"path": "customer.txt"}}]
MODELS = [
    {
        "name": "fake/cloud",
        "provider": "fake",
        "locality": "remote",
        "replies": [{"when": "</tool_output>", "text": "cloud saw it"}, {"tool_calls": READ}],
    },
    {
        "name": "fake/onsite",
        "provider": "fake",
        "locality": "local",
        "replies": [{"when": "</tool_output>", "text": "handled on site"}, {"tool_calls": READ}],
    },
]


async def test_tool_output_with_pii_never_reaches_a_remote_model(tmp_path: Path) -> None:
    secret = "Customer: jane.roe@example.com, card 4111 1111 1111 1111, phone +1 415 555 0100"
    (tmp_path / "customer.txt").write_text(secret)
    cfg = parse_config(
        {
            "models": MODELS,
            "workloads": {"support": {"privacy": "auto", "prefer": ["fake/cloud", "fake/onsite"]}},
        }
    )
    async with Pipeline(cfg) as pipeline:
        runtime = AgentRuntime(pipeline, workload="support", root=tmp_path)
        result = await runtime.run("Summarise the customer file.")
        pipeline.flush()
        trace = load_trace(pipeline.store, result.trace_id)
        calls = recent_calls(pipeline.store, 10)
    assert trace is not None
    assert result.result == "handled on site"
    models = [s["model"] for s in trace["steps"] if s["kind"] == "model"]
    assert models == ["fake/cloud", "fake/onsite"]  # the step after the tool switched to local
    cloud_prompts = [c["prompt"] or "" for c in calls if c["model"] == "fake/cloud"]
    assert cloud_prompts
    assert not any("jane.roe" in p or "4111" in p for p in cloud_prompts)
    second = [s for s in trace["steps"] if s["kind"] == "model"][1]
    assert "fake/cloud" in json.dumps(second["route"]["excluded"])
