"""`mixstack demo`: a short guided tour on the embedded default model, no network needed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.panel import Panel

from mixstack._types import Request, SamplingParams
from mixstack.cli.common import ConfigOption, load, stdout_console
from mixstack.cli.models import models_command
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls

if TYPE_CHECKING:
    import httpx

__all__ = ["demo_command"]


Step = Callable[[Pipeline], Awaitable[None]]


async def _step_models(pipeline: Pipeline) -> None:
    stdout_console().print(
        Panel.fit("1. The catalog: open models in-process, rented ones when configured.")
    )
    models_command(config=pipeline.config.source)


async def _step_run(pipeline: Pipeline) -> None:
    stdout_console().print(
        Panel.fit("2. One prompt through the pipeline, streamed from the embedded model.")
    )
    prompt = "List three benefits of running a language model on your own computer."
    stdout_console().print(f"[bold]prompt>[/bold] {prompt}")
    request = Request.from_prompt(
        prompt, params=SamplingParams(max_tokens=80, temperature=0.0, seed=7)
    )
    call = await pipeline.open_stream(request, front_door="demo")
    stdout_console().print(f"[dim]routed to {call.model} ({call.route.reason})[/dim]")
    async for chunk in call:
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    assert call.completion is not None
    usage = call.completion.usage
    stdout_console().print(
        f"[dim]{usage.prompt_tokens}+{usage.completion_tokens} tokens, "
        f"first token after {usage.ttft_ms or 0:.0f} ms, total {usage.latency_ms:.0f} ms, "
        f"cost ${usage.cost_usd:.4f}[/dim]"
    )


async def _step_log(pipeline: Pipeline) -> None:
    stdout_console().print(
        Panel.fit("3. Every call is recorded in the local store (`mixstack logs`).")
    )
    pipeline.flush()
    row = recent_calls(pipeline.store, 1)[0]
    keys = ("request_id", "model", "locality", "endpoint", "prompt_tokens", "completion_tokens")
    for key in keys:
        stdout_console().print(f"  {key:18} {row[key]}")
    stdout_console().print(f"  {'store':18} {pipeline.store.url}")


async def _step_agent(pipeline: Pipeline) -> None:
    from mixstack.agents import AgentRuntime

    stdout_console().print(
        Panel.fit("An agent: the embedded model uses the calculator (`mixstack agent`).")
    )
    task = "What is 23 * 17?"
    stdout_console().print(f"[bold]task>[/bold] {task}")
    result = await AgentRuntime(pipeline, max_steps=4).run(task)
    for call in result.tool_calls:
        stdout_console().print(f"  tool {call.tool}({call.args}) → {call.decision}, ok={call.ok}")
    stdout_console().print(f"[bold]answer>[/bold] {result.result}")
    stdout_console().print(
        f"[dim]stopped: {result.stopped}; `mixstack trace {result.trace_id}`[/dim]"
    )


async def _step_rephrase(pipeline: Pipeline) -> None:
    from mixstack.rephrase import rephrase

    stdout_console().print(
        Panel.fit("The rephraser: a rough prompt, rewritten offline (`mixstack rephrase`).")
    )
    rough = "Analyze this screenshot and tell me what to do."
    result = rephrase(rough, pipeline=pipeline)
    stdout_console().print(f"[bold]rough>[/bold] {rough}")
    stdout_console().print(
        f"[dim]use case {result.use_case}, for {result.target_model} "
        f"({result.target_family} models get a short form with the answer's shape):[/dim]"
    )
    stdout_console().print(result.prompt, markup=False)


async def _step_eval(pipeline: Pipeline) -> None:
    import tempfile

    from mixstack.evals._evaluate import EvalSettings, evaluate_suite
    from mixstack.evals._suite import load_suite

    stdout_console().print(
        Panel.fit("An eval: a 3-case suite on the local model (`mixstack eval SUITE`).")
    )
    suite_text = (
        'name: demo-sums\ndefaults:\n  params: {max_tokens: 8, temperature: 0, stop: ["\\n"]}\n'
        "  scorers: [numeric]\ncases:\n"
        "  - {id: one, input: 'Q: What is 2 + 2?\\nA:', expected: 4}\n"
        "  - {id: two, input: 'Q: What is 3 + 5?\\nA:', expected: 8}\n"
        "  - {id: three, input: 'Q: What is 10 - 4?\\nA:', expected: 6}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.yaml"
        path.write_text(suite_text, encoding="utf-8")
        summary = await evaluate_suite(load_suite(path), pipeline, EvalSettings())
    for r in summary["runs"]:
        stdout_console().print(
            f"  {r['model']}: {r['passed']}/{r['n']} passed, 95% CI "
            f"{100 * (r['ci_low'] or 0):.0f}–{100 * (r['ci_high'] or 0):.0f}%, "
            f"{r['errors']} errors, p50 {r['latency_p50_ms'] or 0:.0f} ms"
        )
    stdout_console().print(f"[dim]results in {summary['out_dir']}[/dim]")


async def _step_route(pipeline: Pipeline) -> None:
    from mixstack._shared import shared_pipeline
    from mixstack.cli.route import show_route
    from mixstack.router import RouteRefused
    from mixstack.router._demo import demo_config

    stdout_console().print(
        Panel.fit("The router: private data stays local, and it says why (`mixstack route`).")
    )
    router = shared_pipeline(demo_config(pipeline.config)).router
    prompt = "Email jane.roe@example.org that card 4111 1111 1111 1111 was refunded."
    stdout_console().print(
        f"[bold]prompt>[/bold] {prompt}  [dim](workload support: privacy auto)[/dim]"
    )
    show_route(router.decide(Request.from_prompt(prompt, workload="support"), scan="always"))
    stdout_console().print("[bold]the same prompt, naming the rented model:[/bold]")
    try:
        router.decide(Request.from_prompt(prompt, model="rented/big"))
    except RouteRefused as exc:
        stdout_console().print(f"[red]refused (exit 3, HTTP 403):[/red] {escape(exc.message)}")


async def _step_gateway(pipeline: Pipeline) -> None:
    import httpx
    import uvicorn

    from mixstack.gateway import create_app

    stdout_console().print(
        Panel.fit(
            "The OpenAI-compatible gateway (`mixstack serve`): any OpenAI SDK, same pipeline."
        )
    )
    app = create_app(pipeline=pipeline)
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    body = {
        "model": pipeline.config.default_model,
        "messages": [{"role": "user", "content": "Say hello in French."}],
        "max_tokens": 16,
        "temperature": 0,
    }
    stdout_console().print(f"[bold]POST[/bold] http://127.0.0.1:{port}/v1/chat/completions")
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            reply = await client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
    finally:
        server.should_exit = True
        await serving
    if reply.status_code != 200:
        _print_refusal(reply)
        return
    answer = reply.json()["choices"][0]["message"]["content"]
    stdout_console().print(f"  {escape(answer.strip())}")
    for name in ("x-mixstack-request-id", "x-mixstack-model", "x-mixstack-cost"):
        stdout_console().print(f"  [dim]{name}: {reply.headers.get(name)}[/dim]")


def _print_refusal(reply: httpx.Response) -> None:
    """The gateway said no: show its OpenAI-style error instead of an answer."""
    try:
        message = str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = reply.text[:300]
    stdout_console().print(f"  [yellow]HTTP {reply.status_code}:[/yellow] {escape(message)}")
    if reply.status_code == 401:
        stdout_console().print(
            "  [dim]This home has API keys, so the gateway fails closed and the demo sends none. "
            "Call `mixstack serve` with a key from `mixstack keys create`.[/dim]"
        )


#: the tour, in order; each capability adds its own step
STEPS: list[Step] = [
    _step_models,
    _step_run,
    _step_log,
    _step_route,
    _step_agent,
    _step_rephrase,
    _step_eval,
    _step_gateway,
]


def demo_command(config: ConfigOption = None) -> None:
    """A guided tour of what works today, on the embedded default model."""
    asyncio.run(_demo(config))


async def _demo(config_path: Path | None) -> None:
    cfg = load(config_path)
    async with Pipeline(cfg) as pipeline:
        for step in STEPS:
            await step(pipeline)
    stdout_console().print(Panel.fit('Done. Try `mixstack run "your prompt"` or `mixstack chat`.'))
