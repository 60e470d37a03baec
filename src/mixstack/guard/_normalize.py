"""Decoded views of text, so encoded personal data and secrets are found too.

    john%40example.com       URL-encoding            → john@example.com
    john&#64;example.com     HTML entities            → john@example.com
    john\u0040example.com    JSON/JS escapes          → john@example.com
    john＠example．com       fullwidth (NFKC)         → john@example.com
    jo\u200bhn@example.com   zero-width, soft hyphen  → john@example.com
    am9obkBleGFtcGxlLmNvbQ== a base64 block           → john@example.com

A `DecodedText` keeps, for each character of the decoded text, the span of the original it
came from, so a finding in the decoded view redacts exactly the encoded original. Base64
blocks are decoded one by one; a finding inside one covers the whole block. Decoding is
bounded (two passes, blocks up to `MAX_BLOCK` characters) so a crafted input cannot make it
slow. `GuardScanner` is the PII scanner that also looks at these views and for secrets.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mixstack.guard import _helper_process as helper_process
from mixstack.guard._pii import PiiScanner, PiiSpan, ScannerSettings, _resolve
from mixstack.guard._secrets import SECRET, SECRET_SCORE, secret_spans

__all__ = ["DecodedText", "GuardScanner", "base64_blocks", "decode", "maybe_encoded"]

_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2}))")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{16,}={0,2}(?![A-Za-z0-9+/=_\-])")
MAX_BLOCK = 65_536
#: texts longer than this are scanned in pieces, each overlapping the next by `OVERLAP`
#: (more than the longest finding the recognizers make, a PEM private key)
CHUNK = 32_768
OVERLAP = 8_192
#: decoded blocks must look like text (share of printable characters) to be scanned
_PRINTABLE_SHARE = 0.85
#: the recognizer name `route --explain` shows for secrets
_SECRETS = "SecretRecognizer"


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Decoded text and, per decoded character, the [start, end) it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span a decoded span [start, end) came from."""
        return self.starts[start], self.ends[max(start, end - 1)]


def maybe_encoded(text: str) -> bool:
    """A cheap test: could any decoding change this text?"""
    if "%" in text or "&" in text or "\\" in text:
        return True
    return not text.isascii()


def _percent_char(text: str, i: int) -> str | None:
    """The character URL-encoded at `i` (`%40`, or the UTF-8 bytes `%C3%A9` of one
    character), or None when `text[i:]` does not start with one."""
    if not _PERCENT.match(text, i):
        return None
    lead = int(text[i + 1 : i + 3], 16)
    size = 1 if lead < 0x80 else 2 if 0xC2 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4
    if lead >= 0xF5 or 0x80 <= lead < 0xC2:
        return None  # a continuation byte or no UTF-8 lead byte at all
    raw = bytearray([lead])
    for k in range(1, size):
        at = i + 3 * k
        if not _PERCENT.match(text, at):
            return None
        raw.append(int(text[at + 1 : at + 3], 16))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_once(text: str) -> DecodedText:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and (char := _percent_char(text, i)) is not None:
            size = 3 * len(char.encode("utf-8"))
            for piece in unicodedata.normalize("NFKC", char):
                out.append(piece)
                starts.append(i)
                ends.append(i + size)
            i += size
            continue
        if ch == "&" and (m := _ENTITY.match(text, i)):
            decoded = html.unescape(m.group(0))
            if decoded != m.group(0):
                for piece in decoded:
                    out.append(piece)
                    starts.append(i)
                    ends.append(m.end())
                i = m.end()
                continue
        if ch == "\\" and (m := _ESCAPE.match(text, i)):
            code = int(m.group(1) or m.group(2), 16)
            if not 0xD800 <= code <= 0xDFFF:
                for piece in unicodedata.normalize("NFKC", chr(code)):
                    if piece not in _INVISIBLE:
                        out.append(piece)
                        starts.append(i)
                        ends.append(m.end())
                i = m.end()
                continue
        if ch in _INVISIBLE:
            i += 1
            continue
        if not ch.isascii():
            for piece in unicodedata.normalize("NFKC", ch):
                out.append(piece)
                starts.append(i)
                ends.append(i + 1)
            i += 1
            continue
        out.append(ch)
        starts.append(i)
        ends.append(i + 1)
        i += 1
    return DecodedText("".join(out), tuple(starts), tuple(ends))


def decode(text: str) -> DecodedText:
    """Two decoding passes (catches `%2540`, `&amp;#64;`), offsets mapped to the original."""
    first = _decode_once(text)
    if not maybe_encoded(first.text) or first.text == text:
        return first
    second = _decode_once(first.text)
    if second.text == first.text:
        return first
    starts = tuple(first.starts[s] for s in second.starts)
    ends = tuple(first.ends[e - 1] for e in second.ends)
    return DecodedText(second.text, starts, ends)


def base64_blocks(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, decoded text) of each base64 block that decodes to readable text."""
    for match in _BASE64.finditer(text):
        block = match.group(0)
        if len(block) > MAX_BLOCK:
            continue
        if block.isalpha() or block.isdigit():
            continue  # a long word or number, not an encoding
        raw = block.replace("-", "+").replace("_", "/").rstrip("=")
        raw += "=" * (-len(raw) % 4)
        try:
            decoded = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        readable = sum(c.isprintable() or c.isspace() for c in decoded)
        if decoded and readable >= _PRINTABLE_SHARE * len(decoded):
            yield match.start(), match.end(), decoded


class GuardScanner(PiiScanner):
    """The PII scanner over the text, its decoded view and its base64 blocks, plus secrets."""

    def scan(self, text: str, *, model: bool = True) -> list[PiiSpan]:
        if helper_process.offloaded(text):
            return helper_process.run(_scan_in_helper, self.settings, text, model)
        if len(text) <= CHUNK + OVERLAP:
            return self._scan_whole(text, model)
        # a regex search holds the GIL for as long as it runs: over a megabyte that stalls
        # the event loop even from a worker thread, so large texts go in overlapping pieces
        found: dict[tuple[str, int, int], PiiSpan] = {}
        for start in range(0, len(text), CHUNK):
            for span in self._scan_whole(text[start : start + CHUNK + OVERLAP], model):
                moved = PiiSpan(
                    span.type, span.start + start, span.end + start, span.score, span.recognizer
                )
                found[(moved.type, moved.start, moved.end)] = moved
        return _resolve(list(found.values()))

    def warm_up_helper(self) -> None:
        """Start the helper process and load this scanner there, so the first long text
        waits for neither (call from a worker thread; a server calls it at start-up)."""
        helper_process.run(_scan_in_helper, self.settings, _HELPER_WARM_UP, True)

    def _scan_whole(self, text: str, model: bool = True) -> list[PiiSpan]:
        spans = super().scan(text, model=model)
        spans.extend(PiiSpan(SECRET, s, e, SECRET_SCORE, _SECRETS) for s, e in secret_spans(text))
        if maybe_encoded(text):
            view = decode(text)
            if view.text != text:
                for found in self._plain(view.text, model):
                    start, end = view.original(found.start, found.end)
                    rec = f"{found.recognizer} (decoded)"
                    spans.append(PiiSpan(found.type, start, end, found.score, rec))
        if len(text) >= 16:
            for start, end, decoded in base64_blocks(text):
                inner = self._plain(decoded, model)
                if not inner and maybe_encoded(decoded):
                    inner = self._plain(decode(decoded).text, model)
                if inner:
                    best = max(inner, key=lambda s: s.score)
                    rec = f"{best.recognizer} (base64)"
                    spans.append(PiiSpan(best.type, start, end, best.score, rec))
        return _resolve(spans) if len(spans) > 1 else spans

    def _plain(self, text: str, model: bool = True) -> Sequence[PiiSpan]:
        found = super().scan(text, model=model)
        found.extend(PiiSpan(SECRET, s, e, SECRET_SCORE, _SECRETS) for s, e in secret_spans(text))
        return found


#: a text that makes the helper load its scanner and the entity model
_HELPER_WARM_UP = "Warm-up note for Jane Roe, jane@example.com."
#: the helper process's scanners, one per setting, kept warm between texts
_HELPER_SCANNERS: dict[ScannerSettings, GuardScanner] = {}


def _scan_in_helper(settings: ScannerSettings, text: str, model: bool) -> list[PiiSpan]:
    """`GuardScanner.scan` in the helper process (see `helper_process.py`)."""
    scanner = _HELPER_SCANNERS.get(settings)
    if scanner is None:
        min_score, ignore, allow, people = settings
        scanner = GuardScanner(min_score=min_score, ignore=ignore, allow=allow, people=people)
        _HELPER_SCANNERS[settings] = scanner
    return scanner.scan(text, model=model)
