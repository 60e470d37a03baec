"""Split a rough prompt into what the user gave: role, task, material, constraints, format.

Nothing is reworded: every piece is a verbatim slice of the prompt (sentences, lines,
paragraphs, fenced blocks), so the user's facts survive by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mixstack.rephrase._facts import split_code

__all__ = ["Analysis", "analyze"]

#: paragraphs at least this long are material to work on, not instructions
_MATERIAL_CHARS = 400

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+(?=\S)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+")
_ROLE = re.compile(
    r"^\s*(?:you are|you're|act as|acting as|pretend (?:to be|you are)|as an? )\b", re.I
)
_CONSTRAINT = re.compile(
    r"\b(must|mustn't|should|shouldn't|do not|don't|never|only|at most|at least|no more than|"
    r"fewer than|less than|more than|under \d|within|without|avoid|exactly|maximum|minimum|"
    r"max|min|limit|keep (?:it|the|to)|make sure|ensure|required|always|no longer than)\b",
)
_FORMAT = re.compile(
    r"\b(as (?:a |an )?(?:table|list|bullet(?:ed)? list|numbered list|json|csv|yaml|markdown|"
    r"haiku|poem|email|letter|tweet|summary|outline)|in (?:a )?(?:table|bullet points|bullets|"
    r"json|markdown|csv|yaml|one sentence|one paragraph|one line|\d+ (?:words|sentences|"
    r"paragraphs|bullets|bullet points|lines|steps))|bullet points?|numbered list|format(?:ted)?|"
    r"one-liner|tl;?dr|output (?:only|just)|return (?:only|just))\b",
)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The user's prompt, sorted into verbatim pieces."""

    text: str
    role: str
    task: str
    context: tuple[str, ...]
    constraints: tuple[str, ...]
    output_format: str
    format_in_task: bool
    steps: tuple[str, ...]
    has_image: bool
    #: the instruction paragraphs exactly as written (everything that is not `context`)
    instructions: tuple[str, ...] = ()
    #: role, task, constraints, format and steps: where cues about the request are looked for
    instruction_text: str = ""
    #: `instruction_text` in lower case; cue patterns are case-sensitive, which keeps them fast
    lowered: str = ""


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    #: the whitespace that preceded it in the prompt (" " or a line break)
    sep: str


def _balanced(text: str) -> bool:
    return text.count('"') % 2 == 0 and text.count("`") % 2 == 0


def _sentences(line: str) -> list[str]:
    """Sentences of one line, never cutting inside a quoted string or a code span."""
    out: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(line):
        pending = f"{pending} {piece}" if pending else piece
        if _balanced(pending):
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    return out


def _units(paragraph: str) -> list[_Unit]:
    """Lines, and sentences within lines, of one instruction paragraph."""
    out: list[_Unit] = []
    for line in paragraph.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if _LIST_ITEM.match(line):
            out.append(_Unit(stripped, "\n"))
            continue
        for i, sentence in enumerate(_sentences(stripped)):
            out.append(_Unit(sentence, " " if i else "\n"))
    return out


def _join(units: list[_Unit]) -> str:
    return "".join((u.sep if i else "") + u.text for i, u in enumerate(units))


_INTRODUCES = re.compile(r":\s*$|\b(following|below)\b", re.I)


def _paragraphs(prose: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank paragraph of `prose`."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for gap in _PARAGRAPHS.finditer(prose):
        if prose[pos : gap.start()].strip():
            spans.append((pos, gap.start()))
        pos = gap.end()
    if prose[pos:].strip():
        spans.append((pos, len(prose)))
    return spans


def _pieces(text: str) -> tuple[list[str], list[str]]:
    """(instruction paragraphs, material) in order; material is fenced code and long text.

    Paragraphs of 400+ characters are material; so is everything after a paragraph that
    introduces it ("Summarize the notes below:"). Neighbouring material paragraphs stay one
    piece, separators included, so pasted text is kept byte for byte.
    """
    prose_parts, blocks = split_code(text)
    ordered: list[tuple[bool, str]] = []  # (is_code, text)
    for i, prose in enumerate(prose_parts):
        ordered.extend((False, prose[a:b].strip("\n")) for a, b in _paragraphs(prose))
        if i < len(blocks):
            ordered.append((True, blocks[i]))
    any_short = any(len(t) < _MATERIAL_CHARS for is_code, t in ordered if not is_code)
    instructions: list[str] = []
    material: list[str] = []
    introduced = False
    for is_code, piece in ordered:
        if is_code or introduced:
            material.append(piece)
        elif len(piece) < _MATERIAL_CHARS or (not any_short and not instructions):
            instructions.append(piece)
            introduced = bool(_INTRODUCES.search(piece[-300:]))
        else:
            material.append(piece)
    return instructions, _merge(text, material)


def _merge(text: str, material: list[str]) -> list[str]:
    """Join pieces that are neighbours in `text` (only blank lines between) into one slice."""
    merged: list[str] = []
    end = -1
    pos = 0
    for piece in material:
        at = text.find(piece, pos)
        if merged and at >= 0 and not text[end:at].strip():
            merged[-1] = text[end - len(merged[-1]) : at + len(piece)]
        else:
            merged.append(piece)
        if at >= 0:
            end = at + len(piece)
            pos = end
    return merged


def analyze(text: str, *, has_image: bool = False) -> Analysis:
    instructions, material = _pieces(text)
    role = ""
    task: list[_Unit] = []
    constraints: list[str] = []
    steps: list[str] = []
    output_format = ""
    format_in_task = False
    for unit in (u for p in instructions for u in _units(p)):
        line = unit.text
        low = line.lower()
        if not role and not task and _ROLE.match(line):
            role = line
        elif _NUMBERED.match(line) and task:
            steps.append(line)
        elif not task:
            task.append(unit)
            format_in_task = format_in_task or bool(_FORMAT.search(low))
        elif _FORMAT.search(low) and not output_format:
            output_format = line
        elif _CONSTRAINT.search(low) or _LIST_ITEM.match(line):
            constraints.append(line)
        else:
            task.append(unit)
    if not task and role:
        task, role = [_Unit(role, "")], ""
    joined = _join(task)
    instruction_text = "\n".join((role, joined, *constraints, output_format, *steps))
    return Analysis(
        text=text,
        role=role,
        task=joined,
        context=tuple(material),
        constraints=tuple(constraints),
        output_format=output_format,
        format_in_task=format_in_task,
        steps=tuple(steps),
        has_image=has_image,
        instructions=tuple(instructions),
        instruction_text=instruction_text,
        lowered=instruction_text.lower(),
    )
