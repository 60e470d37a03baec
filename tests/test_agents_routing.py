"""An agent step is routed once: the decision that picks its tool protocol and sizes its
budget is the one the pipeline uses for the call, which neither routes nor scans again."""

from __future__ import annotations

import json
from typing import Any

from mixstack.agents import AgentRuntime, function_tool
from mixstack.config import Config, parse_config
from mixstack.guard import PiiSpan
from mixstack.guard._normalize import GuardScanner
from mixstack.pipeline import Pipeline
from mixstack.router import RouteDecision, Router
from mixstack.store import recent_calls
from mixstack.types import Request

COUNTER = [{"name": "counter", "arguments": {}}]


class CountingScanner(GuardScanner):
    """The guard's scanner, counting the texts it is asked to scan (patterns only: the
    entity model is not needed to count)."""

    def __init__(self) -> None:
        super().__init__(people=False)
        self.scans = 0

    def scan(self, text: str, *, model: bool = True) -> list[PiiSpan]:
        self.scans += 1
        return super().scan(text, model=model)


class CountingRouter(Router):
    """The pipeline's router, keeping each decision it makes and the scans made in it."""

    def __init__(self, config: Config, pipeline: Pipeline, scanner: CountingScanner):
        super().__init__(config, pipeline.catalog, scanner=scanner)
        self.counting = scanner
        self.decisions: list[tuple[Request, RouteDecision, int]] = []

    def decide(self, request: Request, **options: Any) -> RouteDecision:
        before = self.counting.scans
        decision = super().decide(request, **options)
        self.decisions.append((request, decision, self.counting.scans - before))
        return decision


def _counting(cfg: Config, pipeline: Pipeline) -> tuple[CountingRouter, CountingScanner]:
    scanner = CountingScanner()
    router = CountingRouter(cfg, pipeline, scanner)
    pipeline.router = router
    return router, scanner


def _counter_tool() -> Any:
    count = {"n": 0}

    @function_tool(read_only=True, open_world=False)
    def counter() -> str:
        """Counts one up."""
        count["n"] += 1
        return f"count {count['n']}"

    return counter


async def test_an_eight_call_run_makes_one_decision_per_model_call() -> None:
    # a remote model under `auto` privacy: every decision scans what would leave
    looper = {"name": "fake/looper", "provider": "fake", "locality": "remote", "replies": []}
    looper["replies"] = [{"tool_calls": COUNTER}]
    cfg = parse_config({"models": [looper], "workloads": {"w": {"privacy": "auto"}}})
    async with Pipeline(cfg) as pipeline:
        router, scanner = _counting(cfg, pipeline)
        runtime = AgentRuntime(pipeline, workload="w", max_steps=8, tools=[_counter_tool()])
        result = await runtime.run("Count up, please.")
        pipeline.flush()
        calls = recent_calls(pipeline.store, 20)
    assert result.stopped == "max_steps"
    model_calls = [c for c in calls if c["front_door"] == "agent"]
    assert len(model_calls) == 8
    assert len(router.decisions) == 8  # was 24: the mode probe, the budget fit, the call
    # every text the guard read was read inside one of those decisions, and each read some
    assert scanner.scans == sum(scans for _, _, scans in router.decisions)
    assert all(scans > 0 for _, _, scans in router.decisions)
    # each logged call carries the decision made for it, as it was made
    logged = sorted(model_calls, key=lambda c: c["created_at"])
    for call, (_, decision, _) in zip(logged, router.decisions, strict=True):
        assert json.loads(call["route"]) == decision.to_json()


async def test_a_text_protocol_step_is_routed_once_in_its_form() -> None:
    # no native tools and no grammar: every turn goes out with the protocol's stop sequences
    text = {
        "name": "fake/text",
        "provider": "fake",
        "locality": "remote",
        "capabilities": ["chat"],
        "replies": [{"text": '{"tool": "counter", "arguments": {}}'}],
    }
    cfg = parse_config({"models": [text]})
    async with Pipeline(cfg) as pipeline:
        router, scanner = _counting(cfg, pipeline)
        runtime = AgentRuntime(pipeline, model="fake/text", max_steps=3, tools=[_counter_tool()])
        result = await runtime.run("Count up, please.")
    assert result.stopped == "max_steps"
    assert len(router.decisions) == 3  # was 9: the plain turn, the budget fit, the call
    assert all(request.params.stop for request, _, _ in router.decisions)
    assert scanner.scans == sum(scans for _, _, scans in router.decisions)


async def test_a_refused_step_is_recorded_once_and_stops_the_run() -> None:
    # the model has a grammar, but a refused turn takes the form of a turn with no model
    cloud = {"name": "fake/cloud", "provider": "fake", "locality": "remote", "replies": []}
    cloud["replies"] = [{"text": "never sent"}]
    cfg = parse_config({"models": [cloud], "workloads": {"w": {"privacy": "auto"}}})
    async with Pipeline(cfg) as pipeline:
        _counting(cfg, pipeline)
        runtime = AgentRuntime(pipeline, model="fake/cloud", workload="w", max_steps=3)
        result = await runtime.run(
            "Write to jane.roe@example.com about her card 4111 1111 1111 1111."
        )
        pipeline.flush()
        calls = recent_calls(pipeline.store, 20)
    assert result.stopped == "refused"
    refused = [c for c in calls if c["front_door"] == "agent"]
    assert len(refused) == 1
    assert refused[0]["error_type"] == "policy_violation"
    assert "EMAIL_ADDRESS" in refused[0]["pii"]
    # the turn recorded is the one sent before: stop sequences, as for a model refused
    assert json.loads(refused[0]["route"])["shape"]["json"] is False
