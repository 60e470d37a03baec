"""Where text enters: every part of a request scanned on the channel it arrived by.

- `user` channel: the first text part of each user message (what the caller typed), for
  jailbreak attempts.
- `untrusted` channel: tool results (`tool` messages), documents attached to a user message
  (its further text parts) and OCR text of images, for injections.

System and assistant messages are the operator's and the model's own and are not scanned.
Results are cached per text: a chat client resends the whole history every turn, so each
message is scanned once, not once per turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from threading import Lock
from typing import Any

from mixstack._types import Request, TextPart
from mixstack.guard._injection import Channel, InjectionScan, scan_injection

__all__ = [
    "Inspection",
    "MessageFinding",
    "ScanCache",
    "inspect_request",
    "request_chars",
    "texts_to_scan",
]

#: texts longer than this are not cached (they are rarely resent and would pin memory)
_CACHE_MAX_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class MessageFinding:
    """A flagged piece of a request: which message, by which channel, and what was found."""

    message: int
    source: str  # user | document | tool | ocr
    channel: Channel
    scan: InjectionScan

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "source": self.source,
            "score": self.scan.score,
            "kinds": list(self.scan.kinds),
            "findings": [
                {"kind": f.kind, "score": f.score, "excerpt": f.excerpt} for f in self.scan.findings
            ],
        }


@dataclass(frozen=True, slots=True)
class Inspection:
    """All flagged pieces of one request; empty when nothing was found."""

    findings: tuple[MessageFinding, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    @property
    def score(self) -> float:
        return max((f.scan.score for f in self.findings), default=0.0)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({k for f in self.findings for k in f.scan.kinds}))

    @property
    def jailbreak(self) -> bool:
        return any(f.channel == "user" and f.scan.jailbreak for f in self.findings)

    @property
    def label(self) -> str:
        """`jailbreak` (the caller's own text) or `injection` (untrusted content)."""
        return "jailbreak" if self.jailbreak else "injection"

    def summary(self) -> str:
        """One line for a header or a log: label, score, kinds and where."""
        sources = ",".join(sorted({f.source for f in self.findings}))
        return f"{self.label}; score={self.score:.2f}; kinds={','.join(self.kinds)}; in={sources}"

    def merged(self, other: Inspection) -> Inspection:
        return Inspection(self.findings + other.findings)


class ScanCache:
    """A bounded LRU of scans by (channel, text), safe to share between threads."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._items: OrderedDict[tuple[str, str], InjectionScan] = OrderedDict()
        self._lock = Lock()

    def scan(self, text: str, channel: Channel) -> InjectionScan:
        if len(text) > _CACHE_MAX_CHARS:
            return scan_injection(text, channel=channel)
        key = (channel, text)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        scan = scan_injection(text, channel=channel)
        with self._lock:
            self._items[key] = scan
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return scan


def texts_to_scan(request: Request) -> Iterator[tuple[int, str, Channel, str]]:
    """(message index, source, channel, text) of every piece of text that entered."""
    for index, message in enumerate(request.messages):
        if message.role == "tool":
            yield index, "tool", "untrusted", message.text
        elif message.role == "user":
            texts = [p.text for p in message.content if isinstance(p, TextPart)]
            for n, text in enumerate(texts):
                if n == 0:
                    yield index, "user", "user", text
                else:
                    yield index, "document", "untrusted", text


def inspect_request(request: Request, cache: ScanCache | None = None) -> Inspection:
    """Scan every entering text of `request`; only flagged pieces are kept."""
    found = []
    for index, source, channel, text in texts_to_scan(request):
        if not text.strip():
            continue
        scan = cache.scan(text, channel) if cache else scan_injection(text, channel=channel)
        if scan.flagged:
            found.append(MessageFinding(index, source, channel, scan))
    return Inspection(tuple(found))


def request_chars(request: Request) -> int:
    return sum(len(text) for _, _, _, text in texts_to_scan(request))
