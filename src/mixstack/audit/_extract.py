"""Find the reasoning of an output, split it into steps and find the final answer.

Sources, in order: a provider's reasoning field, `<think>…</think>` blocks, the output
itself. Steps are numbered or bulleted items (continuation lines join their item), else
non-empty lines, else sentences of a single paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Reasoning", "extract_reasoning"]

_THINK = re.compile(r"<(think|thinking|reasoning)>(.*?)(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_ITEM = re.compile(
    r"^\s*(?:(?:step|Step|STEP)\s*\d+\s*[:.)-]|\(?\d{1,2}[.)]\s|\(\d{1,2}\)|[-*•‣◦]\s|#{1,4}\s*Step\s*\d+\s*:?)"
)
_ANSWER_MARKERS = (
    re.compile(r"#{4}\s*(?P<a>[^\n#]+?)\s*$", re.MULTILINE),
    re.compile(r"\\boxed\{(?P<a>(?:[^{}]|\{[^{}]*\})+)\}"),
    re.compile(
        r"(?:final answer|answer)\s*(?:is)?\s*[:=]\s*(?P<a>[^\n]+?)\s*$",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(
        r"(?:the|my|so the|thus the|therefore,? the) (?:final )?answer is:?\s*(?P<a>[^\n]+?)\s*$",
        re.IGNORECASE | re.MULTILINE,
    ),
)
#: a line that only announces the answer ("Answer: 18", "#### 18", "The answer is 18.")
_ANSWER_LINE = re.compile(
    r"^\s*(?:\*\*)?(?:####|\\boxed|(?:so,?\s+|thus,?\s+|therefore,?\s+)?(?:the\s+)?(?:final\s+)?"
    r"answer(?:\s+is)?\s*[:=]?)",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^(?:let'?s|let us|we (?:need|want|will|can|must)|to (?:solve|find|answer)|here'?s|"
    r"i (?:will|need)|i'll|sure|okay|ok|alright)\b[^0-9]*$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'$\d])")


@dataclass(frozen=True, slots=True)
class Reasoning:
    steps: tuple[str, ...]
    answer: str | None
    source: str  # "reasoning field", "think block", "output"
    style: str  # "numbered", "lines", "sentences", "none"
    marked: bool = True  # the answer was announced ("Answer: …"), not read off the last step

    def to_json(self) -> dict[str, object]:
        return {
            "steps": list(self.steps),
            "answer": self.answer,
            "source": self.source,
            "style": self.style,
            "answer_marked": self.marked,
        }


def extract_reasoning(output: str, reasoning: str | None = None) -> Reasoning:
    think = [m.group(2) for m in _THINK.finditer(output)]
    visible = _THINK.sub("", output).strip()
    if reasoning and reasoning.strip():
        body, source = reasoning, "reasoning field"
    elif think and any(t.strip() for t in think):
        body, source = "\n".join(think), "think block"
    else:
        body, source = visible, "output"
    answer = find_answer(visible) if visible else None
    if answer is None:
        answer = find_answer(body)
    steps, style = split_steps(body)
    if source != "output" and visible:
        # the visible part may carry more steps than the answer line
        extra, _ = split_steps(visible)
        if len(extra) > 1 or (extra and re.search(r"[=+×÷]", extra[0])):
            steps = steps + extra
    marked = answer is not None
    if answer is None and steps:
        answer = _last_sentence_answer(steps[-1])
    return Reasoning(tuple(steps), answer, source, style, marked)


def find_answer(text: str) -> str | None:
    for marker in _ANSWER_MARKERS:
        matches = list(marker.finditer(text))
        if matches:
            answer = matches[-1].group("a").replace("**", "").strip()
            answer = re.sub(r"^\\boxed\{(.*)\}$", r"\1", answer)
            return answer.rstrip(".").strip() or None
    return None


def _last_sentence_answer(step: str) -> str | None:
    """Without an answer marker, the last step's conclusion is the answer."""
    parts = [p for p in _SENTENCE.split(step) if p.strip()]
    return parts[-1].strip() if parts else None


def split_steps(text: str) -> tuple[list[str], str]:
    lines = [ln.rstrip().replace("**", "") for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln.strip() and not _is_decoration(ln)]
    while len(lines) > 1 and _PREAMBLE.match(lines[0].strip()):
        lines.pop(0)  # "Let's break this down step by step."
    if not lines:
        return [], "none"
    if sum(1 for ln in lines if _ITEM.match(ln)) >= 2:
        steps = _items(lines)
        style = "numbered"
    elif len(lines) >= 2:
        steps = [ln.strip() for ln in lines]
        style = "lines"
    else:
        steps = [s.strip() for s in _SENTENCE.split(lines[0]) if s.strip()]
        style = "sentences" if len(steps) > 1 else "lines"
    steps = [re.sub(r"\s*#{4}\s*[^\n#]*$", "", s) for s in steps]
    steps = [s for s in steps if s.strip() and not _only_answer(s)]
    return steps, style if steps else "none"


def _items(lines: list[str]) -> list[str]:
    steps: list[str] = []
    for ln in lines:
        if _ITEM.match(ln) or not steps:
            steps.append(_ITEM.sub("", ln, count=1).strip())
        elif _ANSWER_LINE.match(ln):
            steps.append(ln.strip())
        else:
            steps[-1] = f"{steps[-1]} {ln.strip()}"
    return [s for s in steps if s]


def _is_decoration(line: str) -> bool:
    return not re.search(r"[A-Za-z0-9]", line)


def _only_answer(step: str) -> bool:
    """An answer announcement with no work in it is not a reasoning step."""
    if not _ANSWER_LINE.match(step):
        return False
    return not re.search(r"[=+×÷*/]|\d\s*-\s*\d", step.replace("**", ""))
