"""The user's facts: numbers, names, quoted strings, code spans and links, kept verbatim.

Every pattern here is linear: bounded or possessive-free character classes, no nested
quantifiers, so a 100 KB prompt costs a few milliseconds. Fenced code is found with
`str.find`, not a regex, so an unclosed fence cannot make the scan quadratic.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal, NamedTuple

__all__ = [
    "Fact",
    "FactKind",
    "code_blocks",
    "cut_out",
    "extract_facts",
    "missing_facts",
    "split_code",
]

FactKind = Literal["code", "quote", "number", "name", "link"]

_FENCE = "```"
_INLINE_CODE = re.compile(r"`[^`\n]{1,400}`")
_QUOTE = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”|«[^»\n]{1,400}»|(?<![\w'])'[^'\n]{1,200}'(?![\w'])"
)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]{1,2000}")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{2,200}")
_NUMBER = re.compile(r"(?<![\w.])[-+]?[$€£]?\d(?:[\d,.:/-]{0,40}\d)?%?")
# identifiers (snake_case, CamelCase, dotted names, file names) and capitalised names
_NAME = re.compile(
    r"\b[A-Za-z_][\w]{0,80}(?:[._][\w]{1,80}){1,8}\b"
    r"|\b[a-z]{1,40}[A-Z][\w]{0,80}\b"
    r"|\b[A-Z][\w]{0,80}(?:[ \t]+[A-Z][\w]{0,80}){0,5}"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*(?:[-*•]\s*|\d+[.)]\s*)?)$")


class Fact(NamedTuple):
    # a tuple, not a dataclass: hashing and comparing thousands of facts stays in C
    kind: FactKind
    text: str


def code_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced ``` block; an unclosed fence runs to the end."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        start = text.find(_FENCE, pos)
        if start < 0:
            return spans
        close = text.find(_FENCE, start + 3)
        end = len(text) if close < 0 else close + 3
        spans.append((start, end))
        pos = end


def split_code(text: str) -> tuple[list[str], list[str]]:
    """The text outside fenced blocks (in pieces) and the fenced blocks themselves."""
    prose: list[str] = []
    blocks: list[str] = []
    pos = 0
    for start, end in code_blocks(text):
        prose.append(text[pos:start])
        blocks.append(text[start:end])
        pos = end
    prose.append(text[pos:])
    return prose, blocks


def _names(prose: str) -> list[str]:
    out: list[str] = []
    for match in _NAME.finditer(prose):
        word = match.group(0)
        if " " in word or "\t" in word or not word[0].isupper():
            out.append(word)
            continue
        # a lone capitalised word that starts a sentence is usually just grammar
        before = prose[max(0, match.start() - 8) : match.start()]
        mid_sentence = len(word) > 1 and not _SENTENCE_START.search(before)
        if mid_sentence or any(c.isupper() or c.isdigit() for c in word[1:]):
            out.append(word)
    return out


def extract_facts(text: str) -> list[Fact]:
    """Every fact in `text`, in order of kind: code, links, quotes, numbers, names."""
    prose_parts, blocks = split_code(text)
    facts = [Fact("code", b) for b in blocks]
    for prose in prose_parts:
        inline = _INLINE_CODE.findall(prose)
        facts.extend(Fact("code", c) for c in inline)
        rest = _INLINE_CODE.sub(" ", prose) if inline else prose
        for pattern in (_URL, _EMAIL) if "@" in rest else (_URL,):
            links = pattern.findall(rest)
            facts.extend(Fact("link", u.rstrip(".,;:!?)")) for u in links)
            if links:
                rest = pattern.sub(" ", rest)
        facts.extend(Fact("quote", q) for q in _QUOTE.findall(rest))
        facts.extend(Fact("number", n) for n in _NUMBER.findall(rest))
        facts.extend(Fact("name", n.strip()) for n in _names(rest))
    return facts


def cut_out(text: str, pieces: tuple[str, ...]) -> tuple[str, int]:
    """`text` without `pieces` (found in order, one pass) and how many were not found."""
    kept: list[str] = []
    pos = 0
    lost = 0
    for piece in pieces:
        at = text.find(piece, pos)
        if at < 0:
            lost += 1
            continue
        kept.append(text[pos:at])
        pos = at + len(piece)
    kept.append(text[pos:])
    return "\n".join(kept), lost


def missing_facts(
    original: str | list[Fact], rewrite: str, *, verbatim: tuple[str, ...] = ()
) -> list[Fact]:
    """Facts of `original` that do not occur verbatim in `rewrite` (each distinct fact once).

    Facts are compared as multisets of extracted facts first (linear), and only the ones not
    matched that way are searched for as substrings, so a long prompt stays cheap. Pieces in
    `verbatim` (pasted material) are known to be in `rewrite` whole, so their facts need no
    extraction: they are cut out of the rewrite before it is scanned.
    """
    wanted = extract_facts(original) if isinstance(original, str) else original
    have = Counter(extract_facts(cut_out(rewrite, verbatim)[0]))
    missing: list[Fact] = []
    seen: set[Fact] = set()
    for fact in wanted:
        if have[fact] > 0:
            have[fact] -= 1
            continue
        if fact in seen:
            continue
        seen.add(fact)
        if fact.text not in rewrite:
            missing.append(fact)
    return missing
