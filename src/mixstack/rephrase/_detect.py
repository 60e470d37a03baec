"""Which use case a rough prompt is: image, code, json, agent or chat.

Each use case has a set of cue words; the prompt is scanned once per use case with a single
alternation (linear time) and the use case with the most distinct cues wins. An attached
image counts as a strong image cue; a fenced code block as a strong code cue.
"""

from __future__ import annotations

import re

from mixstack.rephrase._facts import code_blocks

__all__ = ["BUILTIN_USE_CASES", "detect_use_case"]

#: in tie-break order
BUILTIN_USE_CASES = ("image", "code", "json", "agent", "chat")

_CUES: dict[str, re.Pattern[str]] = {
    "image": re.compile(
        r"\b(screenshots?|screen ?shots?|images?|photos?|pictures?|diagrams?|"
        r"this screen|the screen|png|jpe?g|scans?|scanned|snapshot)\b"
    ),
    "code": re.compile(
        r"\b(code|function|functions|method|class|bug|bugs|stack ?trace|traceback|exception|"
        r"compile[sd]?|compiler|refactor\w*|unit tests?|regex|script|debug\w*|"
        r"python|javascript|typescript|java|golang|rust|c\+\+|c#|ruby|php|kotlin|swift|sql|"
        r"bash|shell|implement\w*|segfault|null pointer|api endpoint|syntax error)\b|\bdef \w|"
        r"=>|\(\)|\w\.\w+\("
    ),
    "json": re.compile(
        r"\b(json|schema|extract\w*|pull (?:out|the)|parse|(?:get|take) [\w ,]{1,40} out of|"
        r"fields?|key[- ]value|structured (?:data|output)|parse (?:this|the) \w+ into|"
        r"yaml|csv)\b"
    ),
    "agent": re.compile(
        r"\b(tools?|steps(?! (?:to|for) )|step by step|browse|browser|navigate|click|"
        r"search the web|look up|find (?:and|then)|automate|workflow|multi-step|agent|plan and|"
        r"book|schedule|visit (?:the )?(?:site|website|page))\b"
    ),
}


def detect_use_case(text: str, *, has_image: bool = False, has_schema: bool = False) -> str:
    """The built-in use case that best fits `text` (`chat` when nothing stands out).

    An attached image and a JSON Schema for the answer count as strong cues.
    """
    lowered = text.lower()
    scores: dict[str, int] = {}
    for name, pattern in _CUES.items():
        scores[name] = len({m.group(0) for m in pattern.finditer(lowered)})
    if has_image:
        scores["image"] += 3
    if has_schema:
        scores["json"] += 3
    if code_blocks(text):
        scores["code"] += 2
    best = max(BUILTIN_USE_CASES[:-1], key=lambda n: (scores[n], -BUILTIN_USE_CASES.index(n)))
    return best if scores[best] > 0 else "chat"
