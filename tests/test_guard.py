"""The privacy guard: detection (fast path vs Presidio's own engine), secrets, redaction."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mixstack._types import Message, Request, ToolCall
from mixstack.guard import PiiScanner, RedactionMap, StreamRestorer, redact_request

CORPUS = [
    "Contact john.doe@example.com or call +1 (415) 555-2671 before noon.",
    "Card 4111 1111 1111 1111 and 5500-0000-0000-0004 were both declined.",
    "Wire it to DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 please.",
    "The server at 192.168.1.20 talks to fe80::1ff:fe23:4567:890a over the VPN.",
    "SSN 536-90-4399, NINO AB 12 34 56 C, codice fiscale RSSMRA85T10A562S.",
    "Ring our Paris office on +33 1 42 68 53 00 or Berlin on +49 30 901820.",
    "In 2024 revenue grew 15% to 1,250,000 euros across 12 regions; see page 42.",
    "Meeting at 10:30 in room 4.12; the build 2.3.1 ships on 2025-03-14.",
    "mail:first.last+tag@sub.example.co.uk,phone:0049-30-901820;ip=10.0.0.1",
]


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    found = PiiScanner()
    found.warm_up()
    return found


def test_fast_path_finds_what_presidios_engine_finds(scanner: PiiScanner) -> None:
    engine = scanner.analyzer_engine()
    for text in CORPUS:
        fast = {(s.type, s.start, s.end) for s in scanner.scan(text)}
        slow = engine.analyze(text=text, language="en", score_threshold=scanner.min_score)
        for r in slow:
            # a finding the engine reports is found too, or lost to a stronger overlapping one
            same = (r.entity_type, r.start, r.end) in fast
            beaten = any(s < r.end and r.start < e for _, s, e in fast)
            assert same or beaten, (text, r.entity_type, text[r.start : r.end])


def test_finds_each_kind_and_nothing_in_clean_text(scanner: PiiScanner) -> None:
    def types(text: str) -> set[str]:
        return {s.type for s in scanner.scan(text)}

    assert types(CORPUS[0]) == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert types(CORPUS[1]) == {"CREDIT_CARD"}
    assert types(CORPUS[2]) == {"IBAN_CODE"}
    assert types(CORPUS[3]) == {"IP_ADDRESS"}
    assert {"US_SSN", "UK_NINO", "IT_FISCAL_CODE"} <= types(CORPUS[4])
    assert types(CORPUS[5]) == {"PHONE_NUMBER"}
    assert types(CORPUS[6]) == set()
    assert types("Nothing private here, just a plain sentence.") == set()
    # invalid checksums are not findings
    assert types("Card 4111 1111 1111 1112 and IBAN DE89 3704 0044 0532 0130 01.") == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("export OPENAI_API_KEY=sk-proj-Q7xw9PzL2mVb8TnR4kYc6HdJ", "API_KEY"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "API_KEY"),
        ("aws AKIAIOSFODNN7EXAMPLE in the script", "API_KEY"),
        ("slack xoxb-1234567890-abcdefghij", "API_KEY"),
        ("db password = 'hunter2hunter2'", "SECRET"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY"),
        ("numéro de sécurité sociale 1 85 05 78 006 084 91", "FR_NIR"),
        ("BSN 111222333 van de klant", "NL_BSN"),
    ],
)
def test_secrets_and_eu_ids(scanner: PiiScanner, text: str, kind: str) -> None:
    assert kind in {s.type for s in scanner.scan(text)}


def test_bsn_without_context_or_checksum_is_not_a_finding(scanner: PiiScanner) -> None:
    assert "NL_BSN" not in {s.type for s in scanner.scan("order 111222333 shipped")}
    assert "NL_BSN" not in {s.type for s in scanner.scan("BSN 111222334 van de klant")}


def test_ignore_and_min_score() -> None:
    lenient = PiiScanner(ignore=["IP_ADDRESS"])
    assert lenient.scan("ping 10.1.2.3 now") == []
    strict = PiiScanner(min_score=0.9)
    assert {s.type for s in strict.scan(CORPUS[0])} == {"EMAIL_ADDRESS"}


def test_redaction_is_stable_and_restores(scanner: PiiScanner) -> None:
    call = ToolCall(id="1", name="send", arguments=json.dumps({"to": "ann@example.com"}))
    request = Request(
        messages=(
            Message.user("Email ann@example.com and bob@example.com"),
            Message.assistant("", (call,)),
            Message.tool("1", "sent to ann@example.com"),
        )
    )
    redacted, mapping = redact_request(scanner, request)
    tag = mapping.tag  # random per call: a placeholder cannot be guessed or typed
    texts = [m.text for m in redacted.messages]
    assert texts[0] == f"Email <EMAIL_ADDRESS_1_{tag}> and <EMAIL_ADDRESS_2_{tag}>"
    assert texts[2] == f"sent to <EMAIL_ADDRESS_1_{tag}>"
    args = redacted.messages[1].tool_calls[0].parsed_arguments()
    assert args == {"to": f"<EMAIL_ADDRESS_1_{tag}>"}
    assert mapping.restore(f"reply to <EMAIL_ADDRESS_2_{tag}>") == "reply to bob@example.com"
    unknown = f"unknown <EMAIL_ADDRESS_9_{tag}> and <EMAIL_ADDRESS_1> stay"
    assert mapping.restore(unknown) == unknown
    assert mapping.counts() == [("EMAIL_ADDRESS", 4)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
def test_stream_restorer_handles_split_placeholders(size: int) -> None:
    mapping = RedactionMap()
    one = mapping.placeholder("PHONE_NUMBER", "+44 20 7946 0958")
    two = mapping.placeholder("EMAIL_ADDRESS", "a@b.io")
    answer = f"Call {one} or mail {two} <b>now</b> < soon"
    restorer = StreamRestorer(mapping)
    pieces = [answer[i : i + size] for i in range(0, len(answer), size)]
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == "Call +44 20 7946 0958 or mail a@b.io <b>now</b> < soon"


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout.strip()


def test_clean_text_never_loads_presidio_and_import_is_light() -> None:
    out = _run(
        """
        import sys
        import mixstack
        from mixstack.guard import PiiScanner
        heavy = [m for m in ("presidio_analyzer", "spacy") if m in sys.modules]
        found = PiiScanner().scan("A plain sentence from 2024 with no private data.")
        print(heavy, found, "presidio_analyzer" in sys.modules)
        """
    )
    assert out == "[] [] False"


def test_the_guard_never_imports_torch_even_when_it_is_installed() -> None:
    out = _run(
        """
        import sys
        from mixstack.guard import PiiScanner
        scanner = PiiScanner()
        found = scanner.scan("Maria Garcia lives at 12 Baker Street; mail maria@example.org")
        scanner.analyzer_engine()
        print(len(found), "spacy" in sys.modules, "torch" in sys.modules)
        """
    )
    assert out == "3 True False"


def test_scanning_opens_no_network_connection() -> None:
    out = _run(
        """
        import sys
        attempts = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto"):
                attempts.append(event)
        sys.addaudithook(hook)
        from mixstack.guard import PiiScanner
        found = PiiScanner().scan("mail jane@example.org or visit 10.0.0.7")
        print(sorted({s.type for s in found}), attempts)
        """
    )
    assert out == "['EMAIL_ADDRESS', 'IP_ADDRESS'] []"


@pytest.mark.model
def test_text_inside_an_image_keeps_the_request_local() -> None:
    """OCR text of images is scanned too: a screenshot with an address stays on premises."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    from mixstack._types import ImagePart
    from mixstack.catalog import Catalog
    from mixstack.config import parse_config
    from mixstack.providers.base import ProviderRegistry
    from mixstack.router import Router

    image = Image.new("RGB", (900, 90), "white")
    font = ImageFont.load_default(size=36)
    ImageDraw.Draw(image).text(
        (20, 20), "Invoice for jane.roe@example.org", fill="black", font=font
    )
    data = io.BytesIO()
    image.save(data, "PNG")
    png = ImagePart.from_bytes(data.getvalue(), source="invoice.png")
    config = parse_config(
        {
            "models": [
                {"name": "fake/here", "provider": "fake"},
                {"name": "fake/there", "provider": "fake", "locality": "remote"},
            ],
            "workloads": {"see": {"privacy": "redact", "prefer": ["fake/there"]}},
        }
    )
    router = Router(config, Catalog(config, ProviderRegistry(config)))
    request = Request.from_prompt("What does this say?", images=(png,), workload="see")
    decision = router.decide(request)
    assert decision.model == "fake/here"
    assert [(c.type, c.count) for c in decision.pii] == [("EMAIL_ADDRESS", 1)]
    reasons = {e.model: e.reason for e in decision.excluded}
    assert "cannot be redacted" in reasons["fake/there"]


def test_chunk_restorer_restores_streamed_tool_arguments() -> None:
    from mixstack._types import Chunk, ToolCallDelta
    from mixstack.guard import ChunkRestorer

    mapping = RedactionMap()
    placeholder = mapping.placeholder("EMAIL_ADDRESS", "ann@example.com")
    args = json.dumps({"to": placeholder})
    restorer = ChunkRestorer(mapping)
    chunks = [Chunk(tool_calls=(ToolCallDelta(index=0, id="c1", name="send"),))]
    chunks += [
        Chunk(tool_calls=(ToolCallDelta(index=0, arguments=args[i : i + 4]),))
        for i in range(0, len(args), 4)
    ]
    chunks.append(Chunk(text=f"sent to {placeholder[:5]}"))
    chunks.append(Chunk(text=placeholder[5:]))
    out = [c for c in (restorer.feed(c) for c in chunks) if c is not None]
    out += restorer.flush()
    streamed_args = "".join(d.arguments for c in out for d in c.tool_calls)
    assert json.loads(streamed_args) == {"to": "ann@example.com"}
    assert "".join(c.text for c in out) == "sent to ann@example.com"
    assert out[0].tool_calls[0].name == "send"
