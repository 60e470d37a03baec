"""Text as a detector should read it: evasions undone before rules and the classifier run.

Attackers hide instructions from pattern matchers with look-alike letters (Cyrillic `а` for
Latin `a`), invisible characters between letters, fullwidth or mathematical alphabets, letters
spaced out (`i g n o r e`), digits for letters (`1gn0re`), HTML entities, percent-encoding and
base64. `normalize_for_scan` returns a lower-cased skeleton with all of that undone, plus what
it had to undo (itself a signal). The user's text is never changed: this copy is only scanned.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["INVISIBLE", "NormalizedText", "mask_mentions", "normalize_for_scan"]

# zero-width and joiner characters, bidi controls, word joiners, BOM, soft hyphen, Unicode tags
INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)

# letters that render like Latin ones (Cyrillic, Greek, Armenian, Cherokee, IPA): NFKC keeps them
_CONFUSABLES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a", "ı": "i", "ο": "o", "α": "a",
    "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y",
    "β": "b", "η": "n", "μ": "u", "ѡ": "w", "ս": "u", "օ": "o", "ց": "g", "ᴀ": "a", "ʏ": "y",
    "ꭵ": "i", "Ꭺ": "a", "Ꮯ": "c", "Ꭼ": "e", "Ꮋ": "h", "Ꮪ": "s", "Ꭲ": "t",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
#: invisible characters touching a Latin letter split or pad words for a pattern matcher;
#: the same characters elsewhere are ordinary (a zero-width joiner inside an emoji sequence,
#: a left-to-right mark around a number in mixed-script text, a soft hyphen at a break point)
_INVISIBLE_SET = (
    "[\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
_IN_WORD_INVISIBLE = re.compile(f"(?<=[A-Za-z]){_INVISIBLE_SET}|{_INVISIBLE_SET}(?=[A-Za-z])")
#: Unicode tag characters mirror ASCII (U+E0041 is an invisible "A"): a run of them is text
#: hidden from the reader (a flag emoji uses a few, never a sentence's worth)
_TAG_RUN = re.compile("[\U000e0020-\U000e007e]{8,}")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LEET_TABLE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
# a word mixing letters with digits used as letters (`1gn0re`, `pr0mpt`); `@` and `$` stay,
# e-mail addresses and prices must survive
_LEET_WORD = re.compile(r"\b(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[013457])[a-z0-9]{3,}\b")
# four or more single letters separated by one space, dot, dash or underscore: `i g n o r e`
_SPACED = re.compile(r"\b(?:[a-z][ ._\-*]){3,}[a-z]\b")
_SPACER = re.compile(r"[ ._\-*]")
_ENTITY = re.compile(r"&(?:#\d{2,6}|#x[0-9a-f]{2,6}|[a-z]{2,8});")
_PERCENT = re.compile(r"(?:%[0-9a-f]{2}){3,}")
_BASE64 = re.compile(r"(?<![a-z0-9+/=])[a-z0-9+/]{24,}={0,2}(?![a-z0-9+/=])", re.IGNORECASE)
_HEX = re.compile(r"\b(?:[0-9a-f]{2}){12,}\b")
_SPACES = re.compile(r"[ \t\u00a0]+")
#: decode at most this many encoded blobs per text (each costs a decode attempt)
_MAX_DECODES = 16
#: a quotation (straight, curly or guillemet quotes; an apostrophe inside a word opens none)
_QUOTED = re.compile(
    "(?<![\\w'\"\u2018\u201c])['\"\u2018\u201c\u00ab]"
    "([^'\"\u2019\u201d\u00bb\\n]{3,200}?)['\"\u2019\u201d\u00bb](?!\\w)"
)
#: words that introduce a quotation as an example of something said, not as something to do
#: ("prompts like '...'", "the phrase '...'", "attackers wrote '...'"); a cue directly followed
#: by a quote is a JSON key or a label (`"prompt": "..."`), not a mention
_MENTION_CUE = re.compile(
    r"\b(like|such as|e\.g\.?|i\.e\.?|for (example|instance)|phrases?|strings?|words?|"
    r"wording|prompts|payloads?|attacks?|attempts?|wrote|writes|typed|tried|known as|"
    r"called|named)[\s:,(]{0,3}$"
)
_QUOTES = "'\"\u2018\u201c\u00ab"


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """The scan copy of a text and what was undone to make it."""

    text: str
    invisible: int = 0
    confusables: int = 0
    decoded: tuple[str, ...] = ()
    #: invisible characters touching Latin letters (the evasion; `invisible` counts all)
    in_words: int = 0

    @property
    def evasions(self) -> tuple[str, ...]:
        out = []
        if self.in_words:
            out.append("invisible")
        if self.confusables:
            out.append("homoglyph")
        if self.decoded:
            out.append("encoded")
        return tuple(out)


def normalize_for_scan(text: str) -> NormalizedText:
    """Lower-cased skeleton of `text` with evasions undone; decoded blobs come separately."""
    text = text.removeprefix("\ufeff")  # a leading byte-order mark is ordinary
    invisible = len(INVISIBLE.findall(text))
    in_words = 0
    tagged: tuple[str, ...] = ()
    if invisible:
        in_words = len(_IN_WORD_INVISIBLE.findall(text))
        tagged = tuple(_untag(m.group(0)) for m in _TAG_RUN.finditer(text))
        in_words += sum(len(t) for t in tagged)
        text = INVISIBLE.sub("", text)
    confusables = 0
    if _NON_ASCII.search(text):
        text = unicodedata.normalize("NFKC", text)
        if _NON_ASCII.search(text):
            before = text
            text = text.translate(_CONFUSABLE_TABLE)
            confusables = _mixed_script_words(before, text)
    low = text.lower()
    if "&" in low:
        low = _ENTITY.sub(lambda m: html.unescape(m.group(0)), low)
    if "%" in low:
        low = _PERCENT.sub(lambda m: unquote(m.group(0)), low)
    low = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET_TABLE), low)
    low = _SPACED.sub(lambda m: _SPACER.sub("", m.group(0)), low)
    decoded = tagged + _decode_blobs(text)
    return NormalizedText(_SPACES.sub(" ", low), invisible, confusables, decoded, in_words)


def _untag(run: str) -> str:
    """The ASCII text a run of Unicode tag characters spells, lower-cased."""
    return " ".join("".join(chr(ord(ch) - 0xE0000) for ch in run).lower().split())


def mask_mentions(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with quotations introduced as examples blanked ("we tried prompts like '...'"), and
    their spans: a text that talks about an instruction (a security report, a tutorial, a test)
    is not giving one. Blanks keep the length, so offsets into `text` stay valid."""
    if not any(q in text for q in _QUOTES):
        return text, []
    spans = [
        match.span(1)
        for match in _QUOTED.finditer(text)
        if _MENTION_CUE.search(text, max(0, match.start() - 24), match.start())
    ]
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text, spans


def _mixed_script_words(before: str, after: str) -> int:
    """How many words had a look-alike letter swapped *inside a Latin word* (evasion), not
    words wholly in another script (ordinary Russian or Greek text)."""
    count = 0
    for word_before, word_after in zip(before.split(), after.split(), strict=False):
        if word_before == word_after:
            continue
        latin = sum(1 for ch in word_before if ch.isascii() and ch.isalpha())
        # one Latin letter beside a Greek one is a unit or a formula ("µs" becomes Greek "μs"
        # under NFKC), not a word with a swapped letter
        if latin >= 2:
            count += 1
    return count


def _decode_blobs(text: str) -> tuple[str, ...]:
    """Readable text hidden in base64 or hex blobs, lower-cased."""
    out: list[str] = []
    for match in _BASE64.finditer(text):
        if len(out) >= _MAX_DECODES:
            break
        blob = match.group(0)
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            continue  # one long word, not an encoding
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            continue
        readable = _readable(raw)
        if readable:
            out.append(readable)
    for match in _HEX.finditer(text.lower()):
        if len(out) >= _MAX_DECODES:
            break
        readable = _readable(bytes.fromhex(match.group(0)))
        if readable:
            out.append(readable)
    return tuple(out)


def _readable(raw: bytes) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in decoded if ch.isprintable() or ch in "\n\t")
    letters = sum(1 for ch in decoded if ch.isalpha())
    if len(decoded) < 8 or printable < 0.95 * len(decoded) or letters < 0.5 * len(decoded):
        return None
    return " ".join(decoded.lower().split())
