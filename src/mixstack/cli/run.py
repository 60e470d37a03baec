"""`mixstack run`: one prompt through the pipeline, streamed to the terminal."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from mixstack.cli.common import (
    DEFAULT_MAX_TOKENS,
    MAX_TOKENS_HELP,
    ConfigOption,
    ImageOption,
    JsonOption,
    ModelOption,
    WorkloadOption,
    load,
    note_if_cut,
    print_json,
    read_prompt,
)
from mixstack.pipeline import Pipeline
from mixstack.types import Completion, ImagePart, Request, SamplingParams

__all__ = ["run_command"]


def run_command(
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt; `-` or absent reads stdin.")
    ] = None,
    model: ModelOption = None,
    image: ImageOption = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help=MAX_TOKENS_HELP)
    ] = DEFAULT_MAX_TOKENS,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0, max=2.0)] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    workload: WorkloadOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one prompt and stream the answer."""
    text = read_prompt(prompt)
    images = tuple(ImagePart.from_path(p) for p in image or [])
    request = Request.from_prompt(
        text,
        model=model,
        system=system,
        images=images,
        workload=workload,
        params=SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed),
    )
    completion = asyncio.run(_run(request, load(config), stream_out=not as_json))
    if as_json:
        print_json(completion_json(completion))
    note_if_cut(completion.finish_reason, max_tokens)


async def _run(request: Request, config: Any, *, stream_out: bool) -> Completion:
    async with Pipeline(config) as pipeline:
        call = await pipeline.open_stream(request, front_door="cli")
        async for chunk in call:
            if stream_out and chunk.text:
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
        if stream_out:
            sys.stdout.write("\n")
            sys.stdout.flush()  # before any note on stderr
        assert call.completion is not None
        return call.completion


def completion_json(completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    return {
        "request_id": completion.request_id,
        "model": completion.model,
        "provider": completion.provider,
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "tool_calls": [c.model_dump() for c in completion.tool_calls],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cost_usd": usage.cost_usd,
        },
        "latency_ms": round(usage.latency_ms, 2),
        "ttft_ms": None if usage.ttft_ms is None else round(usage.ttft_ms, 2),
        "route": completion.route,
    }
