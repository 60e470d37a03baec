"""Eval suites: a YAML file with defaults, prompt variants, models and cases (inline or a file).

    name: arithmetic
    workload: math                # the workload these results calibrate (default: default)
    models: [local/smollm2-135m-instruct, local/gemma3-270m]
    defaults:
      system: Answer with the number only.
      params: {max_tokens: 24, temperature: 0}
      scorers: [numeric]
    variants:                     # optional; each is a template over the case's fields
      rough: "{{ question }}"
      rephrased: "Solve step by step, then give the number.\n{{ question }}"
    cases:                        # or `cases_file: cases.jsonl` (or .csv)
      - id: add
        vars: {question: "What is 2 + 3?"}
        expected: 5

Cases from a file are read lazily, so a suite of any size is never held in memory. Every error
names the file, the line or case id, and the field.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import from_json

from mixstack._types import ImagePart, Message, Request, ResponseFormat, SamplingParams, Tool
from mixstack.errors import InvalidRequestError, SuiteError

__all__ = [
    "Case",
    "EvalItem",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "Variant",
    "load_suite",
]

DEFAULT_VARIANT = "default"
DEFAULT_WORKLOAD = "default"


# -- values -------------------------------------------------------------------------------


class ScorerSpec(BaseModel):
    """One scorer with its options: `exact`, `{numeric: {tolerance: 0.01}}` or `{type: …}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    options: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> ScorerSpec:
        if isinstance(value, ScorerSpec):
            return value
        if isinstance(value, str) and value.strip():
            return cls(type=value.strip())
        if isinstance(value, Mapping):
            if "type" in value:
                options = {k: v for k, v in value.items() if k != "type"}
                return cls(type=str(value["type"]), options=options)
            if len(value) == 1:
                ((name, options),) = value.items()
                if options is None:
                    options = {}
                if not isinstance(options, Mapping):
                    options = {"value": options}
                return cls(type=str(name), options=dict(options))
        raise ValueError(
            "a scorer is a name (`exact`), a one-key mapping (`numeric: {tolerance: 0.1}`) "
            "or a mapping with `type:`"
        )

    def key(self) -> str:
        return json.dumps({"type": self.type, "options": self.options}, sort_keys=True)


def _parse_scorers(value: Any) -> list[ScorerSpec]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [ScorerSpec.parse(item) for item in items]


class _Fields(BaseModel):
    """What a case and the suite defaults can both set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str | None = None
    params: SamplingParams | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    scorers: list[ScorerSpec] | None = None

    @field_validator("scorers", mode="before")
    @classmethod
    def _scorers(cls, value: Any) -> list[ScorerSpec] | None:
        return None if value is None else _parse_scorers(value)


class Defaults(_Fields):
    pass


class CaseMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = Field(pattern="^(system|user|assistant)$")
    content: str
    images: list[str] = Field(default_factory=list)


class Case(_Fields):
    """One task. Unknown fields are kept (see `extra`) and usable in templates."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    input: str | None = None
    messages: list[CaseMessage] | None = None
    images: list[str] = Field(default_factory=list)
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    #: where the case came from, for errors: `file:line`
    origin: str = Field(default="", exclude=True)

    @property
    def extra(self) -> dict[str, Any]:
        """Free-form fields of the case (e.g. `context`, `needle`, `category`)."""
        return dict(self.model_extra or {})

    def template_vars(self) -> dict[str, Any]:
        values: dict[str, Any] = {**self.extra, **self.vars}
        values.setdefault("input", self.input)
        values.setdefault("expected", self.expected)
        values.setdefault("id", self.id)
        return values


class Variant(BaseModel):
    """A way of prompting: a template for the user message and optionally the system prompt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = DEFAULT_VARIANT
    prompt: str | None = None
    system: str | None = None
    #: sampling parameters this way of prompting needs (e.g. a stop string for a few-shot frame)
    params: SamplingParams | None = None


class SuiteFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    description: str = ""
    workload: str = DEFAULT_WORKLOAD
    models: list[str] = Field(default_factory=list)
    defaults: Defaults = Defaults()
    variants: dict[str, Variant] = Field(default_factory=dict)
    cases: list[Any] | None = None
    cases_file: str | None = None

    @field_validator("variants", mode="before")
    @classmethod
    def _variants(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for name, body in value.items():
            if isinstance(body, str):
                out[str(name)] = {"name": str(name), "prompt": body}
            elif isinstance(body, Mapping):
                out[str(name)] = {"name": str(name), **body}
            else:
                out[str(name)] = body
        return out

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class EvalItem:
    """One request to evaluate: a case prompted one way. The runner sends it to each model.

    Items from `Suite.items` build their request when it is first asked for: a cached answer
    whose key is already known (see `evals.cache.PreparedKeys`) never needs it.
    """

    __slots__ = ("_build", "_request", "case", "variant")

    def __init__(
        self,
        case: Case,
        request: Request | None = None,
        variant: str = DEFAULT_VARIANT,
        *,
        build: Callable[[], Request] | None = None,
    ):
        if request is None and build is None:
            raise TypeError("EvalItem needs a request or a way to build it")
        self.case = case
        self.variant = variant
        self._request = request
        self._build = build

    @property
    def request(self) -> Request:
        if self._request is None:
            assert self._build is not None
            self._request = self._build()
            self._build = None
        return self._request

    def __repr__(self) -> str:
        return f"EvalItem(case={self.case.id!r}, variant={self.variant!r})"


# -- YAML with line numbers ---------------------------------------------------------------


class _LineDict(dict[str, Any]):
    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict(loader.construct_pairs(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _layered(*layers: SamplingParams | None) -> SamplingParams:
    """Suite defaults, then the variant's, then the case's: each sets only what it names."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            merged.update(layer.model_dump(exclude_unset=True))
    return SamplingParams(**merged)


def _jinja() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, cache_size=64)


class _Template:
    """A compiled prompt template.

    One made only of text and `{{ name }}` (the common case) is filled in directly, as Jinja
    would (`str(value)`, no escaping): Jinja's per-render setup was most of the cost of
    building a request. Anything else, or a name the values lack, renders through Jinja.
    """

    __slots__ = ("jinja", "pieces")

    def __init__(self, env: jinja2.Environment, source: str):
        self.jinja = env.from_string(source)
        self.pieces = _plain_pieces(env.parse(source))

    def render(self, values: Mapping[str, Any]) -> str:
        if self.pieces is None:
            return self.jinja.render(values)
        out: list[str] = []
        for text, name in self.pieces:
            if name is None:
                out.append(text)
            elif name in values:
                out.append(str(values[name]))
            else:  # undefined (StrictUndefined raises) or one of Jinja's globals
                return self.jinja.render(values)
        return "".join(out)


def _plain_pieces(tree: jinja2.nodes.Template) -> list[tuple[str, str | None]] | None:
    """`[(text, None) | ("", name)]` when the template is only text and plain names."""
    pieces: list[tuple[str, str | None]] = []
    for output in tree.body:
        if not isinstance(output, jinja2.nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, jinja2.nodes.TemplateData):
                pieces.append((node.data, None))
            elif isinstance(node, jinja2.nodes.Name) and node.ctx == "load":
                pieces.append(("", node.name))
            else:
                return None
    return pieces


# -- the suite ----------------------------------------------------------------------------


@dataclass
class Suite:
    """An eval suite: defaults, prompt variants, models to compare and the cases."""

    path: Path
    spec: SuiteFile
    _env: jinja2.Environment = field(repr=False, default_factory=_jinja)
    _compiled: dict[str, _Template] = field(repr=False, default_factory=dict)
    #: what every case without its own params/tools/format shares, built once (per variant)
    _shared_params: dict[Variant, SamplingParams] = field(repr=False, default_factory=dict)
    _shared_tools: tuple[Tool, ...] | None = field(repr=False, default=None)
    _shared_format: ResponseFormat | None = field(repr=False, default=None)

    @property
    def name(self) -> str:
        return self.spec.name or self.path.stem

    @property
    def workload(self) -> str:
        return self.spec.workload

    @property
    def models(self) -> list[str]:
        return list(self.spec.models)

    @property
    def variants(self) -> list[Variant]:
        return list(self.spec.variants.values()) or [Variant()]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def cases_path(self) -> Path | None:
        if self.spec.cases_file is None:
            return None
        return (self.base_dir / self.spec.cases_file).resolve()

    def fingerprint(self) -> str:
        """Changes whenever the suite file or its case file changes (used to resume runs)."""
        digest = hashlib.sha256(self.path.read_bytes())
        if self.cases_path is not None:
            with self.cases_path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()[:16]

    # -- cases ----------------------------------------------------------------------------

    def iter_cases(self) -> Iterator[Case]:
        """Every case, validated, in file order; a file of cases is streamed."""
        seen: set[str] = set()
        for origin, index, raw in self._raw_cases():
            case = self._case(origin, index, raw)
            if case.id in seen:
                raise SuiteError(
                    f"{origin}: case {case.id!r}: id: duplicate case id; make it unique."
                )
            seen.add(case.id)
            yield case

    def _raw_cases(self) -> Iterator[tuple[str, int, Any]]:
        if self.spec.cases is not None:
            for index, raw in enumerate(self.spec.cases):
                line = raw.line if isinstance(raw, _LineDict) else 0
                yield f"{self.path}:{line}" if line else str(self.path), index, raw
            return
        path = self.cases_path
        assert path is not None
        if path.suffix.lower() == ".csv":
            yield from _csv_cases(path)
        else:
            yield from _jsonl_cases(path)

    def _case(self, origin: str, index: int, raw: Any) -> Case:
        if not isinstance(raw, Mapping):
            raise SuiteError(
                f"{origin}: case #{index + 1}: must be a mapping with `id`, `input`, …"
            )
        data = dict(raw)
        data.setdefault("id", str(index + 1))
        if not isinstance(data["id"], str | int):
            raise SuiteError(f"{origin}: case #{index + 1}: id: must be a string or a number.")
        data["id"] = str(data["id"])
        data["origin"] = origin
        try:
            case = Case.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "<case>"
            raise SuiteError(
                f"{origin}: case {data['id']!r}: {where}: {err['msg']}; fix this field."
            ) from exc
        if case.input is None and case.messages is None and not self.spec.variants:
            raise SuiteError(
                f"{origin}: case {case.id!r}: input: missing; give `input`, `messages`, "
                "or declare `variants:` in the suite."
            )
        return case

    def scorers_for(self, case: Case) -> list[ScorerSpec]:
        if case.scorers is not None:
            return case.scorers
        return self.spec.defaults.scorers or []

    # -- requests -------------------------------------------------------------------------

    def items(
        self, cases: Iterator[Case] | None = None, *, defer: bool = False
    ) -> Iterator[EvalItem]:
        """One `EvalItem` per case and variant, as the cases are read.

        With `defer`, an item's request is built only when asked for (for a checked suite:
        see `check_suite`); otherwise at once, so that a template error raises here.
        """
        variants = self.variants
        for case in cases if cases is not None else self.iter_cases():
            for variant in variants:
                if defer:
                    build = partial(self.build_request, case, variant)
                    yield EvalItem(case, variant=variant.name, build=build)
                else:
                    yield EvalItem(case, self.build_request(case, variant), variant.name)

    def build_request(self, case: Case, variant: Variant | None = None) -> Request:
        """The request for a case, prompted by `variant`; the runner fills in the model."""
        variant = variant or self.variants[0]
        values = case.template_vars()
        messages: list[Message] = []
        system = variant.system if variant.system is not None else None
        if system is None:
            system = case.system if case.system is not None else self.spec.defaults.system
        if system:
            messages.append(Message.system(self._render(system, values, case, "system")))
        if variant.prompt is not None:
            text = self._render(variant.prompt, values, case, f"variants.{variant.name}")
            messages.append(Message.user(text, *self._images(case, case.images)))
        elif case.messages is not None:
            for i, msg in enumerate(case.messages):
                text = self._render(msg.content, values, case, f"messages[{i}].content")
                if msg.role == "system":
                    messages.append(Message.system(text))
                elif msg.role == "assistant":
                    messages.append(Message.assistant(text))
                else:
                    messages.append(Message.user(text, *self._images(case, msg.images)))
        else:
            assert case.input is not None
            text = self._render(case.input, values, case, "input")
            messages.append(Message.user(text, *self._images(case, case.images)))
        defaults = self.spec.defaults
        return Request(
            messages=tuple(messages),
            workload=None,
            tools=tuple(case.tools) if case.tools is not None else self._tools(),
            tool_choice=case.tool_choice if case.tool_choice is not None else defaults.tool_choice,
            params=self._params(variant, case),
            response_format=case.response_format or self._format(),
            metadata={"suite": self.name, "case": case.id, "variant": variant.name},
        )

    # the same objects for every case that does not set its own: cheaper to build, and the
    # cache key serializes a shared object once (see `RequestKeys`)

    def _params(self, variant: Variant, case: Case) -> SamplingParams:
        if case.params is not None:
            return _layered(self.spec.defaults.params, variant.params, case.params)
        params = self._shared_params.get(variant)
        if params is None:
            params = _layered(self.spec.defaults.params, variant.params)
            self._shared_params[variant] = params
        return params

    def _tools(self) -> tuple[Tool, ...]:
        if self._shared_tools is None:
            self._shared_tools = tuple(self.spec.defaults.tools or ())
        return self._shared_tools

    def _format(self) -> ResponseFormat:
        if self._shared_format is None:
            self._shared_format = self.spec.defaults.response_format or ResponseFormat()
        return self._shared_format

    def _render(self, template: str, values: dict[str, Any], case: Case, where: str) -> str:
        if "{{" not in template and "{%" not in template:
            return template
        try:
            compiled = self._compiled.get(template)
            if compiled is None:
                if len(self._compiled) > 256:  # per-case templates: do not grow without bound
                    self._compiled.clear()
                compiled = self._compiled[template] = _Template(self._env, template)
            return compiled.render(values)
        except jinja2.TemplateError as exc:
            raise SuiteError(
                f"{case.origin}: case {case.id!r}: {where}: template error: {exc}; "
                "define the variable in the case's `vars` or fix the template."
            ) from exc

    def _images(self, case: Case, paths: list[str]) -> list[ImagePart]:
        out = []
        for raw in paths:
            path = Path(raw) if Path(raw).is_absolute() else self.base_dir / raw
            try:
                out.append(ImagePart.from_path(path))
            except InvalidRequestError as exc:
                raise SuiteError(f"{case.origin}: case {case.id!r}: images: {exc.message}") from exc
        return out


def _jsonl_cases(path: Path) -> Iterator[tuple[str, int, Any]]:
    index = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = from_json(line)  # pydantic's parser: several times faster than `json`
            except ValueError:
                raw = _json_line(path, lineno, line)
            yield f"{path}:{lineno}", index, raw
            index += 1


def _json_line(path: Path, lineno: int, line: str) -> Any:
    """Parse again with `json`, whose errors name the column, and report where it fails."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
            "write one JSON object per line."
        ) from exc


def _csv_cases(path: Path) -> Iterator[tuple[str, int, Any]]:
    """CSV columns `id`, `input`, `expected`, `system`; every other column becomes a var."""
    known = {"id", "input", "expected", "system"}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            return
        for index, row in enumerate(reader):
            origin = f"{path}:{reader.line_num}"
            if None in row:
                raise SuiteError(f"{origin}: more cells than the header has columns; fix the row.")
            case: dict[str, Any] = {k: v for k, v in row.items() if k in known and v != ""}
            case["vars"] = {k: v for k, v in row.items() if k not in known}
            yield origin, index, case


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file (not yet its cases: see `Suite.iter_cases`)."""
    file = Path(path)
    if not file.is_file():
        raise SuiteError(f"suite file {str(file)!r} not found; pass the path of a suite YAML file.")
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{where}: invalid YAML ({problem}); fix the syntax.") from exc
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{file}: not UTF-8 text; save the suite as UTF-8.") from exc
    if not isinstance(data, Mapping):
        raise SuiteError(f"{file}: the top level must be a mapping (name:, cases:, …).")
    try:
        spec = SuiteFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        where = ".".join(str(p) for p in loc) or "<root>"
        line = _line_of(data, loc)
        prefix = f"{file}:{line}" if line else str(file)
        raise SuiteError(f"{prefix}: {where}: {err['msg']}; fix this field.") from exc
    if (spec.cases is None) == (spec.cases_file is None):
        raise SuiteError(f"{file}: cases: give exactly one of `cases:` (inline) or `cases_file:`.")
    suite = Suite(file.resolve(), spec)
    cases_path = suite.cases_path
    if cases_path is not None:
        if not cases_path.is_file():
            raise SuiteError(
                f"{file}: cases_file: {str(cases_path)!r} not found; fix the path "
                "(relative to the suite file)."
            )
        if cases_path.suffix.lower() not in (".jsonl", ".csv", ".json"):
            raise SuiteError(f"{file}: cases_file: use a .jsonl or .csv file of cases.")
    return suite


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int:
    line = data.line if isinstance(data, _LineDict) else 0
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, _LineDict):
            line = node.line
    return line
