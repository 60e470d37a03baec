"""`judge`: a rubric graded by any catalog model, its reply parsed robustly.

The judge is asked for `{"score": 0-10, "reason": "…"}`. Replies that wrap the JSON in prose or
code fences, or that only say `Score: 7/10` or `PASS`, still parse; a reply that gives no score
at all raises `ScorerError`, so the case is recorded as `error`, never as 0.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from mixstack._types import Message, Request, SamplingParams
from mixstack.evals._suite import SuiteError
from mixstack.evals.scorers.base import (
    Options,
    Score,
    ScoreContext,
    Scorer,
    ScorerEnv,
    ScorerError,
)
from mixstack.evals.scorers.structured import extract_json

__all__ = ["JudgeScorer", "parse_judge_reply"]

DEFAULT_RUBRIC = "The answer is correct, complete and directly answers the question."

_SYSTEM = (
    "You grade answers against a rubric. Reply with one JSON object and nothing else: "
    '{"score": <integer from 0 to 10>, "reason": "<one short sentence>"}'
)
_SCORE = re.compile(r"(?i)\bscore\b\W{0,3}(\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?")
_RATIO = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(10|5|100)\b")
_VERDICT = re.compile(r"(?i)\b(pass|fail|correct|incorrect)\b")


def parse_judge_reply(text: str, scale: float = 10.0) -> tuple[float, str]:
    """(score in 0–1, reason) from a judge's reply; raises ScorerError when there is none."""
    value = extract_json(text)
    if isinstance(value, dict):
        raw = value.get("score", value.get("rating", value.get("grade")))
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return _clamp(float(raw) / scale), str(value.get("reason", ""))[:300]
        if isinstance(raw, str) and raw.strip().replace(".", "", 1).isdigit():
            return _clamp(float(raw) / scale), str(value.get("reason", ""))[:300]
    m = _SCORE.search(text)
    if m:
        denom = float(m.group(2)) if m.group(2) else scale
        return _clamp(float(m.group(1)) / denom), text.strip()[:300]
    m = _RATIO.search(text)
    if m:
        return _clamp(float(m.group(1)) / float(m.group(2))), text.strip()[:300]
    m = _VERDICT.search(text)
    if m:
        verdict = m.group(1).lower()
        return (1.0 if verdict in ("pass", "correct") else 0.0), text.strip()[:300]
    raise ScorerError(f"the judge's reply has no score: {text.strip()[:160]!r}")


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class JudgeOptions(Options):
    model: str
    rubric: str = DEFAULT_RUBRIC
    #: pass when the judge's score (0–1) is at least this
    threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    max_tokens: int = Field(default=160, ge=8)


class JudgeScorer(Scorer[JudgeOptions]):
    name = "judge"
    options_model = JudgeOptions

    def __init__(self, options: JudgeOptions, env: ScorerEnv):
        super().__init__(options, env)
        catalog = env.catalog
        model = options.model
        if catalog is not None and not model.startswith("workload/") and model not in catalog:
            raise SuiteError(
                f"scorer judge: model: {model!r} is not in the catalog; "
                "run `mixstack models` and pick one, or declare it in mixstack.yaml."
            )

    def _request(self, ctx: ScoreContext) -> Request:
        parts = [f"Rubric:\n{self.options.rubric}", f"Question:\n{ctx.question}"]
        if ctx.expected is not None:
            parts.append(f"Reference answer:\n{ctx.expected}")
        parts.append(f"Answer to grade:\n{ctx.output}")
        parts.append('Reply with {"score": 0-10, "reason": "…"} only.')
        return Request(
            messages=(Message.system(_SYSTEM), Message.user("\n\n".join(parts))),
            model=self.options.model,
            params=SamplingParams(temperature=0.0, max_tokens=self.options.max_tokens, seed=0),
            metadata={"role": "judge", "case": ctx.case.id},
        )

    async def score(self, ctx: ScoreContext) -> Score:
        if ctx.call is None:
            raise ScorerError("the judge needs a pipeline; run it through the eval runner")
        reply = await ctx.call(self._request(ctx))
        value, reason = parse_judge_reply(reply.text)
        return Score(value, value >= self.options.threshold, reason)

    def describe(self) -> dict[str, Any]:
        return {"model": self.options.model, "threshold": self.options.threshold}
