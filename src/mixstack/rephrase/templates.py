"""Templates per use case: which slots matter, what to add when the user left them out.

A template turns an `Analysis` (the user's verbatim pieces) into a `PromptSpec`. The built-in
templates register through the `mixstack.rephrase_templates` entry-point group exactly as a
plugin's would; a plugin subclasses `UseCaseTemplate` and overrides `fill`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from mixstack.rephrase._analyze import Analysis
from mixstack.rephrase._spec import PromptSpec, Source

__all__ = [
    "AGENT",
    "CHAT",
    "CODE",
    "IMAGE",
    "JSON",
    "FieldRule",
    "TemplateInput",
    "UseCaseTemplate",
]

_UNSURE = re.compile(r"\b(unsure|uncertain\w*|not sure|don't know|do not know|confidence)\b")
_ONLY_CODE = re.compile(r"\b(only (?:the )?code|code only|no explanations?|just the code)\b")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One slot of a use case: found in the prompt by `pattern`, else asked for or defaulted."""

    name: str
    pattern: re.Pattern[str] | None = None
    question: str = ""


@dataclass(frozen=True, slots=True)
class TemplateInput:
    analysis: Analysis
    schema: dict[str, Any] | None = None
    tools: tuple[str, ...] = ()


class UseCaseTemplate:
    """The shared shape; subclasses set the texts and override `fill` for their own slots."""

    name: ClassVar[str]
    description: ClassVar[str]
    role: ClassVar[str]
    output_format: ClassVar[str]
    answer_parts: ClassVar[tuple[str, ...]] = ()
    constraints: ClassVar[tuple[str, ...]] = ()
    steps: ClassVar[tuple[str, ...]] = ()
    uncertainty: ClassVar[str]
    #: the uncertainty instruction in a few words, for small models
    uncertainty_short: ClassVar[str] = "If you are not sure, say so."
    #: the form of the answer (labels and placeholders), shown to small models
    example: ClassVar[str] = ""
    fields: ClassVar[tuple[FieldRule, ...]] = ()

    def found(self, given: TemplateInput) -> dict[str, str]:
        """The use case's slots the user filled: name → the matching words."""
        text = given.analysis.lowered
        out: dict[str, str] = {}
        for rule in self.fields:
            if rule.pattern is None:
                continue
            match = rule.pattern.search(text)
            if match:
                out[rule.name] = match.group(0)
        return out

    def build(self, given: TemplateInput) -> PromptSpec:
        a = given.analysis
        found = self.found(given)
        user_unsure = bool(_UNSURE.search(a.lowered))
        sources: dict[str, Source] = {
            "role": "user" if a.role else "template",
            "task": "user",
            "context": "user",
            "constraints": "user" if a.constraints else "template",
            "steps": "user" if a.steps else "template",
            "output_format": "user" if (a.output_format or a.format_in_task) else "template",
            "uncertainty": "user" if user_unsure else "template",
        }
        spec = PromptSpec(
            use_case=self.name,
            role=a.role or self.role,
            task=a.task,
            context=a.context,
            constraints=(*a.constraints, *self.constraints),
            generic=self.constraints,
            steps=a.steps or self.steps,
            output_format=a.output_format or self.output_format,
            answer_parts=self.answer_parts,
            uncertainty=self.uncertainty,
            uncertainty_short=self.uncertainty_short,
            example=self.example,
            sources=sources,
            fields={
                r.name: "user" if r.name in found else ("missing" if r.question else "template")
                for r in self.fields
            },
            questions=tuple(r.question for r in self.fields if r.question and r.name not in found),
        )
        return self.fill(spec, given, found)

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        """Use-case specific adjustments; the default keeps the spec as built."""
        return spec


def _rx(pattern: str) -> re.Pattern[str]:
    # patterns run on lower-cased text: `re.I` would disable the regex engine's fast scan
    return re.compile(pattern)


# -- image -------------------------------------------------------------------------------

_ACTION_COUNT = _rx(
    r"\b(?:next|top|first)?\s*(\d{1,2}|three|two|five)\s+(?:actions|steps|things)\b"
)


class ImageTemplate(UseCaseTemplate):
    name = "image"
    description = "screenshots, photos, diagrams: what is shown and what to do next"
    role = "You are a product support specialist who reads screenshots carefully."
    output_format = "Answer in four labelled parts, in this order."
    answer_parts = (
        "UI state: what the screen shows (app, page, dialog, any error text quoted exactly)",
        "User goal: what the user is most likely trying to do",
        "Blocking issue: what stops them",
        "Next actions: the next {n} actions, in order",
    )
    uncertainty = (
        "If part of the image is unreadable or you are uncertain, state the uncertainty "
        "explicitly and say what would settle it; never guess text you cannot read."
    )
    uncertainty_short = "If uncertain, state the uncertainty explicitly."
    example = (
        "UI state: <what the screen shows>\n"
        "User goal: <what the user wants to do>\n"
        "Blocking issue: <what stops them>\n"
        "Next actions: <the next {n} actions, in order>"
    )
    fields = (
        FieldRule("image", question="Attach the image when you send this prompt."),
        FieldRule(
            "user_goal",
            _rx(r"\b(trying to|want(?:ed)? to|need to|so that|in order to|my goal|i was)\b"),
            "Which app is this, and what were you trying to do?",
        ),
        FieldRule("ui_state"),
        FieldRule("blocking_issue"),
        FieldRule("next_actions", _ACTION_COUNT),
    )

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        count = _ACTION_COUNT.search(given.analysis.lowered)
        n = count.group(1) if count else "3"
        parts = tuple(p.replace("{n}", n) for p in spec.answer_parts)
        example = spec.example.replace("{n}", n)
        fields = dict(spec.fields)
        questions = spec.questions
        if given.analysis.has_image:
            fields["image"] = "user"
            questions = tuple(q for q in questions if not q.startswith("Attach the image"))
        return replace(
            spec, answer_parts=parts, fields=fields, questions=questions, example=example
        )


# -- code --------------------------------------------------------------------------------

_LANGUAGES = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "java": "Java",
    "golang": "Go",
    "go": "Go",
    "rust": "Rust",
    "c++": "C++",
    "cpp": "C++",
    "c#": "C#",
    "ruby": "Ruby",
    "php": "PHP",
    "kotlin": "Kotlin",
    "swift": "Swift",
    "sql": "SQL",
    "bash": "Bash",
    "shell": "shell",
    "sh": "shell",
    "js": "JavaScript",
    "ts": "TypeScript",
    "py": "Python",
    "c": "C",
    "r": "R",
    "scala": "Scala",
    "haskell": "Haskell",
    "html": "HTML",
    "css": "CSS",
}
_LANGUAGE_WORD = re.compile(
    r"\b(python|javascript|typescript|java|golang|rust|ruby|php|kotlin|swift|sql|bash|scala|"
    r"haskell|html|css)\b|(?<![\w+#])(c\+\+|c#)(?![\w+#])"
)
# `Go`, `C` and `R` count only when capitalised (`go` is also a verb)
_CAPITAL_LANGUAGE = re.compile(r"\b(Go|C|R)\b(?![\w+#&-])")
_WRITING = _rx(r"\b(write|implement|create|build|generate|make|add|code up)\b")
_FENCE_TAG = re.compile(r"```([\w+#-]{1,20})")


def _language(given: TemplateInput) -> str | None:
    a = given.analysis
    match = _LANGUAGE_WORD.search(a.lowered) or _CAPITAL_LANGUAGE.search(a.instruction_text)
    if match:
        return _LANGUAGES[match.group(0).lower()]
    for block in a.context:
        tag = _FENCE_TAG.match(block)
        if tag and tag.group(1).lower() in _LANGUAGES:
            return _LANGUAGES[tag.group(1).lower()]
    return None


class CodeTemplate(UseCaseTemplate):
    name = "code"
    description = "writing, fixing or explaining code"
    role = "You are an experienced software engineer."
    output_format = "Answer in this order."
    answer_parts = (
        "The code in one fenced block",
        "A short explanation of the approach",
        "Tests or edge cases that show it works (empty input, invalid input, limits)",
    )
    constraints = ("Keep every name, value and code span from the request exactly as written.",)
    steps = (
        "Restate the inputs and the expected output.",
        "Write the code.",
        "Check it against the edge cases before answering.",
    )
    uncertainty = (
        "If something is ambiguous (inputs, versions, libraries), state the assumption you make "
        "before the code. If you are unsure an API exists, say so instead of inventing it."
    )
    uncertainty_short = "If something is unclear, state your assumption."
    example = "```\n<the code>\n```\nExplanation: <one sentence>\nTests: <two example calls>"
    fields = (
        FieldRule("language", question="Which programming language (and version) should it use?"),
        FieldRule(
            "inputs_outputs",
            _rx(
                r"\b(takes?|accepts?|given|inputs?|returns?|outputs?|signature|arguments?|"
                r"parameters?|prints?)\b|->"
            ),
            "What are the inputs and the expected output (types, one example)?",
        ),
        FieldRule("constraints", _rx(r"\b(must|should|without|only|at most|limit|avoid)\b")),
        FieldRule("tests", _rx(r"\b(tests?|edge cases?|pytest|unittest|jest|assert\w*)\b")),
        FieldRule("answer_format", _ONLY_CODE),
    )

    def found(self, given: TemplateInput) -> dict[str, str]:
        out = UseCaseTemplate.found(self, given)
        language = _language(given)
        if language:
            out["language"] = language
        if given.analysis.context or not _WRITING.search(given.analysis.task.lower()):
            # fixing or explaining code: its inputs and outputs are in the code itself
            out.setdefault("inputs_outputs", "given code")
        return out

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        language = found.get("language")
        role = spec.role
        parts = spec.answer_parts
        if language and spec.sources.get("role") == "template":
            role = f"You are an experienced {language} software engineer."
        if language:
            parts = (f"The {language} code in one fenced block", *parts[1:])
        if "answer_format" in found:
            parts = parts[:1]
        example = spec.example
        if language:
            tag = language.lower().replace("#", "sharp").replace("++", "pp").replace(" ", "")
            example = example.replace("```\n", f"```{tag}\n", 1)
        if "answer_format" in found:
            example = example.split("\nExplanation:")[0]
        return replace(spec, role=role, answer_parts=parts, example=example)


# -- json --------------------------------------------------------------------------------

_KEY_LIST = re.compile(
    r"\b(?:extract|get|pull out|pull|return|capture|fields?|keys?|with)\b:?[ \t]+(?:the[ \t]+|"
    r"only[ \t]+|out[ \t]+)?(?:fields?[ \t]+|keys?[ \t]+|values?[ \t]+)?([^.:;\n]{3,300})",
)
_LIST_SPLIT = re.compile(r",[ \t]*(?:and[ \t]+|or[ \t]+)?|[ \t]+(?:and|or|&)[ \t]+")
_LIST_END = re.compile(r"[ \t]+(?:from|out of|in|of|for|as|into|to)(?:[ \t]+|$)")


def _keys_from_text(text: str) -> list[str]:
    """Field names listed in the prompt ("extract the name, email and phone")."""
    for match in _KEY_LIST.finditer(text):
        span = _LIST_END.split(match.group(1), maxsplit=1)[0]
        items = [i.strip().strip("\"'`") for i in _LIST_SPLIT.split(span)]
        items = [i for i in items if i]
        if len(items) >= 2 and all(1 <= len(i.split()) <= 3 for i in items):
            keys = [re.sub(r"\W+", "_", i.lower()).strip("_") for i in items]
            if all(keys):
                return keys
    return []


#: keys whose values are numbers in almost every document; shown unquoted in the example
_NUMERIC_WORDS = (
    "age price amount total count quantity qty year cost salary weight height score rating size"
)
_NUMERIC_KEYS = frozenset(_NUMERIC_WORDS.split())


def _example_for(keys: list[str]) -> str:
    parts = []
    for key in keys:
        placeholder = f"<{key.replace('_', ' ')}>"
        value = placeholder if key in _NUMERIC_KEYS else json.dumps(placeholder)
        parts.append(f"{json.dumps(key)}: {value}")
    return "{" + ", ".join(parts) + "}"


class JsonTemplate(UseCaseTemplate):
    name = "json"
    description = "extracting or producing structured data as JSON"
    role = "You are a precise data extraction assistant."
    output_format = "Return only one JSON object: no prose, no code fence."
    constraints = (
        "Copy values exactly as they appear in the input (numbers, names, dates).",
        "If a value is not in the input, use null; never guess or make one up.",
    )
    uncertainty = "When a field is unknown or unclear, set it to null rather than guessing."
    uncertainty_short = "Use null for anything the text does not say."
    example = '{"<key>": "<value as written>", "<missing key>": null}'
    fields = (
        FieldRule(
            "schema",
            _rx(r"\bschema\b|\{[^{}\n]{0,200}:"),
            "Which keys (and types) should the JSON have? List them or pass --schema FILE.",
        ),
        FieldRule(
            "field_rules",
            _rx(r"\b(required|optional|iso[ -]?8601|yyyy|integer|string|boolean|format)\b"),
        ),
        FieldRule("unknown_values", _rx(r"\b(null|unknown|missing|absent|not (?:found|given))\b")),
    )

    def found(self, given: TemplateInput) -> dict[str, str]:
        out = UseCaseTemplate.found(self, given)
        if given.schema is not None:
            out["schema"] = "--schema"
        elif _keys_from_text(given.analysis.lowered):
            out["schema"] = "keys listed"
        return out

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        schema = given.schema
        keys: list[str] = []
        output = spec.output_format
        constraints = spec.constraints
        if schema is not None:
            props = schema.get("properties")
            keys = list(props) if isinstance(props, dict) else []
            required = schema.get("required")
            output = "Return only one JSON object that matches the JSON Schema below: no prose."
            if isinstance(required, list) and required:
                names = ", ".join(str(r) for r in required)
                constraints = (*constraints, f"Always include these keys: {names}.")
        else:
            keys = _keys_from_text(given.analysis.lowered)
            if keys:
                constraints = (*constraints, f"Use exactly these keys: {', '.join(keys)}.")
        example = _example_for(keys) if keys else spec.example
        return replace(
            spec, output_format=output, constraints=constraints, example=example, schema=schema
        )


# -- agent -------------------------------------------------------------------------------

_TOOLS = _rx(
    r"\b(?:using|use|with|via|through)\s+(?:the\s+|a\s+|my\s+)?(?:[\w-]+\s+){0,2}?"
    r"(tools?|browser|web search|search|shell|terminal|api|calculator|python|database|email)\b"
    r"|\btools?:"
)


class AgentTemplate(UseCaseTemplate):
    name = "agent"
    description = "multi-step work with tools: plan, act, stop, report"
    role = "You are a careful agent: you plan, use tools one step at a time and report."
    output_format = "End with a report in four labelled parts."
    answer_parts = (
        "Goal: the goal in one sentence",
        "Steps taken: each tool call, its input and its result",
        "Result: what was achieved",
        "Open questions: what is unresolved or needs the user",
    )
    constraints = (
        "Use only the tools you are given; do not assume others exist.",
        "Ask before anything that cannot be undone (payments, deletions, sending messages).",
    )
    steps = (
        "Plan the steps and the tool for each.",
        "Run one step at a time; check each result before the next.",
        "Stop when the goal is met or you cannot make progress, then report.",
    )
    uncertainty = (
        "If a step fails or a result is uncertain, say so in the report instead of guessing; "
        "never claim an action succeeded unless a tool result shows it."
    )
    uncertainty_short = "If a step fails or you are unsure, say so in the report."
    example = (
        "Goal: <one sentence>\nSteps taken: 1. <tool and result> 2. <…>\nResult: <what was done>\n"
        "Open questions: <or none>"
    )
    fields = (
        FieldRule("goal"),
        FieldRule("tools", _TOOLS, "Which tools may the agent use (browser, search, shell, …)?"),
        FieldRule(
            "stopping_condition",
            _rx(
                r"\b(stop (?:when|after|once|if)|until|done when|once (?:you|it)|"
                r"at most \d+ (?:steps|calls|tries)|no more than \d+)\b"
            ),
            "When should the agent stop (goal reached, a step limit, a time limit)?",
        ),
        FieldRule("report_format", _rx(r"\b(report|summar\w+|tell me|list (?:the|what))\b")),
    )

    def found(self, given: TemplateInput) -> dict[str, str]:
        out = UseCaseTemplate.found(self, given)
        out["goal"] = "task"
        if given.tools:
            out["tools"] = ", ".join(given.tools)
        return out

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        if not given.tools:
            return spec
        names = ", ".join(given.tools)
        constraints = tuple(
            f"Use only these tools: {names}; do not assume others exist."
            if c.startswith("Use only the tools")
            else c
            for c in spec.constraints
        )
        return replace(spec, constraints=constraints)


# -- chat --------------------------------------------------------------------------------

_AUDIENCE = _rx(
    r"\bfor (?:a |an |my |the |our )?(?:(?:non-technical|technical|new|young|senior|junior)\s+)?"
    r"(?:beginners?|kids?|children|child|students?|engineers?|developers?|experts?|executives?|"
    r"managers?|customers?|clients?|team|boss|users?|readers?|audience|parents?|doctors?|"
    r"lawyers?|\d{1,2}[- ]year[- ]olds?)\b|\baudience\b|\blike i'?m \w+|\beli5\b"
)


class ChatTemplate(UseCaseTemplate):
    name = "chat"
    description = "questions, explanations and writing"
    role = "You are a knowledgeable assistant who answers clearly."
    output_format = (
        "Lead with the answer, in plain prose; use a list only for steps or several items."
    )
    constraints = ()
    uncertainty = "If you are not sure of a fact, say so plainly instead of guessing."
    uncertainty_short = "If you are not sure, say so."
    fields = (
        FieldRule("audience", _AUDIENCE, "Who is the answer for (e.g. beginners, engineers)?"),
        FieldRule(
            "tone",
            _rx(
                r"\b(formal|informal|casual|friendly|professional|polite|tone|funny|humou?rous|"
                r"serious|warm|neutral|enthusiastic)\b"
            ),
        ),
        FieldRule(
            "length",
            _rx(
                r"\b(\d+|one|two|three|four|five)\s+(?:words?|sentences?|paragraphs?|lines?|"
                r"bullets?|bullet points?|pages?|items?|points?)\b|\b(short|brief|briefly|"
                r"concise|detailed|in depth|tl;?dr|long)\b"
            ),
        ),
    )

    def fill(self, spec: PromptSpec, given: TemplateInput, found: dict[str, str]) -> PromptSpec:
        additions: list[str] = []
        if "audience" not in found:
            additions.append("Write for a general reader.")
        if "tone" not in found:
            additions.append("Keep the tone clear and direct.")
        if "length" not in found:
            additions.append("Keep it as short as the question allows.")
        return replace(
            spec,
            constraints=(*spec.constraints, *additions),
            generic=(*spec.generic, *additions),
        )


IMAGE = ImageTemplate()
CODE = CodeTemplate()
JSON = JsonTemplate()
AGENT = AgentTemplate()
CHAT = ChatTemplate()
