"""`python`: a scorer written by the user as a plain function.

    scorers:
      - python: {function: "my_scorers.py:is_polite"}     # a file next to the suite
      - python: {function: "package.module:check"}         # or an importable module

The function takes any of `output`, `expected`, `case`, `completion`, `vars` by name and
returns a bool, a number in 0–1, a dict `{score, passed, detail}`, or a `Score`; it may be async.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from mixstack.evals._suite import SuiteError
from mixstack.evals.scorers.base import (
    Options,
    Score,
    ScoreContext,
    Scorer,
    ScorerEnv,
    ScorerError,
)

__all__ = ["PythonScorer"]

_ARGS = ("output", "expected", "case", "completion", "vars")


class PythonOptions(Options):
    function: str = Field(description="`file.py:name` (relative to the suite) or `module:name`")
    #: a number at least this passes
    threshold: float = 0.5


def _load(spec: str, base_dir: Path) -> Callable[..., Any]:
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise SuiteError(f"scorer python: function: {spec!r} must look like `file.py:name`.")
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else base_dir / target
        if not path.is_file():
            raise SuiteError(f"scorer python: function: {str(path)!r} not found; fix the path.")
        module_spec = importlib.util.spec_from_file_location(f"mixstack_user_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise SuiteError(f"scorer python: cannot load {path}; give a .py file.")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise SuiteError(f"scorer python: {path} failed to import: {exc!r}; fix it.") from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise SuiteError(f"scorer python: cannot import {target!r} ({exc}); fix it.") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SuiteError(f"scorer python: {target} has no function {attr!r}; fix the name.")
    return fn  # type: ignore[no-any-return]


class PythonScorer(Scorer[PythonOptions]):
    name = "python"
    options_model = PythonOptions

    def __init__(self, options: PythonOptions, env: ScorerEnv):
        super().__init__(options, env)
        self._fn = _load(options.function, env.base_dir)
        params = inspect.signature(self._fn).parameters
        self._wants = [p for p in params if p in _ARGS]
        unknown = [p for p, v in params.items() if p not in _ARGS and v.default is v.empty]
        if unknown:
            raise SuiteError(
                f"scorer python: {options.function} asks for {unknown}; "
                f"it may take only {', '.join(_ARGS)}."
            )

    async def score(self, ctx: ScoreContext) -> Score:
        available = {
            "output": ctx.output,
            "expected": ctx.expected,
            "case": ctx.case,
            "completion": ctx.completion,
            "vars": ctx.case.vars,
        }
        try:
            result = self._fn(**{k: available[k] for k in self._wants})
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            raise ScorerError(f"{self.options.function} raised {exc!r}") from exc
        return self._as_score(result)

    def _as_score(self, result: Any) -> Score:
        if isinstance(result, Score):
            return result
        if isinstance(result, bool):
            return Score.of(result)
        if isinstance(result, int | float):
            value = float(result)
            return Score(value, value >= self.options.threshold)
        if isinstance(result, dict) and ("score" in result or "passed" in result):
            value = float(result.get("score", 1.0 if result.get("passed") else 0.0))
            passed = bool(result.get("passed", value >= self.options.threshold))
            return Score(value, passed, str(result.get("detail", "")))
        raise ScorerError(
            f"{self.options.function} returned {type(result).__name__}; "
            "return a bool, a number, a dict {score, passed} or a Score."
        )
