"""Injection patterns in untrusted text (tool output): instructions hiding in data.

`scan_injection` finds text that tries to steer a model (override its rules, call tools,
reveal secrets, send data out, raise limits, impersonate a role) and hidden text (zero-width,
bidirectional or tag characters, HTML comments, invisible styling). It returns the findings
and a cleaned copy with invisible characters removed. Findings are signals for the runtime
(label the output, require approval for side effects); they never grant anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["InjectionFinding", "InjectionScan", "scan_injection"]

_I = re.IGNORECASE | re.DOTALL

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "override",
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}?\b(previous|prior|above|"
            r"earlier|all|any|your|the|system)\b.{0,20}?\b(instructions?|rules?|prompts?|"
            r"directives?|guidelines?|polic(y|ies)|constraints?)\b|\bnew instructions?\s*:|"
            r"\byou are now\b|\bfrom now on,? you\b|\bact as (an? )?(unrestricted|admin)",
            _I,
        ),
    ),
    (
        "tool_call",
        re.compile(
            r"\b(call|use|invoke|run|execute|trigger)\b.{0,20}?\b(the\s+)?[a-z_.]+\s+"
            r"(tool|function|command)\b|\{\s*\"(tool|tool_calls|name|function)\"\s*:|"
            r"\b(write_file|http_get|delete_file|shell|exec)\s*\(",
            _I,
        ),
    ),
    (
        "secrets",
        re.compile(
            r"\b(reveal|print|show|output|leak|send|give|disclose|dump)\b.{0,30}?\b(system "
            r"prompt|api[ _-]?keys?|passwords?|secrets?|tokens?|credentials?|private keys?|"
            r"\.env\b|id_rsa|/etc/passwd|ssh keys?)",
            _I,
        ),
    ),
    (
        "exfiltration",
        re.compile(
            r"\b(send|post|upload|forward|exfiltrate|transmit|copy|email)\b.{0,60}?"
            r"\b(to|at|into)\b.{0,20}?(https?://|\b[\w.-]+@[\w-]+\.\w+|\bwebhook)|"
            r"\b(curl|wget)\s+\S+|https?://\S+[?&](data|secret|key|token|content)=",
            _I,
        ),
    ),
    (
        "limits",
        re.compile(
            r"\b(increase|raise|extend|remove|disable|lift|bypass|double|set)\b.{0,20}?"
            r"\b(the\s+)?(budget|spending limit|limits?|max[_ ]?steps|step (cap|limit)|"
            r"token limit|quota)\b|\bunlimited (budget|steps|tokens)\b",
            _I,
        ),
    ),
    (
        "permissions",
        re.compile(
            r"\byou (are|have been) (now )?(allowed|authori[sz]ed|permitted|granted)\b|"
            r"\bpermissions? (granted|override|elevated)\b|\b(admin|developer|god|jailbreak)"
            r" mode\b|\b(grant|give) (yourself|the agent) (access|permission)",
            _I,
        ),
    ),
    (
        "role_marker",
        re.compile(
            r"<\|(im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|"
            r"</?(system|instructions?|tool_output)\b[^>]*>|^\s*(system|assistant)\s*:",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        "hidden",
        re.compile(
            r"<!--.*?-->|(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|"
            r"opacity\s*:\s*0(?![.\d]))",
            _I,
        ),
    ),
)

# zero-width and joiner characters, bidi controls, word joiners, BOM, Unicode tag characters
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)


@dataclass(frozen=True, slots=True)
class InjectionFinding:
    kind: str
    excerpt: str
    start: int


@dataclass(frozen=True, slots=True)
class InjectionScan:
    findings: tuple[InjectionFinding, ...]
    cleaned: str

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({f.kind for f in self.findings}))

    @property
    def flagged(self) -> bool:
        return bool(self.findings)


def scan_injection(text: str, *, max_findings: int = 20) -> InjectionScan:
    """Find instruction-like and hidden content; the cleaned text has invisible chars removed."""
    findings: list[InjectionFinding] = []
    invisible = list(_INVISIBLE.finditer(text))
    if invisible:
        first = invisible[0]
        findings.append(
            InjectionFinding("hidden", f"{len(invisible)} invisible characters", first.start())
        )
    cleaned = _INVISIBLE.sub("", text) if invisible else text
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(cleaned):
            excerpt = " ".join(match.group(0).split())[:80]
            findings.append(InjectionFinding(kind, excerpt, match.start()))
            if len(findings) >= max_findings:
                break
        if len(findings) >= max_findings:
            break
    findings.sort(key=lambda f: f.start)
    return InjectionScan(tuple(findings), cleaned)
