"""Injection and jailbreak detection: is this text trying to steer the model?

`scan_injection(text, channel=...)` reads a normalised copy of the text (look-alike letters,
invisible characters and encodings undone, see `injection_normalize.py`), runs the rules of
`injection_rules.py` and the trained classifier of `injection_model.py` on each sentence-like
piece, and combines them into one score (noisy-or). A text is flagged from `FLAG_AT`.

Channels: `untrusted` (tool results, documents, web pages, OCR text: any instruction in them
is an injection) and `user` (what the caller typed: jailbreak attempts). The findings and a
cleaned copy (invisible characters removed) are returned; findings are signals for the
caller (label, flag, block), they never grant anything. Agents and the gateway share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mixstack.guard import _helper_process as helper_process
from mixstack.guard._injection_model import load_model
from mixstack.guard._injection_normalize import INVISIBLE, mask_mentions, normalize_for_scan
from mixstack.guard._injection_rules import JAILBREAK_KINDS, RULES, Channel, Rule

__all__ = [
    "FLAG_AT",
    "Channel",
    "InjectionFinding",
    "InjectionScan",
    "scan_injection",
]

#: a text whose combined score reaches this is flagged
FLAG_AT = 0.5
#: classifier pieces: sentences, lines, markup and JSON string boundaries
_PIECES = re.compile(r"(?<=[.!?:;])\s+|\n+|<[^>]{0,120}>|\"\s*[,}\]:]\s*\"?")
#: a piece shorter than this many words is a fragment (a heading, an address, a sign-off):
#: too short to carry an instruction, and its few n-grams make the classifier's score noise
_MIN_WORDS = 4
_WORDS = re.compile(r"[a-z]+")
#: a colon-ended lead-in of fewer words than this is a label read with its continuation
_LABEL_WORDS = 8
#: evasion signals: their weight when seen in at least `_EVASION_MANY` words (the decoded
#: text is scanned for itself too); in fewer, a stray character in an ordinary text (a name
#: spelt with a Greek letter, a zero-width space pasted from a web page) is only a hint
_EVASION_WEIGHT = {"invisible": 0.6, "homoglyph": 0.5, "encoded": 0.3}
_EVASION_FEW = 0.3
_EVASION_MANY = 3
_EVASION_KIND = {"invisible": "hidden", "homoglyph": "homoglyph", "encoded": "encoded"}
#: a rule match inside a mentioned quotation ("prompts like '...'", see `mask_mentions`) keeps
#: this share of its weight: it still counts with a second signal (an attacker can dress a
#: payload up as an example)
_MENTION_SHARE = 0.35


@dataclass(frozen=True, slots=True)
class InjectionFinding:
    kind: str
    excerpt: str
    start: int
    #: how sure this one signal is on its own, 0..1
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class InjectionScan:
    findings: tuple[InjectionFinding, ...]
    cleaned: str
    #: combined score of every signal, 0..1 (flagged from `FLAG_AT`)
    score: float = 0.0
    channel: Channel = "untrusted"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({f.kind for f in self.findings}))

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    @property
    def jailbreak(self) -> bool:
        """A user turn that tries to talk the model out of its rules."""
        return self.flagged and any(f.kind in JAILBREAK_KINDS for f in self.findings)


def scan_injection(
    text: str, *, channel: Channel = "untrusted", max_findings: int = 20
) -> InjectionScan:
    """Score `text` for instructions aimed at a model; findings only when it is flagged."""
    if helper_process.offloaded(text):
        scan, unchanged = helper_process.run(_scan_in_helper, text, channel, max_findings)
        return replace(scan, cleaned=text) if unchanged else scan
    cleaned = INVISIBLE.sub("", text) if INVISIBLE.search(text) else text
    norm = normalize_for_scan(text)
    masked, mentions = mask_mentions(norm.text)
    hits = _rule_hits(norm.text, channel, max_findings, mentions, masked)
    counts = {"invisible": norm.in_words, "homoglyph": norm.confusables, "encoded": _EVASION_MANY}
    for evasion in norm.evasions:
        weight = _EVASION_WEIGHT[evasion] if counts[evasion] >= _EVASION_MANY else _EVASION_FEW
        hits.append(InjectionFinding(_EVASION_KIND[evasion], evasion, 0, weight))
    for decoded in norm.decoded:
        inner = _rule_hits(decoded, channel, max_findings)
        if inner:
            best = max(h.score for h in inner)
            hits.append(InjectionFinding("encoded", decoded[:80], 0, min(0.95, best + 0.1)))
    probability, piece, at = _classify([masked, *norm.decoded])
    # below its threshold the classifier says "no evidence", not "a little": its
    # probabilities there are not calibrated enough to add up with weak rule hits
    counted = probability if probability >= load_model().threshold else 0.0
    if channel == "user" and not hits:
        # callers type imperatives all day; on their own turn the classifier only backs a rule
        counted = 0.0
    score = _combine([h.score for h in _strongest_per_kind(hits)], counted)
    if score < FLAG_AT:
        return InjectionScan((), cleaned, score, channel)
    if probability >= load_model().threshold or not hits:
        hits.append(InjectionFinding("classifier", piece[:80], at, round(probability, 3)))
    hits.sort(key=lambda f: f.start)
    return InjectionScan(tuple(hits[:max_findings]), cleaned, round(score, 4), channel)


def _scan_in_helper(text: str, channel: Channel, max_findings: int) -> tuple[InjectionScan, bool]:
    """`scan_injection` in the helper process, and whether the cleaned text is the text
    itself (then it is not sent back: a megabyte less through the pipe)."""
    scan = scan_injection(text, channel=channel, max_findings=max_findings)
    if scan.cleaned == text:
        return replace(scan, cleaned=""), True
    return scan, False


def _rule_hits(
    text: str,
    channel: Channel,
    limit: int,
    mentions: list[tuple[int, int]] | None = None,
    masked: str = "",
) -> list[InjectionFinding]:
    """One finding per rule that matches. A match that reaches into a mentioned quotation
    (`mask_mentions`) keeps `_MENTION_SHARE` of the rule's weight unless the rule also
    matches `masked`, the text with the mentions blanked."""
    hits: list[InjectionFinding] = []
    for rule in RULES:
        if not _applies(rule, channel) or (rule.needs and not any(n in text for n in rule.needs)):
            continue
        match = rule.pattern.search(text)
        if match is None:
            continue
        weight = rule.weight
        inside = mentions and any(s < match.end() and match.start() < e for s, e in mentions)
        if inside and rule.pattern.search(masked) is None:
            weight = round(weight * _MENTION_SHARE, 3)
        excerpt = " ".join(match.group(0).split())[:80]
        hits.append(InjectionFinding(rule.kind, excerpt, match.start(), weight))
        if len(hits) >= limit:
            return hits
    return hits


def _applies(rule: Rule, channel: Channel) -> bool:
    return rule.channel in ("both", channel)


def _strongest_per_kind(hits: list[InjectionFinding]) -> list[InjectionFinding]:
    best: dict[str, InjectionFinding] = {}
    for hit in hits:
        if hit.kind not in best or hit.score > best[hit.kind].score:
            best[hit.kind] = hit
    return list(best.values())


def _combine(weights: list[float], probability: float) -> float:
    """Noisy-or: independent signals each leave a chance that the text is benign."""
    benign = 1.0 - probability
    for w in weights:
        benign *= 1.0 - w
    return 1.0 - benign


def _classify(texts: list[str]) -> tuple[float, str, int]:
    """The classifier's probability on the most suspicious piece, that piece and its offset."""
    model = load_model()
    best, best_piece, best_at = 0.0, "", 0
    for text in texts:
        at = 0
        for match in [*_PIECES.finditer(text), None]:
            end = match.start() if match is not None else len(text)
            if match is not None and _is_label(text, at, end, match):
                continue  # the piece runs on into what the label introduces
            piece = text[at:end]
            if len(_WORDS.findall(piece, 0, 200)) >= _MIN_WORDS:
                p = model.probability(piece)
                if p > best:
                    best, best_piece, best_at = p, piece, at
            at = match.end() if match is not None else end
    return best, best_piece, best_at


def _is_label(text: str, start: int, end: int, match: re.Match[str]) -> bool:
    """A short lead-in ending in a colon on the same line ("New rules from HR:", "Note:"):
    scored on its own its few words are all attack vocabulary; it is read with what follows."""
    return (
        text[end - 1 : end] == ":"
        and "\n" not in match.group(0)
        and len(_WORDS.findall(text, start, end)) < _LABEL_WORDS
    )
