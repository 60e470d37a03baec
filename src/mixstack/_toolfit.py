"""Which tools fit a task, and worked examples of a tool built from its schema.

A small model picks the tool whose example looks most like the task and copies the values it
is shown, so the text protocol (`mixstack._toolcalls`) shows worked examples of the tools that
fit the task, with two different values for the best one. Fit is lexical and cheap: shared
word stems with a tool's name, description and parameters (common words left out), a short
table of word families (a task about what something *costs* fits a tool about *prices*) and
cues (a file name fits `read_file`, arithmetic fits `calculator`). The agent runtime offers
only the fitting tools on the first turn when one fits clearly (`FIT`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["FIT", "NEXT_STEP", "ToolSpec", "fitting_tools", "relevance", "tool_examples"]

NEXT_STEP = 'If this answers the task, reply with {"answer": ...}; otherwise call another tool.'

#: the relevance at which a tool clearly fits a task (a cue or a word family, or two stems)
FIT = 2.0


class ToolSpec(Protocol):
    """What the protocol reads of a tool (an agent tool or a request's `Tool`)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...


# -- fit --------------------------------------------------------------------------------------

_WORDS = re.compile(r"[a-z]{3,}")
#: words that say nothing about which tool fits ("the" matched every description)
_COMMON = frozenset((
    "the", "and", "for", "with", "from", "that", "this", "what", "which", "when", "who", "how",
    "are", "was", "were", "has", "have", "had", "does", "did", "can", "could", "would",
    "should", "will", "you", "your", "our", "its", "his", "her", "their", "them", "they",
    "there", "here", "about", "into", "onto", "than", "then", "also", "just", "only", "some",
    "any", "all", "each", "per", "not", "but", "use", "using", "give", "tell", "show", "please",
    "want", "need", "get", "got", "one", "two"
))  # fmt: skip
#: word families: a task word and a tool word from the same family make the tool fit
_FAMILIES: tuple[frozenset[str], ...] = tuple(
    frozenset(words.split())
    for words in (
        "price prices priced cost costs much pay paid expensive cheap dollars euros fee fees",
        "stock units unit many left inventory available quantity remaining count",
        "capital capitals city cities country countries",
        "weather temperature forecast rain raining wind sunny",
        "time date today tomorrow clock hour hours",
        "email emails mail inbox message messages",
    )
)
#: what in a task points at a built-in tool, beyond shared words
_CUES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\b[\w-]+\.(?:txt|md|csv|json|log|ya?ml|py|html?)\b", re.I), ("read_file",)),
    (re.compile(r"\b(?:save|write|store)\b.*\b[\w-]+\.\w{1,4}\b", re.I), ("write_file",)),
    (re.compile(r"\b(?:folder|directory|dir|files)\b", re.I), ("list_dir",)),
    (re.compile(r"\d\s*[-+*/×÷^%]+\s*\d|\b(?:sqrt|square root|percent|times|plus|minus|"
                r"multiply|multiplied|divide|divided|subtract|sum of|squared|cubed)\b", re.I),
     ("calculator",)),
    (re.compile(r"https?://", re.I), ("http_get",)),
    (re.compile(r"\b[\w-]+\.(?:png|jpe?g|gif|bmp|webp)\b", re.I), ("ocr",)),
)  # fmt: skip


def _words(text: str) -> set[str]:
    return {w for w in _WORDS.findall(text.lower()) if w not in _COMMON}


def _about(tool: ToolSpec) -> str:
    params = tool.parameters.get("properties", {})
    return " ".join([tool.name.replace("_", " "), tool.description, *params])


def relevance(task: str, tool: ToolSpec) -> float:
    """How well a tool fits a task: shared word stems (1 each), shared word families (2
    each) and cues (2: a file name for read_file, arithmetic for the calculator)."""
    task_words, tool_words = _words(task), _words(_about(tool))
    score = float(len({w[:5] for w in task_words} & {w[:5] for w in tool_words}))
    score += 2.0 * sum(1 for f in _FAMILIES if task_words & f and tool_words & f)
    for pattern, names in _CUES:
        if tool.name in names and pattern.search(task):
            score += 2.0
    return score


T = TypeVar("T", bound=ToolSpec)


def fitting_tools(task: str, tools: Sequence[T]) -> list[tuple[float, T]]:
    """The tools by fit, best first (ties keep the given order)."""
    scored = [(relevance(task, t), i, t) for i, t in enumerate(tools)]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(score, tool) for score, _, tool in scored]


# -- worked examples --------------------------------------------------------------------------

#: worked examples for the built-in tools: (task, arguments, tool output, answer). Small
#: models copy the example they are shown, so each tool gets its own, and the values differ
#: from what users typically ask.
_BUILTIN_EXAMPLES: dict[str, tuple[tuple[str, dict[str, Any], str, str], ...]] = {
    "calculator": (
        ("What is 12 times 5?", {"expression": "12 * 5"}, "60", "60"),
        ("What is (2 + 9) * 5?", {"expression": "(2 + 9) * 5"}, "55", "55"),
    ),
    "read_file": (
        ("What does plan.md say?", {"path": "plan.md"},
         "Ship the beta on Friday. Tests first.", "Ship the beta on Friday. Tests first."),
        ("Sum up todo.txt", {"path": "todo.txt"},
         "Buy milk. Call the bank.", "Buy milk. Call the bank."),
    ),
    "list_dir": (
        ("Which files are here?", {"path": "."}, "docs/\nreport.pdf (310 bytes)",
         "The folder holds docs/ and report.pdf."),
        ("What is in the docs folder?", {"path": "docs"}, "intro.md (88 bytes)",
         "docs holds intro.md."),
    ),
    "write_file": (
        ("Save the word hello to greeting.txt.", {"path": "greeting.txt", "content": "hello"},
         "wrote 5 characters to greeting.txt", "Saved hello to greeting.txt."),
        ("Write 42 into out.txt", {"path": "out.txt", "content": "42"},
         "wrote 2 characters to out.txt", "Wrote 42 to out.txt."),
    ),
    "ocr": (
        ("What does scan.png say?", {"path": "scan.png"}, "Invoice 2291, due March 3",
         "Invoice 2291, due March 3"),
        ("Read the text in photo.jpg", {"path": "photo.jpg"}, "EXIT", "EXIT"),
    ),
    "http_get": (
        ("What is on https://docs.example.com/status?",
         {"url": "https://docs.example.com/status"}, "All systems normal.",
         "The status page says all systems are normal."),
        ("Fetch https://docs.example.com/faq", {"url": "https://docs.example.com/faq"},
         "Q: Refunds? A: Within 30 days.", "The FAQ says refunds are within 30 days."),
    ),
}  # fmt: skip

#: two sample values per kind of parameter: two examples with different values show that
#: the values come from the task (with one, a small model copies the example's value)
_SAMPLE_BY_NAME = (
    (("path", "file", "filename"), ("plan.md", "todo.txt")),
    (("url", "link"), ("https://docs.example.com/status", "https://docs.example.com/faq")),
    (("expression", "expr", "formula"), ("12 * 5", "7.5 + 2.25")),
    (("sku", "id", "code", "key", "ref"), ("Z-9", "Q-4")),
    (("country", "nation"), ("Chile", "Ghana")),
    (("city", "place", "location"), ("Lyon", "Porto")),
    (("product", "item", "article"), ("lamp", "chair")),
    (("name", "user", "person"), ("Ada", "Lin")),
    (("date", "day"), ("2024-05-01", "2023-11-20")),
    (("query", "question", "text", "topic"), ("solar panels", "river names")),
)
#: what the generated examples' tool returns: plain values, so the answer restating them is
#: the pattern the model copies
_SAMPLE_OUTPUTS = ("4", "11")


def _sample_value(name: str, schema: Any, which: int) -> Any:
    """A plausible argument value from a parameter's schema (`which`: first or second
    sample): its examples or enum first, then its type and name."""
    schema = schema if isinstance(schema, dict) else {}
    for key in ("examples", "enum"):
        values = schema.get(key)
        if isinstance(values, list) and values:
            return values[min(which, len(values) - 1)]
    kind = schema.get("type")
    if kind == "integer":
        return (3, 8)[which]
    if kind == "number":
        return (2.5, 0.75)[which]
    if kind == "boolean":
        return (True, False)[which]
    if kind == "array":
        return [_sample_value(name, schema.get("items"), which)]
    low = name.lower()
    for words, values in _SAMPLE_BY_NAME:
        if any(w in low for w in words):
            return values[which]
    return ("example", "sample")[which]


def _generated(tool: ToolSpec) -> list[tuple[str, dict[str, Any], str, str]]:
    """Two worked calls built from the tool's schema: its description as the question,
    sample values for its required parameters."""
    props: dict[str, Any] = tool.parameters.get("properties", {})
    required = tool.parameters.get("required") or list(props)
    what = (tool.description or tool.name.replace("_", " ")).strip().rstrip(".")
    made = []
    for which, output in enumerate(_SAMPLE_OUTPUTS):
        args = {n: _sample_value(n, props.get(n), which) for n in props if n in required}
        shown = ", ".join(f"{n} {json.dumps(v, ensure_ascii=False)}" for n, v in args.items())
        task = f"{what}, for {shown}?" if shown else f"{what}?"
        made.append((task, args, output, output))
    return made


def tool_examples(tool: ToolSpec, count: int = 2) -> list[str]:
    """Worked calls of this tool (hand-written for built-ins, else from its schema). The
    answers restate the tool's output: a small model copies the example's answer, so the
    pattern it copies must be "answer with what the tool returned"."""
    examples = _BUILTIN_EXAMPLES.get(tool.name) or _generated(tool)
    out = []
    for task, args, output, answer in examples[:count]:
        call = {"tool": tool.name, "arguments": args}
        out.append(
            f"User: {task}\n"
            f"Assistant: {json.dumps(call, ensure_ascii=False)}\n"
            f"User: Tool result ({tool.name}): {output}\n{NEXT_STEP}\n"
            f"Assistant: {json.dumps({'answer': answer}, ensure_ascii=False)}"
        )
    return out
