"""Pattern recognizers for personal data Presidio's pattern set misses or mistypes.

Postal addresses (street-level, several countries' orders), dates of birth (a date with a
birth cue), obfuscated e-mail addresses ("ana at gmail dot com"), payment cards of every
real length (Luhn-checked), US social security numbers typed as such (not as phone
numbers), phone numbers a cue introduces, and names a cue or a title introduces (lower-case
ones too). Pure regular expressions: no model, no Presidio. Each finding names the
recognizer that made it, for `mixstack route --explain`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from mixstack.guard._pii import PiiSpan

__all__ = ["PATTERN_RECOGNIZERS", "luhn_ok", "pattern_findings"]

_I = re.IGNORECASE
#: one word of a name in any script: letters, inner apostrophes and hyphens
_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*"
_CAP_WORD = r"(?:[A-Z]|[À-ÖØ-ÞĀ-Ž]|[Α-ΩА-Я])(?:[^\W\d_]|['’\-](?=[^\W\d_]))*"

# -- names ---------------------------------------------------------------------------

#: words that follow a cue but are not names ("this is urgent", "patient is stable")
_NOT_NAMES = frozenset(
    (
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "being",
        "am",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "and",
        "or",
        "but",
        "not",
        "no",
        "yes",
        "so",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "as",
        "about",
        "into",
        "over",
        "after",
        "before",
        "than",
        "then",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "each",
        "every",
        "both",
        "either",
        "neither",
        "other",
        "another",
        "such",
        "only",
        "own",
        "same",
        "very",
        "just",
        "also",
        "still",
        "already",
        "now",
        "today",
        "tomorrow",
        "yesterday",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "dear",
        "sir",
        "madam",
        "team",
        "all",
        "everyone",
        "everybody",
        "customer",
        "client",
        "patient",
        "user",
        "admin",
        "support",
        "sales",
        "manager",
        "doctor",
        "nurse",
        "staff",
        "employee",
        "member",
        "going",
        "trying",
        "looking",
        "writing",
        "calling",
        "asking",
        "sorry",
        "happy",
        "glad",
        "able",
        "unable",
        "sure",
        "not",
        "fine",
        "good",
        "well",
        "ok",
        "okay",
        "new",
        "stable",
        "urgent",
        "important",
        "interested",
        "concerned",
        "currently",
        "aged",
        "age",
        "years",
        "old",
        "born",
        "living",
        "located",
        "based",
        "responsible",
        "available",
        "back",
        "here",
        "out",
        "up",
        "down",
        "off",
        "again",
        "admitted",
        "discharged",
        "referred",
        "scheduled",
        "due",
        "married",
        "single",
        "divorced",
        "retired",
        "pregnant",
        "diabetic",
        "allergic",
    )
)

_TITLES = (
    r"(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|lady|lord|herr|frau|mme|mlle|sr|sra|"
    r"srta|sig|sig\.ra|dott)"
)
_TITLE_NAME = re.compile(
    rf"(?<![\w.])(?P<title>(?i:{_TITLES})\.?)\s+(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})"
)
#: cues after which even a lower-case word is a name
_STRONG_CUE = re.compile(
    r"(?i:\bmy name is|\bmy name's|\bname\s*[:=]|\bfull name\s*[:=]?|\bpatient name\s*[:=]?|"
    r"\bemployee name\s*[:=]?|\bsigned[,:]?|\bi am called|\bi'm called|\bcall me)\s+"
    rf"(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})"
)
#: cues after which a capitalised word is a name
_WEAK_CUE = re.compile(
    r"(?i:\bthis is|\bi am|\bi'm|\bnamed|\bcalled|\bpatient|\bemployee|\bclient|\bcustomer|"
    r"\btenant|\bapplicant|\bcandidate|\bcolleague|\bdear|\bhi|\bhello|\bregards,|"
    r"\bsincerely,|\bthanks,|\bcontact|\bspoke (?:to|with)|"
    r"\bmy (?:wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister|partner|"
    r"friend|boss|manager|colleague|neighbou?r|grandmother|grandfather|uncle|aunt|cousin))"
    rf"[\s,]+(?P<name>{_CAP_WORD}(?:[ \t]+{_CAP_WORD}){{0,2}})"
)
#: a capitalised run of Cyrillic or Greek words inside otherwise Latin text
_OTHER_SCRIPT_NAME = re.compile(
    r"(?<![^\W\d_])[А-ЯЁΑ-Ω][а-яёα-ωά-ώ]+(?:\s+[А-ЯЁΑ-Ω][а-яёα-ωά-ώ]+){1,2}"
)
#: a short run of CJK characters, Arabic, Hebrew or Devanagari words inside Latin text
_UNCASED_SCRIPT_NAME = re.compile(
    r"(?<![\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af])[\u4e00-\u9fff\uac00-\ud7af]{2,4}"
    r"(?![\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af])"
    r"|[\u0600-\u06ff]{2,}(?:\s+[\u0600-\u06ff]{2,}){1,2}"
    r"|[\u0590-\u05ff]{2,}(?:\s+[\u0590-\u05ff]{2,}){1,2}"
    r"|[\u0900-\u097f]{2,}(?:\s+[\u0900-\u097f]{2,}){1,2}"
)
_LATIN = re.compile(r"[A-Za-z]{3,}")


def _name_span(match: re.Match[str]) -> tuple[int, int] | None:
    """The name's span, cut at the first word that is not a name; None if none is left."""
    base = match.start("name")
    words = []
    for w in re.finditer(r"\S+", match.group("name")):
        if w.group().lower() in _NOT_NAMES:
            break
        words.append(w)
    if not words:
        return None
    return base + words[0].start(), base + words[-1].end()


_LOWER_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "mr.", "mrs.", "ms.", "dr."})
#: cues too common in ordinary prose to trust a single capitalised word after them
_LOOSE_CUES = frozenset({"this is", "i am", "i'm", "named", "called", "contact"})


def _plausible(regex: re.Pattern[str], m: re.Match[str], name: str) -> bool:
    if regex is _TITLE_NAME:
        return not name[0].islower() or m.group("title").lower() in _LOWER_TITLES
    if regex is _WEAK_CUE:
        cue = m.group(0)[: m.start("name") - m.start()].strip(" ,\t\n").lower()
        return cue not in _LOOSE_CUES or " " in name
    return True


def _names(text: str) -> Iterator[PiiSpan]:
    for regex, score, rec in (
        (_TITLE_NAME, 0.8, "TitleNameRecognizer"),
        (_STRONG_CUE, 0.8, "NameCueRecognizer"),
        (_WEAK_CUE, 0.6, "NameCueRecognizer"),
    ):
        for m in regex.finditer(text):
            span = _name_span(m)
            if span is not None and _plausible(regex, m, text[span[0] : span[1]]):
                yield PiiSpan("PERSON", span[0], span[1], score, rec)
    if _LATIN.search(text):
        for m in _OTHER_SCRIPT_NAME.finditer(text):
            yield PiiSpan("PERSON", m.start(), m.end(), 0.6, "ScriptNameRecognizer")
        for m in _UNCASED_SCRIPT_NAME.finditer(text):
            yield PiiSpan("PERSON", m.start(), m.end(), 0.5, "ScriptNameRecognizer")


# -- addresses -----------------------------------------------------------------------

_STREET_TYPES = (
    r"street|st|road|rd|avenue|ave|av|lane|ln|boulevard|blvd|drive|dr|court|ct|place|pl|"
    r"square|sq|terrace|ter|way|close|crescent|cres|highway|hwy|parkway|pkwy|circle|cir|"
    r"trail|trl|row|mews|gardens|grove|hill|walk|alley|plaza|route|rte|pike|path|loop|"
    r"point|pt|ridge|run|view|vista|station|stn|estates|heights|hts|harbor|harbour|haven|"
    r"junction|jct|meadows?|mills?|springs?|villas?|marg|nagar|chowk|expressway|freeway|"
    r"turnpike|causeway|esplanade|embankment|quay|wharf|parade|promenade|broadway"
)
_UNIT = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|#)\.?\s*#?\s*[\w\-]{1,6})"
#: "12 Baker Street", "4759 William Haven Apt. 194", "221B baker st"
_NUMBER_FIRST = re.compile(
    rf"(?<![\w/.,-])(?:(?i:flat|apt|apartment|unit|suite)\.?\s*[\w\-]{{1,6}},?\s+)?"
    rf"\d{{1,6}}[A-Za-z]?(?:[-/]\d{{1,4}}[A-Za-z]?)?,?\s+"
    rf"(?:(?:[NSEW]|north|south|east|west)\.?\s+)?(?:[^\W\d_][\w'’.\-]*\s+){{0,4}}"
    rf"(?i:{_STREET_TYPES})\b\.?(?i:{_UNIT})?",
)
#: "Hauptstraße 5", "Keizersgracht 123", "Storgatan 12"
_NAME_FIRST = re.compile(
    r"(?<![\w-])(?:[A-ZÄÖÜÅÆØ][\w'’\-]*\s+)?[A-ZÄÖÜÅÆØa-zäöüåæø][\wäöüßåæø'’\-]*"
    r"(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|laan|straat|gracht|plein|"
    r"kade|singel|vej|gade|gatan|gata|vägen|veien|gaten|katu|tie|utca|ulice|ulica)"
    r"\s+\d{1,4}\s?[a-zA-Z]?\b"
    # the same street words standing apart: "Karl Johans gate 54", "Berliner Weg 93"
    r"|(?<![\w-])[A-ZÄÖÜÅÆØ][\w'’\-]*(?:\s+[A-ZÄÖÜÅÆØ][\w'’\-]*)?\s+"
    r"(?i:straße|strasse|weg|gasse|platz|allee|ring|laan|straat|gracht|plein|vej|gade|gatan|"
    r"gata|gate|vägen|veien|vei|tie|katu|utca)\s+\d{1,4}\s?[a-zA-Z]?\b"
)
#: "12 rue de la Paix", "calle Mayor 5", "Via Roma 10", "Rua Augusta, 274", "ul. Długa 3"
_ROMANCE = re.compile(
    r"(?<![\w-])(?:\d{1,4}(?:\s?(?:bis|ter))?,?\s+)?"
    r"(?i:rue|avenue|av\.|boulevard|bd|chemin|allée|impasse|quai|cours|calle|c/|avenida|"
    r"avda\.?|plaza|paseo|carrer|camino|via|viale|piazza|corso|vicolo|largo|rua|travessa|"
    r"praça|estrada|ul\.|ulica|aleja|al\.|jalan|jl\.|lorong|soi|thanon|duong|đường|phố)"
    r"\s+(?:(?i:de la|de l'|de los|de las|del|della|delle|dei|degli|de|des|du|da|do|dos|das|"
    r"la|le|les)\s+)?"
    r"[^\W\d_][\w'’\-]*(?:\s+[^\W\d_][\w'’\-]*){0,3},?\s*(?:n[ºo°.]\s*)?(?:\d{1,4}(?!\d)[a-zA-Z]?)?"
)
_PO_BOX = re.compile(
    r"\b(?i:p\.?\s?o\.?\s*box|postfach|apartado(?: de correos)?|boîte postale)\s*\d+"
)
#: "1-2-3 Jingumae, Shibuya-ku", "北京市朝阳区建国路88号"
_EAST_ASIAN = re.compile(
    r"\b\d{1,2}-\d{1,2}(?:-\d{1,3})?\s+[A-Z][a-z]+(?:[- ][A-Za-z]+)*,?\s+"
    r"[A-Z][a-z]+-(?:ku|shi|cho|machi|gun)\b"
    r"|[\u4e00-\u9fff]{2,}(?:路|街|道|巷|大道|胡同)\d+号"
)
#: what may follow a street: ", Springfield, IL 62704", ", London NW1 6XE", "75002 Paris"
_TAIL = re.compile(
    r"(?:,?[ \t]+\d{4,5}[ \t]+[A-Z][^\W\d_]+(?:[ \t-][A-Z][^\W\d_]+)?"
    r"|(?:,[ \t]*[A-Z][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*(?:[ \t]+[A-Z][^\W\d_]+){0,2}){1,2}"
    r"(?:,?[ \t]+(?:[A-Z]{2}[ \t]+)?\d{5}(?:-\d{4})?(?!\d)"
    r"|,?[ \t]+[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}\b"
    r"|,?[ \t]+[A-Z]\d[A-Z][ \t]?\d[A-Z]\d\b"
    r"|[ \t]+\d{3}[ \t]?\d{2}\b|[ \t]+\d{6}\b)?"
    r"|,?[ \t]+(?:[A-Z]{2}[ \t]+)?\d{5}(?:-\d{4})?(?!\d))?"
)
_ADDRESS_CUE = re.compile(
    r"(?i:\b(?:lives|living|live|resides|residing|reside|located|moved|relocated|staying|"
    r"stays)\s+(?:at|in|on|to)|\baddress(?:ed)?\s*(?:is|:|=)?|\bship(?:ping)?\s+to\b|"
    r"\bdeliver(?:y)?\s+to\b|\bhome\s+address|\bmailing\s+address|\bbilling\s+address|"
    r"\bborn\s+in|\bfrom|\bhometown|\bneighbou?rhood\s+of)\s*:?\s*$"
)
#: a postcode alone (UK, Canada) is nearly as identifying as a street
_POSTCODE = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}|[A-Z]\d[A-Z]\s\d[A-Z]\d)(?![\w-])"
)


def _addresses(text: str) -> Iterator[PiiSpan]:
    for regex, score in ((_NUMBER_FIRST, 0.75), (_NAME_FIRST, 0.75), (_ROMANCE, 0.6)):
        for m in regex.finditer(text):
            start, end = m.span()
            while end > start and text[end - 1] in ", \t":
                end -= 1
            if regex is _ROMANCE and not any(c.isdigit() for c in m.group(0)):
                continue  # "rue" alone, "via email": a street needs a number
            tail = _TAIL.match(text, end)
            if tail is not None:
                end = tail.end()
            yield PiiSpan("STREET_ADDRESS", start, end, score, "StreetAddressRecognizer")
    for m in _PO_BOX.finditer(text):
        yield PiiSpan("STREET_ADDRESS", m.start(), m.end(), 0.75, "StreetAddressRecognizer")
    for m in _EAST_ASIAN.finditer(text):
        yield PiiSpan("STREET_ADDRESS", m.start(), m.end(), 0.75, "StreetAddressRecognizer")
    for m in _POSTCODE.finditer(text):
        yield PiiSpan("STREET_ADDRESS", m.start(), m.end(), 0.5, "PostcodeRecognizer")


def address_cue_before(text: str, start: int) -> bool:
    """Whether an address cue ("lives in", "address:") ends right before `start`."""
    return _ADDRESS_CUE.search(text[max(0, start - 40) : start]) is not None


# -- dates of birth ------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    r"|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH},?\s+\d{{2,4}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}"
    rf"|{_MONTH}\s+\d{{4}})"
)
_DOB = re.compile(
    r"(?i:\b(?:born(?:\s+on)?|birth\s*(?:date|day)?|date\s+of\s+birth|d\.?\s?o\.?\s?b\.?|"
    r"birthday(?:\s+is)?|b\.)\s*(?:is|was|on|:|=|-)?\s*(?:on\s+)?)"
    rf"(?P<date>(?i:{_DATE}))"
)


def _dates_of_birth(text: str) -> Iterator[PiiSpan]:
    for m in _DOB.finditer(text):
        yield PiiSpan(
            "DATE_OF_BIRTH", m.start("date"), m.end("date"), 0.85, "DateOfBirthRecognizer"
        )


def is_date_of_birth_context(text: str, start: int) -> bool:
    """Whether a birth cue precedes a date the model found at `start`."""
    before = text[max(0, start - 32) : start].lower()
    return any(w in before for w in ("born", "birth", "dob", "d.o.b", "b. "))


# -- e-mail, cards, SSNs, phones -------------------------------------------------------

_OBFUSCATED_EMAIL = re.compile(
    r"(?<![\w.])[A-Za-z0-9][\w.+\-]*(?:\s*(?:\[|\(|\{|<)?\s*(?i:at)\s*(?:\]|\)|\}|>)?\s*|\s*(?:\[|\()@(?:\]|\))\s*)"
    r"[A-Za-z0-9\-]+(?:\s*(?:\[|\(|\{|<)?\s*(?i:dot)\s*(?:\]|\)|\}|>)?\s*[A-Za-z]{2,10}){1,3}\b"
)
_PLAIN_AT = re.compile(r"\s(?:at)\s", _I)


def _emails(text: str) -> Iterator[PiiSpan]:
    for m in _OBFUSCATED_EMAIL.finditer(text):
        raw = m.group(0)
        if "dot" not in raw.lower():
            continue
        # "meet at noon dot" is prose: the local part must not be a common word before " at "
        local = _PLAIN_AT.split(raw, maxsplit=1)[0]
        if local.lower() in _NOT_NAMES:
            continue
        yield PiiSpan("EMAIL_ADDRESS", m.start(), m.end(), 0.8, "ObfuscatedEmailRecognizer")


_CARD = re.compile(r"(?<![\d\-])(?:\d[ \-]?){11,18}\d(?![\d\-])")
_CARD_CUE = re.compile(
    r"(?i:card|visa|master\s?card|amex|american express|discover|maestro|diners|jcb|"
    r"unionpay|cc\b|payment|credit|debit)"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _cards(text: str) -> Iterator[PiiSpan]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        # every card length in use (13: old Visa, 14: Diners, 15: Amex, 16-19: the rest)
        if not 13 <= len(digits) <= 19 or digits[0] not in "123456" or not luhn_ok(digits):
            continue
        cue = _CARD_CUE.search(text[max(0, m.start() - 40) : m.start()]) is not None
        grouped = bool(
            re.fullmatch(
                r"\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?|\d{4}[ \-]\d{6}[ \-]\d{4,5}", m.group(0)
            )
        )
        score = 0.95 if cue else 0.85 if grouped else 0.6
        yield PiiSpan("CREDIT_CARD", m.start(), m.end(), score, "CardNumberRecognizer")


_SSN = re.compile(r"(?<![\d\-])(?!000|666|9\d\d)\d{3}([ \-]?)(?!00)\d{2}\1(?!0000)\d{4}(?![\d\-])")
_SSN_CUE = re.compile(r"(?i:ssn|social security|social sec|soc\.? sec|ss#|ss no|taxpayer)")


def _ssns(text: str) -> Iterator[PiiSpan]:
    for m in _SSN.finditer(text):
        cue = _SSN_CUE.search(text[max(0, m.start() - 40) : m.start()]) is not None
        if m.group(1) == "" and not cue:
            continue  # nine bare digits: too many other things look like that
        score = 0.9 if cue else 0.5
        yield PiiSpan("US_SSN", m.start(), m.end(), score, "SsnRecognizer")


_PHONE_CUE = re.compile(
    r"(?i:\b(?:phone|tel|telephone|mobile|cell|cellphone|whatsapp|call(?:\s+me)?(?:\s+on|\s+at)?|"
    r"text(?:\s+me)?(?:\s+on|\s+at)?|ph|mob|fax|landline|number|no\.?|reach me (?:on|at))\b"
    r"\s*(?:is|:|#|=)?\s*)"
    r"(?P<num>\+?\(?\d[\d\s().\-]{5,18}\d)"
)


def _phones(text: str) -> Iterator[PiiSpan]:
    for m in _PHONE_CUE.finditer(text):
        digits = sum(c.isdigit() for c in m.group("num"))
        if 7 <= digits <= 15:
            yield PiiSpan("PHONE_NUMBER", m.start("num"), m.end("num"), 0.7, "PhoneCueRecognizer")


PATTERN_RECOGNIZERS: tuple[Callable[[str], Iterator[PiiSpan]], ...] = (
    _names,
    _addresses,
    _dates_of_birth,
    _emails,
    _cards,
    _ssns,
    _phones,
)


def pattern_findings(text: str) -> list[PiiSpan]:
    """Every pattern finding in `text` (overlaps are resolved by the caller)."""
    return [span for recognizer in PATTERN_RECOGNIZERS for span in recognizer(text)]
