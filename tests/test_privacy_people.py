"""The guard finds people: names, addresses, dates of birth, identifiers, special categories.

These run the real entity model (spaCy's small English pipeline from its PyPI package) and
the real name lists; nothing is stubbed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mixstack._types import Request
from mixstack.catalog import Catalog
from mixstack.config import parse_config
from mixstack.errors import ConfigError
from mixstack.guard._categories import category_of
from mixstack.guard._entities import luhn_ok
from mixstack.guard._ner import LABELS, verify_weights
from mixstack.guard._pii import PiiScanner
from mixstack.guard._redact import redact_request
from mixstack.providers.base import ProviderRegistry
from mixstack.router import Router
from tests.conftest import run_cli

EVAL = Path(__file__).parent.parent / "bench" / "data" / "privacy_eval.jsonl"


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    s = PiiScanner()
    s.warm_up()
    return s


def found(scanner: PiiScanner, text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for span in scanner.scan(text):
        out.setdefault(span.type, []).append(text[span.start : span.end])
    return out


def test_the_issue_examples(scanner: PiiScanner) -> None:
    text = (
        "Patient John Smith, born 03/02/1980, lives at 12 Baker Street, London. "
        "Diagnosis: type 2 diabetes."
    )
    got = found(scanner, text)
    assert got["PERSON"] == ["John Smith"]
    assert got["DATE_OF_BIRTH"] == ["03/02/1980"]
    assert got["STREET_ADDRESS"] == ["12 Baker Street, London"]
    assert got["HEALTH_CONDITION"] == ["type 2 diabetes"]
    assert found(scanner, "Maria Garcia's salary is 85,000 EUR")["PERSON"]
    assert found(scanner, "My SSN is 078-05-1120") == {"US_SSN": ["078-05-1120"]}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is wei zhang and I need a refund", "wei zhang"),
        ("Please forward this to Mrs. Okonkwo-Adeyemi today.", "Okonkwo-Adeyemi"),
        ("Contact Мария Иванова about the invoice.", "Мария Иванова"),
        ("AISHA WATANABE - DOB 9 May 1988 - asthma", "AISHA WATANABE"),
        ("Write a will clause leaving the house to Layla Ngata.", "Layla Ngata"),
    ],
)
def test_names_in_any_case_and_script(scanner: PiiScanner, text: str, name: str) -> None:
    assert name in found(scanner, text).get("PERSON", [])


@pytest.mark.parametrize(
    "address",
    [
        "4759 William Haven Apt. 194, West Corey, CA 90152",
        "Hauptstraße 5, 10115 Berlin",
        "12 rue de la Paix, 75002 Paris",
        "Karl Johans gate 54, Oslo",
        "Flat 3B, 12 MG Road, Bengaluru 560001",
        "P.O. Box 4411",
    ],
)
def test_street_addresses_of_many_countries(scanner: PiiScanner, address: str) -> None:
    got = found(scanner, f"Please send the parcel to {address} by Friday.")
    assert address in got.get("STREET_ADDRESS", []), got


@pytest.mark.parametrize(
    "number",
    [
        "4222222222222",  # 13: old Visa
        "30569309025904",  # 14: Diners
        "378282246310005",  # 15: Amex
        "4111 1111 1111 1111",  # 16, grouped
        "6304000000000000018",  # 19: Maestro
    ],
)
def test_cards_of_every_real_length_are_luhn_checked(scanner: PiiScanner, number: str) -> None:
    digits = number.replace(" ", "")
    assert luhn_ok(digits)
    assert found(scanner, f"charge card {number} again") == {"CREDIT_CARD": [number]}
    broken = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert "CREDIT_CARD" not in found(scanner, f"reference {broken} again")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("write to ana.lopez at gmail dot com", "ana.lopez at gmail dot com"),
        ("mail j.doe [at] example [dot] org today", "j.doe [at] example [dot] org"),
        ("wei(at)company(dot)cn", "wei(at)company(dot)cn"),
    ],
)
def test_obfuscated_emails(scanner: PiiScanner, text: str, value: str) -> None:
    assert found(scanner, text).get("EMAIL_ADDRESS") == [value]


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "+49 30 9018200", "(212) 555-0147"])
def test_phones_international_and_local(scanner: PiiScanner, phone: str) -> None:
    assert found(scanner, f"her mobile is {phone}").get("PHONE_NUMBER") == [phone]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("My wife is pregnant and we are moving abroad.", "PREGNANCY"),
        ("I was diagnosed with bipolar disorder last month.", "HEALTH_CONDITION"),
        ("He takes sertraline every morning.", "MEDICATION"),
        ("My brother is gay and afraid to tell our parents.", "SEXUAL_ORIENTATION"),
        ("Our colleague Omar is a practising Muslim.", "RELIGION"),
    ],
)
def test_special_categories_tied_to_a_person(scanner: PiiScanner, text: str, kind: str) -> None:
    assert kind in found(scanner, text)


@pytest.mark.parametrize(
    "text",
    [
        "What are the early symptoms of type 2 diabetes?",
        "Is it safe to take ibuprofen during pregnancy?",
        "Can I take paracetamol with antibiotics?",
        "Explain Article 9 of the GDPR and what counts as special category data.",
        "What protections exist against discrimination based on sexual orientation at work?",
        "Plan a three-day trip to Paris with museums and good food.",
        "Explain Kubernetes pods, deployments and services.",
    ],
)
def test_questions_naming_no_one_are_clean(scanner: PiiScanner, text: str) -> None:
    assert found(scanner, text) == {}


def test_workload_allow_list_and_ignored_types() -> None:
    text = "Ask Priya Raman at Acme about the Maria Garcia account."
    allowing = PiiScanner(allow=["priya raman"])
    assert [text[s.start : s.end] for s in allowing.scan(text)] == ["Maria Garcia"]
    assert PiiScanner(ignore=["PERSON"]).scan(text) == []


def test_redaction_hides_names_and_addresses_and_restores_them(scanner: PiiScanner) -> None:
    text = "Draft a letter to Maria Garcia, 12 Baker Street, London, about her lease."
    redacted, mapping = redact_request(scanner, Request.from_prompt(text))
    sent = redacted.messages[0].text
    assert "Maria" not in sent
    assert "Baker" not in sent
    person = re.search(r"<PERSON_1[^>]*>", sent)
    street = re.search(r"<STREET_ADDRESS_1[^>]*>", sent)
    assert person is not None, sent
    assert street is not None, sent
    answer = f"Dear {person.group(0)}, of {street.group(0)}"
    assert mapping.restore(answer) == "Dear Maria Garcia, of 12 Baker Street, London"


def test_evaluation_set_meets_the_targets(scanner: PiiScanner) -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    labelled = [r for r in rows if r["categories"]]
    clean = [r for r in rows if not r["categories"]]
    assert len(labelled) >= 300
    assert len(clean) >= 100
    hits = flags = 0
    per: dict[str, list[int]] = {}
    for row in rows:
        cats = {category_of(s.type) for s in scanner.scan(row["text"])}
        if row["categories"]:
            hits += bool(cats)
            for c in row["categories"]:
                per.setdefault(c, [0, 0])
                per[c][0] += c in cats
                per[c][1] += 1
        else:
            flags += bool(cats)
    assert hits / len(labelled) >= 0.95
    assert flags / len(clean) <= 0.10
    low = {c: h / n for c, (h, n) in per.items() if h / n < 0.9}
    assert not low, low


def test_the_model_weights_are_the_pinned_ones() -> None:
    assert verify_weights() == []


def test_the_entity_model_alone_finds_what_the_whole_pipeline_finds() -> None:
    """The guard runs only the `ner` component: it holds its own token encoder, so the
    shared `tok2vec` and the other components cannot change an entity (if a new model
    release made `ner` listen to the shared encoder, this fails)."""
    import spacy

    from mixstack.guard._ner import NerModel, model_dir

    whole = spacy.load(model_dir())
    alone = NerModel()
    assert alone.load().pipe_names == ["ner"]
    texts = [json.loads(line)["text"] for line in EVAL.read_text().splitlines()[::4]]
    assert len(texts) > 100
    for text in texts:
        expected = [
            (e.label_, e.start_char, e.end_char) for e in whole(text).ents if e.label_ in LABELS
        ]
        assert [(e.label, e.start, e.end) for e in alone.entities(text)] == expected, text


def test_importing_mixstack_loads_no_model() -> None:
    code = (
        "import sys, mixstack, mixstack.guard; "
        "print([m for m in ('spacy', 'faker', 'thinc', 'presidio_analyzer') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _router(workloads: dict[str, Any]) -> Router:
    config = parse_config(
        {
            "models": [
                {"name": "fake/remote", "provider": "fake", "locality": "remote"},
                {"name": "fake/rack", "provider": "fake", "locality": "on-prem"},
            ],
            "workloads": workloads,
        }
    )
    return Router(config, Catalog(config, ProviderRegistry(config)))


def test_workload_settings_choose_what_counts() -> None:
    router = _router(
        {
            "support": {"privacy": "auto", "prefer": ["fake/remote"]},
            "sales": {
                "privacy": "auto",
                "prefer": ["fake/remote"],
                # names of our own staff and of companies are fine; health data is not
                "pii": {"categories": ["health", "email"], "allow": ["Priya Raman"]},
            },
        }
    )
    named = "Ask Maria Garcia whether the Acme renewal is signed."
    assert router.decide(Request.from_prompt(named, workload="support")).model == "fake/rack"
    assert router.decide(Request.from_prompt(named, workload="sales")).model == "fake/remote"
    sick = "Maria Garcia told me she has epilepsy; move her demo."
    decision = router.decide(Request.from_prompt(sick, workload="sales"))
    assert decision.model == "fake/rack"
    assert [c.type for c in decision.pii] == ["HEALTH_CONDITION"]


def test_an_unknown_category_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"workload 'hr': pii\.categories: unknown privacy"):
        _router({"hr": {"privacy": "auto", "pii": {"categories": ["names"]}}})


def test_route_explain_shows_recognizers_on_masked_spans() -> None:
    result = run_cli(
        "route", "--json", "--explain", "Refund Maria Garcia, card 4111 1111 1111 1111"
    )
    assert result.code == 0, result.err
    findings = result.json()["findings"]
    assert {(f["type"], f["masked"]) for f in findings} >= {
        ("PERSON", "M•••• G•••••"),
        ("CREDIT_CARD", "4••• 1••• 1••• 1•••"),
    }
    assert all(f["recognizer"] for f in findings)
    assert "Maria" not in result.out
    assert "4111" not in result.out


def test_routing_skips_the_model_only_once_the_decision_is_made() -> None:
    router = _router({"support": {"privacy": "auto", "prefer": ["fake/remote"]}})
    for text in (
        "Ask Maria Garcia, maria@example.org, about it.",  # patterns decide: model skipped
        "Ask Maria Garcia about it.",  # the name lists decide
        "Our patient Zanele said she has epilepsy.",  # name and special category
    ):
        request = Request.from_prompt(text, workload="support")
        quick, full = router.decide(request), router.decide(request, scan="always")
        assert quick.model == full.model == "fake/rack", text
        assert {c.type for c in quick.pii} <= {c.type for c in full.pii}


def test_the_model_reads_only_the_windows_and_spans_map_back() -> None:
    from mixstack.guard._ner import NerModel
    from mixstack.guard._people import model_windows, window_entities

    text = (
        "Please forward the file to Maria Gonzalez. the build is green and nothing else "
        "changed in the release notes this week. Tell Oluwaseun Adeyemi in Lagos."
    )
    windows = model_windows(text)
    assert len(windows) == 2  # the lower-case middle sentence is skipped
    found = {(e.label, text[e.start : e.end]) for e in window_entities(NerModel(), text, windows)}
    assert ("PERSON", "Maria Gonzalez") in found
    assert ("GPE", "Lagos") in found
