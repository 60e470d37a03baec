"""Whether a final answer can stand on the tool results, and the answer composed when not.

A small model on the text protocol often calls the right tool and then answers with
something else: an example's answer, a number from memory, a sentence repeated until the
token limit. After a successful tool call, an answer that is cut, empty, repeats itself or
uses nothing of what the tools returned is replaced by one composed from the last tool
result, and the run says so (a `compose` step in the trace, `AgentResult.composed`, the
reason). Nothing here judges whether the answer is *right*, only whether it rests on the
tool results at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ToolResult", "compose_answer", "unusable_answer"]

#: longest tool output quoted whole in a composed answer
_QUOTE_CHARS = 600
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[a-z]{3,}")
#: words that show nothing was taken from a tool result
_COMMON = frozenset((
    "the", "and", "for", "with", "from", "that", "this", "what", "which", "when", "who", "how",
    "are", "was", "were", "has", "have", "had", "does", "did", "can", "could", "would",
    "should", "will", "you", "your", "its", "their", "there", "here", "about", "into", "than",
    "then", "also", "just", "only", "some", "any", "all", "each", "not", "but", "result",
    "answer", "tool", "says", "said", "file", "files"
))  # fmt: skip
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A successful tool call's output as the model saw it (scanned, before framing)."""

    tool: str
    output: str
    #: kinds of injected instructions the scan found in it (quoted as data all the same)
    flagged: tuple[str, ...] = ()


def _numbers(text: str) -> set[str]:
    out = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.add(value)
    return out


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def _repeats(answer: str) -> bool:
    """The same sentence three times or more: a model looping, not answering."""
    seen: dict[str, int] = {}
    for sentence in _SENTENCE.findall(answer.lower()):
        key = " ".join(sentence.split())
        if len(key) >= 8:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] >= 3:
                return True
    return False


def _unsupported(answer: str, task: str, results: list[ToolResult]) -> str | None:
    """What in the answer rests on nothing the tools returned: a number that is neither in
    the results nor in the task (a number from memory), no word or number of the results at
    all, or a sentence of its own words (an example's answer copied after the real one)."""
    said = " ".join(r.output for r in results)
    got, known = _numbers(answer), _numbers(said)
    if got - known - _numbers(task):
        return "uses nothing the tools returned"
    if not got & known and not _words(answer) & _words(said):
        return "uses nothing the tools returned"
    grounds = _words(said) | _words(task) | known | _numbers(task)
    for sentence in _SENTENCE.findall(answer):
        own = _words(sentence)
        if len(own) >= 2 and not (own | _numbers(sentence)) & grounds:
            return f"adds a sentence the tools did not say ({sentence.strip()!r})"
    return None


def unusable_answer(answer: str, *, task: str, results: list[ToolResult], cut: bool) -> str | None:
    """Why an answer given after tool results cannot stand, or None when it can."""
    if cut:
        return "was cut at the token limit"
    if not answer.strip():
        return "is empty"
    if _repeats(answer):
        return "repeats itself"
    return _unsupported(answer, task, results)


def compose_answer(result: ToolResult) -> str:
    """The answer the runtime gives in the model's place: the tool's output itself."""
    text = result.output.strip()
    if len(text) > _QUOTE_CHARS:
        text = text[:_QUOTE_CHARS].rstrip() + " …"
    return text or f"({result.tool} returned nothing)"
