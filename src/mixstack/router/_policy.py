"""Hard constraints and ranking: which catalog models may take a request, and in what order.

Every check returns the reason a model is excluded (shown to users and stored), or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mixstack._tokens import CHARS_PER_TOKEN, estimate_tokens
from mixstack._types import Request, TextPart
from mixstack.catalog import ModelEntry
from mixstack.config.models import FakeModelConfig
from mixstack.config.workloads import WorkloadConfig
from mixstack.guard._pii import RequestScan, format_counts
from mixstack.router._calibration import Calibration

__all__ = [
    "BASE_MODEL_REASON",
    "RequestShape",
    "Standing",
    "Workload",
    "choice_reason",
    "cost_cap_reason",
    "estimate_tokens",
    "latency_ms",
    "latency_reason",
    "price_per_1k",
    "privacy_reason",
    "rank_key",
    "request_reason",
    "routed_reason",
    "shape_of",
    "standings",
    "static_reason",
]

#: rough tokens per character for prompts mixstack has not tokenized (English averages ~4)
_TOKENS_PER_MESSAGE = 4
_TOKENS_PER_IMAGE = 800
BASE_MODEL_REASON = "completion-only base model: used only when named explicitly"


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    config: WorkloadConfig
    #: explicit, model, rule N, default
    source: str


@dataclass(frozen=True, slots=True)
class RequestShape:
    """What the router needs to know about a request's size and needs."""

    prompt_tokens: int
    completion_tokens: int
    chars: int
    images: bool
    tools: bool
    json: bool


def shape_of(request: Request, expected_output: int) -> RequestShape:
    chars = 0
    images = 0
    for message in request.messages:
        texts = 0
        for part in message.content:
            if isinstance(part, TextPart):
                chars += len(part.text)
                texts += 1
            else:
                images += 1
        if texts > 1:
            chars += 2 * (texts - 1)  # Message.text joins its parts with blank lines
        if message.tool_calls:
            chars += sum(len(c.arguments) + len(c.name) for c in message.tool_calls)
    if request.tools:
        chars += sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    tokens = (
        -(-chars // CHARS_PER_TOKEN)
        + _TOKENS_PER_MESSAGE * len(request.messages)
        + _TOKENS_PER_IMAGE * images
    )
    return RequestShape(
        prompt_tokens=tokens,
        completion_tokens=request.params.max_tokens or expected_output,
        chars=chars,
        images=images > 0,
        tools=bool(request.tools),
        json=request.response_format.type != "text",
    )


def price_per_1k(entry: ModelEntry, shape: RequestShape) -> float:
    """USD per 1,000 tokens at this request's mix of prompt and answer tokens."""
    total = shape.prompt_tokens + shape.completion_tokens
    return entry.cost(shape.prompt_tokens, shape.completion_tokens) * 1000 / max(total, 1)


def static_reason(entry: ModelEntry, workload: Workload, offline_env: bool) -> str | None:
    """Constraints that do not depend on the request: locality, offline, declared needs."""
    cfg = workload.config
    if offline_env and entry.locality != "local":
        return f"{entry.locality}: offline mode (MIXSTACK_OFFLINE=1) allows in-process models"
    if cfg.offline and entry.locality != "local":
        return f"{entry.locality}: workload {workload.name!r} is offline"
    if cfg.privacy == "local-only" and not entry.stays_on_premises:
        return f"remote: workload {workload.name!r} is local-only"
    needs = cfg.needs
    if needs.vision and not entry.supports("vision"):
        return f"no vision: workload {workload.name!r} needs it"
    if needs.tools and not entry.supports("tools"):
        return f"no tool calling: workload {workload.name!r} needs it"
    if needs.json_output and not entry.supports("json"):
        return f"no JSON output: workload {workload.name!r} needs it"
    if needs.min_context and entry.context_window < needs.min_context:
        return (
            f"context window {entry.context_window} < {needs.min_context} "
            f"(workload {workload.name!r})"
        )
    cap = cfg.max_cost_per_1k_tokens
    cheapest = min(entry.price_input_per_1m, entry.price_output_per_1m) / 1000
    if cap is not None and cheapest > cap:
        # over the cap whatever the mix of prompt and answer tokens
        return f"costs at least ${cheapest:.6f} per 1k tokens > cap ${cap:g}"
    return None


def privacy_reason(entry: ModelEntry, workload: Workload, scan: RequestScan | None) -> str | None:
    """What the guard's findings forbid: PII never leaves under `auto`, nor unredactable PII."""
    if scan is None or not scan.found or entry.stays_on_premises:
        return None
    privacy = workload.config.privacy
    if privacy == "auto":
        return f"remote: the prompt contains PII ({format_counts(scan.counts)})"
    if privacy == "redact" and scan.unredactable:
        return (
            f"remote: PII in an image or tool definition ({format_counts(scan.unredactable)}) "
            "cannot be redacted"
        )
    return None


def routed_reason(entry: ModelEntry, workload: Workload) -> str | None:
    """Why a request that names no model never goes to `entry` in this workload: a base
    model without chat, or a model kept for other workloads (a tuned one)."""
    only = entry.config.workloads
    if only is not None and workload.name not in only:
        return f"serves only the {', '.join(only)} workload(s): used elsewhere when named"
    if "chat" not in entry.capabilities:
        return BASE_MODEL_REASON
    return None


def request_reason(
    entry: ModelEntry,
    workload: Workload,
    shape: RequestShape,
    latency: float | None,
    *,
    explicit: bool,
) -> str | None:
    """Constraints of this request: capabilities and size (unless the model was named
    explicitly: its provider then reports what it cannot do), cost and latency caps."""
    cfg = workload.config
    if not explicit:
        routed = routed_reason(entry, workload)
        if routed is not None:
            return routed
        caps = entry.capabilities
        if shape.tools and "tools" not in caps:
            return "no tool calling: the request offers tools"
        if shape.json and "json" not in caps:
            return "no JSON output: the request asks for JSON"
        if shape.prompt_tokens + shape.completion_tokens > entry.context_window:
            return (
                f"too long: ~{shape.prompt_tokens} prompt + {shape.completion_tokens} answer "
                f"tokens > context window {entry.context_window}"
            )
    cap = cfg.max_cost_per_1k_tokens
    if cap is not None:
        p_in, p_out = entry.price_input_per_1m, entry.price_output_per_1m
        if (p_in if p_in > p_out else p_out) > cap * 1000:
            total = shape.prompt_tokens + shape.completion_tokens
            price = (shape.prompt_tokens * p_in + shape.completion_tokens * p_out) / 1000 / total
            if price > cap:
                return cost_cap_reason(entry, cap)
    return latency_reason(workload, latency)


def cost_cap_reason(entry: ModelEntry, cap: float) -> str:
    """Over the cap at this request's mix of prompt and answer tokens (the same words for
    every request: the router builds this once per model, not per request)."""
    return (
        f"costs over the cap ${cap:g} per 1k tokens at this request's mix of prompt and "
        f"answer tokens (${entry.price_input_per_1m / 1000:.6f} in, "
        f"${entry.price_output_per_1m / 1000:.6f} out per 1k)"
    )


def latency_reason(workload: Workload, latency: float | None) -> str | None:
    limit = workload.config.max_latency_ms
    if limit is not None and latency is not None and latency > limit:
        return f"median latency {latency:.0f} ms > cap {limit:g} ms"
    return None


def latency_ms(entry: ModelEntry, calibration: Calibration) -> float | None:
    measured = calibration.latency_ms(entry.name)
    if measured is not None:
        return measured
    cfg = entry.config
    return (cfg.latency_ms or None) if isinstance(cfg, FakeModelConfig) else None


@dataclass(frozen=True, slots=True)
class Standing:
    """What ranking knows of a model for a workload before seeing the request."""

    position: int  # in the workload's `prefer` list (its length when absent)
    tier: int  # 0: measured at or above the quality target, 1: not measured, 2: below
    per_correct: float | None  # calibrated cost per correct answer
    latency_ms: float | None


def standings(
    entries: list[ModelEntry], workload: Workload, calibration: Calibration, target: float
) -> dict[str, Standing]:
    prefer = workload.config.prefer
    out = {}
    for entry in entries:
        quality = calibration.quality(workload.name, entry.name)
        if quality is None:
            tier, per_correct = 1, None
        else:
            tier = 0 if quality.ci_low >= target else 2
            per_correct = quality.cost_per_correct
        out[entry.name] = Standing(
            position=prefer.index(entry.name) if entry.name in prefer else len(prefer),
            tier=tier,
            per_correct=per_correct,
            latency_ms=latency_ms(entry, calibration),
        )
    return out


def rank_key(
    entry: ModelEntry, standing: Standing, cost: float
) -> tuple[int, int, float, float, float, str]:
    """Smaller is better: preference, calibrated quality tier, cost per correct, cost, latency."""
    per_correct = cost if standing.per_correct is None else standing.per_correct
    return (
        standing.position,
        standing.tier,
        per_correct,
        cost,
        standing.latency_ms or 0.0,
        entry.name,
    )


def choice_reason(
    entry: ModelEntry,
    workload: Workload,
    calibration: Calibration,
    target: float,
    cost: float,
    ranked: Sequence[ModelEntry] = (),
) -> str:
    """Why `entry` was chosen, in terms the decision's facts bear out (a test parses it back):
    a preference, a measured quality at or below the target, or no measurement at all. An
    unmeasured model ranked above measured ones is said to be unmeasured, and why."""
    prefer = workload.config.prefer
    if entry.name in prefer:
        return f"preferred (#{prefer.index(entry.name) + 1} in workload {workload.name!r})"
    quality = calibration.quality(workload.name, entry.name)
    if quality is not None and quality.ci_low >= target:
        return (
            f"meets quality target {target:g} (ci_low {quality.ci_low:.2f}), "
            "cheapest per correct answer"
        )
    measured = [
        (q.ci_low, e.name)
        for e in ranked
        if e.name != entry.name and (q := calibration.quality(workload.name, e.name)) is not None
    ]
    if quality is not None:
        return (
            f"below quality target {target:g} (ci_low {quality.ci_low:.2f}): no eligible model "
            f"meets it and none is unmeasured; cheapest per correct answer (est. ${cost:.6f})"
        )
    if not measured:
        return f"cheapest eligible, not evaluated for workload {workload.name!r} (est. ${cost:.6f})"
    best_low, best = max(measured)
    return (
        f"not evaluated for workload {workload.name!r}, ranked above {len(measured)} measured "
        f"model(s) because none meets quality target {target:g} (best: {best} ci_low "
        f"{best_low:.2f}); cheapest unmeasured eligible (est. ${cost:.6f})"
    )
