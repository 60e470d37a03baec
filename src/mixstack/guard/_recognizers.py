"""The recognizers the privacy guard runs: Presidio's pattern recognizers plus our own.

Our own cover what Presidio's pattern set misses: API keys and tokens, private keys,
credentials in `key=value` form, and national IDs common in the EU (French NIR, Dutch BSN).
Each is a Presidio `PatternRecognizer`, so it runs the same way inside Presidio's own
`AnalyzerEngine` and in the guard's fast path. This module imports Presidio: import it
lazily, after `load_guard_library()`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    FiPersonalIdentityCodeRecognizer,
    IbanRecognizer,
    IpRecognizer,
    ItFiscalCodeRecognizer,
    PhoneRecognizer,
    PlPeselRecognizer,
    SePersonnummerRecognizer,
    UkNinoRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)

from mixstack.guard._regions import PHONE_REGIONS

__all__ = [
    "ApiKeyRecognizer",
    "ContextPatternRecognizer",
    "CredentialRecognizer",
    "FrNirRecognizer",
    "NlBsnRecognizer",
    "OfflineEmailRecognizer",
    "PrivateKeyRecognizer",
    "build_recognizers",
]


# The public suffix snapshot bundled with tldextract: never fetch the list at run time.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


#: vendor key prefixes and PEM armour are case-sensitive (Presidio's default ignores case)
_CASE_SENSITIVE = re.DOTALL | re.MULTILINE


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating domains against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_OFFLINE_TLD(pattern_text).fqdn)


class ContextPatternRecognizer(PatternRecognizer):
    """A pattern recognizer that raises its score when a context word precedes the match.

    Presidio's context enhancer needs tokens from an NLP model; with no model loaded we look
    for the context words in the `window` characters before each match instead.
    """

    window = 48
    boost = 0.4

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = super().analyze(
            text, entities, nlp_artifacts, regex_flags
        )
        words = [w.lower() for w in self.context or []]
        if not words:
            return results
        for result in results:
            before = text[max(0, result.start - self.window) : result.start].lower()
            if any(w in before for w in words):
                result.score = min(EntityRecognizer.MAX_SCORE, result.score + self.boost)
        return results


class ApiKeyRecognizer(PatternRecognizer):
    """API keys and access tokens with a recognisable vendor prefix."""

    PATTERNS = (
        Pattern("openai/anthropic", r"\bsk-(?:[a-z]+-)?[A-Za-z0-9_\-]{20,}", 0.9),
        Pattern("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})", 0.95),
        Pattern("aws access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.9),
        Pattern("slack", r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", 0.9),
        Pattern("google", r"\bAIza[0-9A-Za-z_\-]{35}", 0.9),
        Pattern("stripe", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}", 0.9),
        Pattern("hugging face", r"\bhf_[A-Za-z0-9]{30,}", 0.9),
        Pattern("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", 0.8),
    )

    def __init__(self) -> None:
        super().__init__(
            supported_entity="API_KEY",
            patterns=list(self.PATTERNS),
            name="ApiKeyRecognizer",
            global_regex_flags=_CASE_SENSITIVE,
        )


class CredentialRecognizer(PatternRecognizer):
    """`password = …`, `api_key: …`, `secret=…` with a value of 8 or more characters."""

    PATTERNS = (
        Pattern(
            "credential assignment",
            r"(?i)\b(?:api[_\-]?key|secret(?:[_\-]?key)?|access[_\-]?token|auth[_\-]?token|"
            r"client[_\-]?secret|password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?[^\s\"',;]{8,}",
            0.7,
        ),
    )

    def __init__(self) -> None:
        super().__init__(
            supported_entity="SECRET", patterns=list(self.PATTERNS), name="CredentialRecognizer"
        )


class PrivateKeyRecognizer(PatternRecognizer):
    """PEM private keys (RSA, EC, OpenSSH, PKCS#8), whole blocks or a lone header line."""

    PATTERNS = (
        Pattern(
            "pem block",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
            1.0,
        ),
        Pattern("pem header", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----", 0.9),
    )

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PRIVATE_KEY",
            patterns=list(self.PATTERNS),
            name="PrivateKeyRecognizer",
            global_regex_flags=_CASE_SENSITIVE,
        )


class FrNirRecognizer(ContextPatternRecognizer):
    """French social security number (NIR, 13 digits + 2-digit key = 97 - n mod 97)."""

    PATTERNS = (
        Pattern(
            "nir",
            r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[AB])[ .]?\d{3}"
            r"[ .]?\d{3}[ .]?\d{2}\b",
            0.5,
        ),
    )
    CONTEXT = ("sécurité sociale", "securite sociale", "nir", "insee", "numéro de sécu")

    def __init__(self) -> None:
        super().__init__(
            supported_entity="FR_NIR",
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            name="FrNirRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isalnum()).upper()
        body, key = digits[:13], digits[13:]
        body = body.replace("2A", "19").replace("2B", "18")
        if not (body.isdigit() and key.isdigit()):
            return False
        return 97 - int(body) % 97 == int(key)


class NlBsnRecognizer(ContextPatternRecognizer):
    """Dutch citizen service number (BSN): 9 digits passing the eleven test."""

    PATTERNS = (Pattern("bsn", r"\b\d{4}[ .]?\d{2}[ .]?\d{3}\b", 0.1),)
    CONTEXT = ("bsn", "burgerservicenummer", "sofinummer", "citizen service number")

    def __init__(self) -> None:
        super().__init__(
            supported_entity="NL_BSN",
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            name="NlBsnRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        if len(digits) != 9:
            return True
        total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
        return (total - digits[8]) % 11 != 0


def build_recognizers(language: str = "en") -> Sequence[EntityRecognizer]:
    """Every recognizer the guard runs, in one list (also used to build an AnalyzerEngine)."""
    return (
        OfflineEmailRecognizer(supported_language=language),
        PhoneRecognizer(supported_language=language, supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(supported_language=language),
        IbanRecognizer(supported_language=language),
        IpRecognizer(supported_language=language),
        CryptoRecognizer(supported_language=language),
        UsSsnRecognizer(supported_language=language),
        UsItinRecognizer(supported_language=language),
        UkNinoRecognizer(supported_language=language),
        EsNifRecognizer(supported_language=language),
        EsNieRecognizer(supported_language=language),
        ItFiscalCodeRecognizer(supported_language=language),
        PlPeselRecognizer(supported_language=language),
        FiPersonalIdentityCodeRecognizer(supported_language=language),
        SePersonnummerRecognizer(supported_language=language),
        ApiKeyRecognizer(),
        CredentialRecognizer(),
        PrivateKeyRecognizer(),
        FrNirRecognizer(),
        NlBsnRecognizer(),
    )
