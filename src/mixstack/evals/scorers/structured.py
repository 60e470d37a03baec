"""Structured answers: `json_valid`, `json_schema`, `json_fields`, `tool_call`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from mixstack.evals._suite import SuiteError
from mixstack.evals.scorers.base import Options, Score, ScoreContext, Scorer, ScorerEnv

__all__ = [
    "JsonFieldsScorer",
    "JsonSchemaScorer",
    "JsonValidScorer",
    "ToolCallScorer",
    "extract_json",
]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_MISSING = object()


def extract_json(text: str) -> Any:
    """The JSON value in an answer: the whole text, a fenced block, or the first {…}/[…]."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                return decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue
    return _MISSING


class JsonValidScorer(Scorer[Options]):
    """The answer is (or contains) valid JSON."""

    name = "json_valid"

    def check(self, ctx: ScoreContext) -> Score:
        found = extract_json(ctx.output) is not _MISSING
        return Score.of(found, "" if found else "no JSON in the answer")


class JsonSchemaOptions(Options):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = None


class JsonSchemaScorer(Scorer[JsonSchemaOptions]):
    """The JSON in the answer validates against `schema` (inline) or `schema_file`."""

    name = "json_schema"
    options_model = JsonSchemaOptions

    def __init__(self, options: JsonSchemaOptions, env: ScorerEnv):
        super().__init__(options, env)
        import jsonschema

        schema = options.schema_
        if options.schema_file is not None:
            path = Path(options.schema_file)
            path = path if path.is_absolute() else env.base_dir / path
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise SuiteError(
                    f"scorer json_schema: schema_file: cannot read {str(path)!r} ({exc}); "
                    "fix the path or the JSON."
                ) from exc
        if schema is None:
            raise SuiteError("scorer json_schema: schema: missing; give `schema` or `schema_file`.")
        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise SuiteError(
                f"scorer json_schema: schema is invalid ({exc.message}); fix it."
            ) from exc
        self._validator = cls(schema)

    def check(self, ctx: ScoreContext) -> Score:
        value = extract_json(ctx.output)
        if value is _MISSING:
            return Score(0.0, False, "no JSON in the answer")
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "<root>"
            return Score(0.0, False, f"{where}: {first.message[:120]}")
        return Score.of(True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return bool(a == b)


class JsonFieldsOptions(Options):
    value: dict[str, Any] | None = None


class JsonFieldsScorer(Scorer[JsonFieldsOptions]):
    """Each expected field has the expected value in the answer's JSON (score = share right)."""

    name = "json_fields"
    options_model = JsonFieldsOptions

    def check(self, ctx: ScoreContext) -> Score:
        want = self.options.value if self.options.value is not None else ctx.expected
        if not isinstance(want, dict) or not want:
            raise SuiteError(f"case {ctx.case.id!r}: json_fields: `expected` must be an object")
        got = extract_json(ctx.output)
        if not isinstance(got, dict):
            return Score(0.0, False, "no JSON object in the answer")
        wrong = [k for k, v in want.items() if not _same(got.get(k, _MISSING), v)]
        right = len(want) - len(wrong)
        return Score(right / len(want), not wrong, f"wrong: {wrong}" if wrong else "")


class ToolCallOptions(Options):
    name: str | None = None
    arguments: dict[str, Any] | None = None


class ToolCallScorer(Scorer[ToolCallOptions]):
    """The model called the expected tool with (at least) the expected arguments.

    Score 1 for the right tool and arguments, 0.5 for the right tool with other arguments.
    """

    name = "tool_call"
    options_model = ToolCallOptions

    def check(self, ctx: ScoreContext) -> Score:
        want_name, want_args = self.options.name, self.options.arguments
        if isinstance(ctx.expected, dict):
            want_name = want_name or ctx.expected.get("name")
            if want_args is None:
                want_args = ctx.expected.get("arguments")
        if not want_name:
            raise SuiteError(
                f"case {ctx.case.id!r}: tool_call: no expected tool; set `expected: "
                "{name: …, arguments: {…}}` or the scorer's `name`."
            )
        calls = ctx.completion.tool_calls
        named = [c for c in calls if c.name == want_name]
        if not named:
            seen = [c.name for c in calls]
            return Score(0.0, False, f"called {seen}" if seen else "no tool call")
        for call in named:
            try:
                args = call.parsed_arguments()
            except (ValueError, json.JSONDecodeError):
                continue
            if all(_same(args.get(k, _MISSING), v) for k, v in (want_args or {}).items()):
                return Score.of(True)
        return Score(0.5, False, f"arguments {named[0].arguments[:120]}")
