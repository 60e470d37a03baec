"""The workload router: workload choice, hard constraints with reasons, ranking, validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mixstack._types import ImagePart, Request, ResponseFormat, SamplingParams, Tool
from mixstack.catalog import Catalog
from mixstack.config import Config, parse_config
from mixstack.errors import ConfigError, ContextLengthError, InvalidRequestError, PolicyError
from mixstack.providers.base import ProviderRegistry
from mixstack.router import RouteDecision, Router, RouteRefused
from mixstack.router._decision import shape_from_json, shape_json
from mixstack.router._policy import RequestShape

MODELS: list[dict[str, Any]] = [
    {"name": "fake/local-small", "provider": "fake", "context_window": 2048,
     "capabilities": ["chat", "json"]},
    {"name": "fake/onprem-big", "provider": "fake", "locality": "on-prem",
     "context_window": 32000, "capabilities": ["chat", "tools", "json"],
     "base_url": "http://10.0.0.5:8000/v1"},
    {"name": "fake/remote-cheap", "provider": "fake", "locality": "remote",
     "price": {"input_per_1m": 0.1, "output_per_1m": 0.4}, "context_window": 128000,
     "capabilities": ["chat", "tools", "json"]},
    {"name": "fake/remote-vision", "provider": "fake", "locality": "remote",
     "price": {"input_per_1m": 2.0, "output_per_1m": 8.0}, "context_window": 128000,
     "capabilities": ["chat", "tools", "json", "vision"], "latency_ms": 900},
]  # fmt: skip

WORKLOADS: dict[str, Any] = {
    "private": {"privacy": "local-only", "prefer": ["fake/onprem-big"]},
    "support": {"privacy": "auto", "max_cost_per_1k_tokens": 0.001},
    "vision": {"privacy": "any", "needs": ["vision"], "fallbacks": []},
    "scrub": {"privacy": "redact", "prefer": ["fake/remote-cheap"]},
    "fast": {"privacy": "any", "max_latency_ms": 500},
    "airgap": {"offline": True},
}


def make(
    workloads: dict[str, Any] | None = None, routing: dict[str, Any] | None = None, **extra: Any
) -> tuple[Config, Router]:
    data: dict[str, Any] = {"models": MODELS, "workloads": workloads or WORKLOADS, **extra}
    if routing:
        data["routing"] = routing
    config = parse_config(data)
    catalog = Catalog(config, ProviderRegistry(config))
    return config, Router(config, catalog)


def excluded(decision: RouteDecision) -> dict[str, str]:
    return {e.model: e.reason for e in decision.excluded}


def test_local_only_excludes_remote_with_reasons() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("summarise this", workload="private"))
    assert d.model == "fake/onprem-big"
    assert d.locality == "on-prem"
    assert "preferred" in d.reason
    reasons = excluded(d)
    assert "local-only" in reasons["fake/remote-cheap"]
    assert "local-only" in reasons["fake/remote-vision"]
    assert "fake/remote-cheap" not in d.candidates + d.fallbacks
    assert d.workload == "private"
    assert d.workload_source == "explicit"


def test_workload_addressed_as_model() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("hello", model="workload/vision"))
    assert d.model == "fake/remote-vision"
    assert d.workload_source == "model"
    assert "no vision" in excluded(d)["fake/remote-cheap"]


def test_unknown_workload_lists_known() -> None:
    _, router = make()
    with pytest.raises(InvalidRequestError, match=r"unknown workload 'nope'.*private"):
        router.decide(Request.from_prompt("hello", workload="nope"))


def test_cost_cap_and_cheapest_first() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("where is my parcel?", workload="support"))
    assert "cap $0.001" in excluded(d)["fake/remote-vision"]
    # the free in-process model is cheapest; the cheap remote one is a candidate behind it
    assert d.candidates[0] == d.model
    assert "fake/remote-cheap" in d.candidates
    assert d.reason.startswith("cheapest eligible")


def test_auto_keeps_pii_on_premises() -> None:
    _, router = make()
    prompt = "Write to jane.roe@example.org about card 4111 1111 1111 1111, please."
    d = router.decide(Request.from_prompt(prompt, workload="support"))
    assert d.locality in ("local", "on-prem")
    assert {(c.type, c.count) for c in d.pii} == {("EMAIL_ADDRESS", 1), ("CREDIT_CARD", 1)}
    assert "PII" in excluded(d)["fake/remote-cheap"]
    assert all(not m.startswith("fake/remote") for m in d.candidates + d.fallbacks)
    assert d.policy == "auto: PII found, kept on premises"
    assert "jane.roe" not in json.dumps(d.to_json())


def test_explicit_remote_model_with_pii_is_refused() -> None:
    _, router = make()
    request = Request.from_prompt(
        "my IBAN is DE89 3704 0044 0532 0130 00", model="fake/remote-cheap"
    )
    with pytest.raises(RouteRefused, match="fake/remote-cheap may not take") as info:
        router.decide(request)
    assert isinstance(info.value, PolicyError)
    assert info.value.exit_code == 3
    assert info.value.http_status == 403
    assert [(c.type, c.count) for c in info.value.pii] == [("IBAN_CODE", 1)]
    assert "DE89" not in info.value.message


def test_redact_policy_keeps_remote_and_marks_redaction() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("Call me at +44 20 7946 0958", workload="scrub"))
    assert d.model == "fake/remote-cheap"
    assert d.redacted is True
    assert d.policy == "redact: PII replaced by placeholders"
    clean = router.decide(Request.from_prompt("Call me tomorrow", workload="scrub"))
    assert clean.redacted is False
    assert clean.pii == ()


def test_latency_cap_uses_measured_latency() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("quick one", workload="fast"))
    assert "median latency 900 ms > cap 500 ms" in excluded(d)["fake/remote-vision"]


def test_offline_workload_and_offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("hi", workload="airgap"))
    assert d.locality == "local"
    assert "offline" in excluded(d)["fake/onprem-big"]
    monkeypatch.setenv("MIXSTACK_OFFLINE", "1")
    d = router.decide(Request.from_prompt("hi", workload="support"))
    assert d.offline
    assert d.locality == "local"
    assert "MIXSTACK_OFFLINE=1" in excluded(d)["fake/remote-cheap"]
    assert any("took over" in n for n in d.notes)


def test_a_named_remote_model_gets_no_local_takeover_unless_the_workload_opts_in() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("hi there", model="fake/remote-cheap"))
    assert d.model == "fake/remote-cheap"
    assert d.reason == "explicit model"
    assert d.fallbacks == ()  # answered by that model or its own error, never a substitute
    _, router = make({**WORKLOADS, "default": {"local_takeover": True}})
    d = router.decide(Request.from_prompt("hi there", model="fake/remote-cheap"))
    assert "fake/local-small" in d.fallbacks
    assert "local/smollm2-135m-instruct" in d.fallbacks


def test_request_needs_filter_tools_json_and_context() -> None:
    _, router = make({"open": {"privacy": "any"}})
    tools = Request.from_prompt("look it up", workload="open", tools=(Tool(name="search"),))
    d = router.decide(tools)
    assert "no tool calling" in excluded(d)["fake/local-small"]
    long = Request.from_prompt("word " * 3000, workload="open")
    assert "too long" in excluded(router.decide(long))["fake/local-small"]


def test_prompt_too_long_for_every_model_gives_lengths() -> None:
    _, router = make({"tiny": {"privacy": "local-only", "prefer": []}})
    request = Request.from_prompt("word " * 50_000, workload="tiny")
    with pytest.raises(ContextLengthError, match=r"context window of 32000"):
        router.decide(request)


def test_local_only_with_pii_and_no_fit_refuses() -> None:
    _, router = make({"tiny": {"privacy": "local-only"}})
    request = Request.from_prompt(
        "mail bob@example.com " + "word " * 50_000,
        workload="tiny",
        params=SamplingParams(max_tokens=10),
    )
    with pytest.raises(ContextLengthError):
        router.decide(request)


def test_rules_choose_workload_first_match_wins() -> None:
    routing = {
        "rules": [
            {"workload": "private", "keywords": ["patient", "diagnosis"]},
            {"workload": "vision", "images": True},
            {"workload": "support", "max_chars": 40},
        ]
    }
    _, router = make(routing=routing)
    d = router.decide(Request.from_prompt("The Patient reports pain."))
    assert (d.workload, d.workload_source) == ("private", "rule 0")
    png = ImagePart.from_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    d = router.decide(Request.from_prompt("what is this? " * 5, images=(png,)))
    assert d.workload == "vision"
    assert router.decide(Request.from_prompt("short")).workload == "support"
    # keywords match whole words only, and an explicit workload beats the rules
    assert router.decide(Request.from_prompt("outpatients " * 5)).workload == "default"
    assert router.decide(Request.from_prompt("patient", workload="scrub")).workload == "scrub"


def test_default_workload_prefers_default_model() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("Name three primes."))
    assert d.workload == "default"
    assert d.workload_source == "default"
    assert d.model == "local/smollm2-135m-instruct"


def test_calibration_ranks_models_meeting_the_target(home: Path) -> None:
    calibration = {
        "version": 1,
        "target": 0.9,
        "workloads": {
            "open": {
                "recommended": "fake/remote-vision",
                "models": {
                    "fake/remote-vision": {"n": 200, "pass_rate": 0.95, "ci_low": 0.92,
                                           "ci_high": 0.97, "cost_per_correct": 0.002,
                                           "latency_p50_ms": 300},
                    "fake/remote-cheap": {"n": 200, "pass_rate": 0.7, "ci_low": 0.64,
                                          "ci_high": 0.76, "cost_per_correct": 0.0001,
                                          "latency_p50_ms": 200},
                    "fake/local-small": {"n": 200, "pass_rate": 0.2, "ci_low": 0.15,
                                         "ci_high": 0.26, "cost_per_correct": 0.0,
                                         "latency_p50_ms": 100},
                },
            }
        },
    }  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    (home / "calibration.json").write_text(json.dumps(calibration))
    _, router = make({"open": {"privacy": "any"}})
    d = router.decide(Request.from_prompt("hard question", workload="open"))
    assert d.model == "fake/remote-vision"
    assert "meets quality target 0.9" in d.reason
    # measured below target ranks after unmeasured models
    assert d.candidates.index("fake/onprem-big") < d.candidates.index("fake/local-small")


def test_broken_calibration_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "cal.json"
    bad.write_text("{not json")
    _, router = make(routing={"calibration": str(bad)})
    with pytest.raises(ConfigError, match="not a calibration file"):
        router.decide(Request.from_prompt("hi"))


@pytest.mark.parametrize(
    ("workloads", "routing", "message"),
    [
        (
            {"private": {"privacy": "local-only", "prefer": ["fake/remote-cheap"]}},
            None,
            r"workloads\.private\.prefer\[0\]: fake/remote-cheap cannot serve .*local-only",
        ),
        (
            {"see": {"needs": ["vision"], "fallbacks": ["fake/remote-vision", "fake/onprem-big"]}},
            None,
            r"workloads\.see\.fallbacks\[1\]: fake/onprem-big cannot serve .*no vision",
        ),
        (
            {"huge": {"needs": [{"min_context": 1_000_000}]}},
            None,
            r"workloads\.huge: no model in the catalog can serve",
        ),
        ({"w": {"prefer": ["nope/model"]}}, None, r"workloads\.w\.prefer\[0\]: unknown model"),
        ({"w": {}}, {"default_workload": "missing"}, r"routing\.default_workload: unknown"),
        (
            {"w": {}},
            {"rules": [{"workload": "w"}]},
            r"rules\[0\]: .*at least one condition",
        ),
        ({"w": {}}, {"rules": [{"workload": "x", "images": True}]}, r"rules\[0\]\.workload"),
        ({"w": {"needs": ["telepathy"]}}, None, r"workloads\.w\.needs.*unknown need"),
        ({"w": {"privacy": "sometimes"}}, None, r"workloads\.w\.privacy"),
    ],
)
def test_invalid_workload_configs_fail_at_load(
    workloads: dict[str, Any], routing: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make(workloads, routing)


def test_decision_json_round_trip_and_short_form() -> None:
    _, router = make()
    d = router.decide(Request.from_prompt("mail a@b.io", workload="support"))
    again = RouteDecision.from_json(json.loads(json.dumps(d.to_json())))
    assert again == d
    short = d.short()
    assert short.startswith("workload=support model=")
    assert "pii=EMAIL_ADDRESS:1" in short
    assert "\n" not in short
    # the gateway's header comes from the stored JSON form: the same line
    assert RouteDecision.short_of(json.loads(json.dumps(d.to_json()))) == short


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("words", [1, 400, 3000, 40000])
@pytest.mark.parametrize("needs", ["", "tools", "json"])
def test_routed_fast_path_agrees_with_the_per_model_checks(
    workload: str, words: int, needs: str
) -> None:
    """A routed request runs an unrolled copy of the per-model checks: it must exclude the
    same models, for the same kind of reason, and rank as `rank_key` does."""
    from mixstack.router._policy import (
        latency_reason,
        rank_key,
        request_reason,
        routed_reason,
        shape_of,
        standings,
        static_reason,
    )

    config, router = make()
    tools = (Tool(name="lookup", description="look a thing up"),) if needs == "tools" else ()
    fmt = ResponseFormat(type="json_object") if needs == "json" else ResponseFormat()
    request = Request.from_prompt(
        "word " * words, workload=workload, tools=tools, response_format=fmt
    )
    try:
        decision = router.decide(request, scan="never")
    except (RouteRefused, ContextLengthError):
        decision = None
    wl = router.chooser.choose(request)
    shape = shape_of(request, config.routing.expected_output_tokens)
    calibration = router.calibration()
    facts = standings(list(router._catalog), wl, calibration, 0.9)
    expected: dict[str, str] = {}
    open_: list[Any] = []
    for entry in router._catalog:
        reason = static_reason(entry, wl, False)
        reason = reason or routed_reason(entry, wl)
        reason = reason or latency_reason(wl, facts[entry.name].latency_ms)
        reason = reason or request_reason(
            entry, wl, shape, facts[entry.name].latency_ms, explicit=False
        )
        if reason is None:
            open_.append(entry)
        else:
            expected[entry.name] = reason
    ranked = sorted(
        open_,
        key=lambda e: rank_key(
            e, facts[e.name], e.cost(shape.prompt_tokens, shape.completion_tokens)
        ),
    )
    if decision is None:
        assert not ranked
        return
    assert excluded(decision) == expected
    assert list(decision.candidates) == [e.name for e in ranked]


def _explanation_facts(d: RouteDecision, calibration: dict[str, Any], target: float) -> None:
    """Parse a decision's reason back and check every fact it states against the decision
    and the calibration it was made with."""
    import re

    measured = calibration["workloads"].get("open", {}).get("models", {})
    in_ranking = [m for m in (d.model, *d.candidates) if m in measured]
    cost = re.search(r"est\. \$([0-9.]+)\)", d.reason)
    if cost is not None:
        assert float(cost.group(1)) == pytest.approx(d.estimated_cost_usd, abs=1e-6)
    if m := re.match(r"meets quality target ([0-9.]+) \(ci_low ([0-9.]+)\)", d.reason):
        assert float(m.group(1)) == target
        assert d.model in measured
        assert float(m.group(2)) == round(measured[d.model]["ci_low"], 2) >= target
    elif m := re.match(r"below quality target ([0-9.]+) \(ci_low ([0-9.]+)\)", d.reason):
        assert d.model in measured
        assert float(m.group(2)) == round(measured[d.model]["ci_low"], 2) < target
        assert "none is unmeasured" in d.reason
        assert all(c in measured for c in d.candidates)  # no unmeasured model was eligible
        assert all(measured[c]["ci_low"] < target for c in d.candidates)
    elif m := re.match(
        r"not evaluated for workload 'open', ranked above (\d+) measured model\(s\) because "
        r"none meets quality target ([0-9.]+) \(best: (\S+) ci_low ([0-9.]+)\)",
        d.reason,
    ):
        assert d.model not in measured
        others = [c for c in in_ranking if c != d.model]
        assert int(m.group(1)) == len(others) > 0
        assert all(measured[c]["ci_low"] < target for c in others)
        best = max(others, key=lambda c: measured[c]["ci_low"])
        assert measured[m.group(3)]["ci_low"] == measured[best]["ci_low"]
        assert float(m.group(4)) == round(measured[best]["ci_low"], 2)
    elif d.reason.startswith("cheapest eligible, not evaluated for workload 'open'"):
        assert d.model not in measured
        assert in_ranking == []
    else:
        raise AssertionError(f"unexpected reason: {d.reason}")


def test_route_explanations_state_the_decisions_facts(home: Path) -> None:
    """Every subset of the catalog measured, above or below the target: the reason must say
    what happened, and an unmeasured model chosen over measured ones must say so."""
    import itertools

    names = [m["name"] for m in MODELS]
    home.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for measured in itertools.chain.from_iterable(
        itertools.combinations(names, k) for k in range(len(names) + 1)
    ):
        for lows in itertools.product((0.42, 0.93), repeat=len(measured)):
            models = {
                name: {"n": 100, "pass_rate": low + 0.03, "ci_low": low, "ci_high": low + 0.05,
                       "cost_per_correct": None, "latency_p50_ms": None}
                for name, low in zip(measured, lows, strict=True)
            }  # fmt: skip
            workloads = {"open": {"recommended": None, "models": models}}
            calibration = {"version": 1, "target": 0.9, "workloads": workloads}
            (home / "calibration.json").write_text(json.dumps(calibration))
            # tools and a 16k context: the embedded models (tool-capable, 8k) stay out
            needs = ["tools", {"min_context": 16000}]
            _, router = make({"open": {"privacy": "any", "needs": needs}})
            d = router.decide(Request.from_prompt("a question", workload="open"))
            _explanation_facts(d, calibration, 0.9)
            seen.add(d.reason.split(" (")[0].split(",")[0])
    # the case: free local models measured below target, a paid model never
    # evaluated is chosen, and the reason says it was not evaluated
    assert {"not evaluated for workload 'open'", "below quality target 0.9",
            "meets quality target 0.9", "cheapest eligible"} <= seen  # fmt: skip


def test_a_model_for_some_workloads_gets_only_their_routed_traffic() -> None:
    """A tuned model serves the workload it was trained for; others reach it only by name."""
    tuned = {"name": "fake/tuned-support", "provider": "fake", "context_window": 2048,
             "capabilities": ["chat"], "workloads": ["support"]}  # fmt: skip
    support = {"privacy": "auto", "prefer": ["fake/tuned-support"]}
    _, router = make({**WORKLOADS, "support": support}, models=[*MODELS, tuned])
    d = router.decide(Request.from_prompt("where is my parcel?", workload="support"))
    assert d.model == "fake/tuned-support"
    other = router.decide(Request.from_prompt("summarise this", workload="fast"))
    assert other.model != "fake/tuned-support"
    assert "serves only the support workload" in excluded(other)["fake/tuned-support"]
    named = router.decide(Request.from_prompt("hi", model="fake/tuned-support", workload="fast"))
    assert named.model == "fake/tuned-support"
    with pytest.raises(ConfigError, match=r"tuned-support\.workloads: unknown workload"):
        make({"fast": {}}, models=[*MODELS, tuned])


def test_a_logged_shape_keeps_every_field_and_reads_back() -> None:
    shape = RequestShape(
        prompt_tokens=12, completion_tokens=34, chars=56, images=True, tools=False, json=True
    )
    logged = shape_json(shape)
    assert logged is not None
    assert set(logged) == {f.name for f in dataclasses.fields(RequestShape)}
    assert shape_from_json(json.loads(json.dumps(logged))) == shape
    assert shape_json(None) is None
