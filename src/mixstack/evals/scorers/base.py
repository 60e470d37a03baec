"""What a scorer is: options validated up front, then one `Score` per model answer.

A scorer that cannot decide (a judge whose reply does not parse, a user function that raises)
raises `ScorerError`; the runner then marks the case `error`, which is counted apart from
failures and never averaged in as 0.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mixstack._types import Completion, Request
from mixstack.errors import ScorerError, SuiteError
from mixstack.evals._suite import Case

if TYPE_CHECKING:
    from mixstack.catalog import Catalog

__all__ = [
    "Options",
    "Score",
    "ScoreContext",
    "Scorer",
    "ScorerEnv",
    "ScorerError",
    "ScorerFactory",
    "expected_text",
]


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    passed: bool
    detail: str = ""

    @classmethod
    def of(cls, passed: bool, detail: str = "") -> Score:
        return cls(1.0 if passed else 0.0, passed, detail)


@dataclass(slots=True)
class ScoreContext:
    """One answer to score, with the case it answers and a way to call models (for judges)."""

    case: Case
    completion: Completion
    #: sends a request through the runner (cache, retries, pipeline); None outside a run
    call: Callable[[Request], Awaitable[Completion]] | None = None

    @property
    def output(self) -> str:
        return self.completion.text

    @property
    def expected(self) -> Any:
        return self.case.expected

    @property
    def question(self) -> str:
        """The case's input as text, for scorers that show it to a judge."""
        if self.case.input is not None:
            return self.case.input
        if self.case.messages:
            return "\n".join(m.content for m in self.case.messages if m.role == "user")
        return "\n".join(f"{k}: {v}" for k, v in self.case.vars.items())


@dataclass(slots=True)
class ScorerEnv:
    """What scorers may need while being built: where the suite lives, the catalog."""

    base_dir: Path = field(default_factory=Path.cwd)
    catalog: Catalog | None = None


class Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


OptionsT = TypeVar("OptionsT", bound=Options)


class Scorer(abc.ABC, Generic[OptionsT]):
    """Subclasses set `name` and `options_model`, and implement `check` (or `score` if async)."""

    name: ClassVar[str]
    options_model: ClassVar[type[Options]] = Options

    def __init__(self, options: OptionsT, env: ScorerEnv):
        self.options = options
        self.env = env

    @classmethod
    def build(cls, raw: dict[str, Any], env: ScorerEnv) -> Scorer[Any]:
        try:
            options = cls.options_model.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            raise SuiteError(f"scorer {cls.name}: {where}: {err['msg']}; fix its options.") from exc
        return cls(options, env)  # type: ignore[arg-type]

    async def score(self, ctx: ScoreContext) -> Score:
        return self.check(ctx)

    def check(self, ctx: ScoreContext) -> Score:
        raise ScorerError(f"scorer {self.name} has no check; implement `check` or `score`.")


class ScorerFactory(Protocol):
    def __call__(self, raw: dict[str, Any], env: ScorerEnv) -> Scorer[Any]: ...


def expected_text(value: Any, ctx: ScoreContext, scorer: str) -> str:
    """The expected value as text: the scorer's own `value` option, else the case's."""
    chosen = value if value is not None else ctx.expected
    if chosen is None:
        raise ScorerError(f"case {ctx.case.id!r} has no `expected` value for scorer {scorer}")
    return str(chosen)
