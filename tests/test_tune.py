"""`mixstack tune` without training: datasets from the call log and from a suite with a
teacher, the gate through the eval harness, promotion into routing and its rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixstack.config import parse_config
from mixstack.evals._suite import ScorerSpec, load_suite
from mixstack.pipeline import Pipeline
from mixstack.store import CallRecord, Store, open_store, record_call
from mixstack.store.tune import active_promotion, list_promotions
from mixstack.tune import (
    build_dataset,
    examples_from_log,
    examples_from_suite,
    load_dataset,
    promote,
    run_gate,
)

LABELS = ("billing", "bug", "account")
TICKETS = [
    ("My card was charged twice for the same order", "billing"),
    ("The app crashes as soon as I open the settings page", "bug"),
    ("I cannot change the email address on my profile", "account"),
    ("Why was I billed after I cancelled my plan last week", "billing"),
    ("Clicking save on a draft shows error 500 every time", "bug"),
    ("Please delete my account and all my saved addresses", "account"),
    ("There is a fee on my statement that I do not recognise", "billing"),
    ("Search returns nothing since yesterday's update", "bug"),
    ("I forgot my password and the reset mail never comes", "account"),
    ("Refund the duplicate invoice from March please", "billing"),
    ("Export to CSV freezes the whole browser tab", "bug"),
    ("How do I add a second user to our team account", "account"),
    ("The coupon code was not applied to my payment", "billing"),
    ("Dark mode makes the buttons invisible on Android", "bug"),
    ("My username shows someone else's name after login", "account"),
    ("I was charged in dollars instead of euros", "billing"),
]
SYSTEM = "Label the support ticket with one word: billing, bug or account."
CHECK = ScorerSpec(type="regex", options={"pattern": "^(billing|bug|account)$"})


def _call(i: int, prompt: str | None, response: str | None, **extra: Any) -> CallRecord:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    return CallRecord(
        request_id=f"req-{i}",
        model=extra.pop("model", "fake/teacher"),
        provider="fake",
        locality="remote",
        workload=extra.pop("workload", "tickets"),
        prompt=None if prompt is None else json.dumps(messages),
        response=response,
        created_at=1000.0 + i,
        **extra,
    )


def _log(store: Store) -> None:
    rows = [_call(i, text, label) for i, (text, label) in enumerate(TICKETS)]
    first = TICKETS[0][0]
    rows += [
        _call(100, "  " + first.upper() + "  ", "billing"),  # the same prompt again
        _call(101, first.replace("same order", "same order."), "billing"),  # punctuation only
        _call(102, TICKETS[1][0] + " today", "bug"),  # one word more: a near duplicate
        _call(
            103,
            "Mail me at ann@example.com about my bill",
            "billing",
            pii='[{"type": "EMAIL_ADDRESS", "count": 1}]',
        ),  # flagged by the guard
        _call(104, None, None),  # content not stored
        _call(105, "Why is my invoice wrong", None, error="upstream exploded"),
        _call(106, "The invoice total is wrong", "I think it is billing"),  # fails the check
        _call(107, "Cannot log in", "account", workload="other"),
        _call(108, "Payment page is blank", "bug", model="fake/other"),
    ]
    for row in rows:
        record_call(store, row)
    store.flush()


async def test_dataset_from_the_call_log_keeps_checked_answers_and_says_what_it_dropped(
    tmp_path: Path, home: Path
) -> None:
    with open_store() as store:
        _log(store)
        found = await examples_from_log(store, "tickets", [CHECK], models=["fake/teacher"])
    dataset = build_dataset(
        found, tmp_path / "ds", workload="tickets", checks=[CHECK], source="log", heldout=0.25
    )
    report = dataset.report
    assert report["seen"] == len(TICKETS) + 8  # the other workload's call is not read
    assert report["dropped"] == {
        "answered by another model": 1,
        "content not stored (store_content is off)": 1,
        "duplicate prompt": 2,
        "failed check regex": 1,
        "near-duplicate prompt": 1,
        "personal data flagged by the guard": 1,
        "the call failed": 1,
    }
    assert report["kept"] == len(TICKETS)
    assert report["train"] + report["heldout"] == len(TICKETS)
    assert report["heldout"] > 0
    assert report["train"] > report["heldout"]
    texts = {e.messages[-1][1] for e in dataset.train + dataset.heldout}
    assert not any("ann@example.com" in t for t in texts)
    # the split follows the prompt, not the order: a rebuild puts each example on its side
    again = build_dataset(
        found, tmp_path / "ds2", workload="tickets", checks=[CHECK], source="log", heldout=0.25
    )
    assert [e.id for e in again.heldout] == [e.id for e in dataset.heldout]
    assert again.data_sha256 == dataset.data_sha256
    # the held-out split is an eval suite with the same check
    suite = load_suite(dataset.suite_path)
    assert [c.id for c in suite.iter_cases()] == [e.id for e in dataset.heldout]
    assert suite.spec.defaults.scorers == [CHECK]
    assert load_dataset(tmp_path / "ds").train == dataset.train


async def test_a_log_dataset_needs_a_check(home: Path) -> None:
    from mixstack.errors import UserError

    with open_store() as store, pytest.raises(UserError, match="--check"):
        await examples_from_log(store, "tickets", [])


def _teacher_replies(wrong: str) -> list[dict[str, Any]]:
    """A fake teacher that labels by the ticket's text (and gets one ticket wrong)."""
    replies = [{"when": wrong, "text": "not sure"}]
    replies += [{"when": text, "text": label} for text, label in TICKETS]
    return replies


def _config(tmp_path: Path) -> Any:
    models = [
        {"name": "fake/teacher", "provider": "fake", "locality": "remote",
         "price": {"input_per_1m": 2.0, "output_per_1m": 8.0},
         "replies": _teacher_replies(TICKETS[5][0])},
        {"name": "fake/tuned", "provider": "fake", "locality": "local",
         "replies": [{"when": t, "text": label} for t, label in TICKETS]},
        {"name": "fake/base", "provider": "fake", "locality": "local",
         "replies": [{"text": "Sure! Here is a label for your ticket."}]},
    ]  # fmt: skip
    data = {"models": models, "workloads": {"tickets": {"privacy": "auto"}}}
    path = tmp_path / "mixstack.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, parse_config(data)


def _suite(tmp_path: Path) -> Path:
    cases = [{"id": f"t{i}", "input": text, "expected": label}
             for i, (text, label) in enumerate(TICKETS)]  # fmt: skip
    suite = {
        "name": "tickets",
        "workload": "tickets",
        "defaults": {"system": SYSTEM, "params": {"max_tokens": 8}, "scorers": ["exact"]},
        "cases": cases,
    }
    path = tmp_path / "tickets.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


async def test_dataset_from_a_suite_keeps_only_the_teachers_right_answers(
    tmp_path: Path, home: Path
) -> None:
    _path, cfg = _config(tmp_path)
    suite = load_suite(_suite(tmp_path))
    async with Pipeline(cfg) as pipeline:
        found = await examples_from_suite(suite, pipeline, "fake/teacher")
    dataset = build_dataset(found, tmp_path / "ds", workload="tickets", checks=[], source="s")
    assert dataset.report["seen"] == len(TICKETS)
    assert dataset.report["dropped"] == {"teacher answer failed check exact": 1}
    assert all(e.answer == e.expected for e in dataset.train)
    # the case the teacher missed is never trained on; it may measure everyone held out
    missed = [e for e in dataset.heldout if e.answer != e.expected]
    assert len(missed) == dataset.report["heldout_teacher_missed"] <= 1
    assert all(e.answer == "" and e.messages[-1][1] == TICKETS[5][0] for e in missed)
    kept = dataset.train + dataset.heldout
    assert len(kept) == len(TICKETS) - 1 + len(missed)
    assert all(e.messages[0] == ("system", SYSTEM) for e in kept)


async def _gate(tmp_path: Path, cfg: Any, target: float) -> Any:
    suite = load_suite(_suite(tmp_path))
    async with Pipeline(cfg) as pipeline:
        found = await examples_from_suite(suite, pipeline, "fake/teacher")
        dataset = build_dataset(
            found, tmp_path / "ds", workload="tickets", checks=[ScorerSpec(type="exact")],
            source="suite", heldout=0.5,
        )  # fmt: skip
        return await run_gate(
            pipeline, dataset, tuned="fake/tuned", base="fake/base", teacher="fake/teacher",
            target=target,
        )  # fmt: skip


async def test_gate_compares_tuned_base_and_teacher_on_the_heldout_split(
    tmp_path: Path, home: Path
) -> None:
    _path, cfg = _config(tmp_path)
    gate = await _gate(tmp_path, cfg, target=0.5)
    runs = {r["model"]: r for r in gate.summary["runs"]}
    n = runs["fake/tuned"]["n"]
    assert n >= 5
    assert runs["fake/tuned"]["passed"] == n
    assert runs["fake/base"]["passed"] == 0
    missed = load_dataset(tmp_path / "ds").report["heldout_teacher_missed"]
    assert runs["fake/teacher"]["passed"] == n - missed  # its miss counts against it here
    assert gate.passed
    vs_base = gate.comparison("fake/base")
    assert vs_base is not None
    assert vs_base["p_value"] < 0.1
    assert vs_base["method"].startswith("McNemar")
    strict = await _gate(tmp_path, cfg, target=0.99)
    assert not strict.passed
    assert "does not meet" in strict.verdict()


def _route(cfg: Any) -> str:
    """The model the router picks for the workload, in process (a new router reads the
    calibration file afresh)."""
    from mixstack._types import Request
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry
    from mixstack.router._router import Router

    router = Router(cfg, Catalog(cfg, ProviderRegistry(cfg)))
    request = Request.from_prompt("My card was charged twice", workload="tickets")
    return router.decide(request, scan="always").model


async def test_promotion_routes_the_workload_to_the_tuned_model_and_rollback_undoes_it(
    tmp_path: Path, home: Path, cli: Any
) -> None:
    path, cfg = _config(tmp_path)
    calibration = home / "calibration.json"
    # before: an eval calibrated the workload: the local base fails it, the teacher meets it
    before = {
        "version": 1,
        "target": 0.5,
        "workloads": {
            "tickets": {
                "recommended": "fake/teacher",
                "models": {
                    "fake/base": {"n": 8, "pass_rate": 0.0, "ci_low": 0.0, "ci_high": 0.3},
                    "fake/teacher": {"n": 8, "pass_rate": 1.0, "ci_low": 0.68, "ci_high": 1.0},
                },
            }
        },
    }
    home.mkdir(parents=True, exist_ok=True)
    calibration.write_text(json.dumps(before))
    assert _route(cfg) == "fake/teacher"
    gate = await _gate(tmp_path, cfg, target=0.5)
    with open_store() as store:
        promoted = promote(store, gate, "tickets", calibration)
        assert active_promotion(store, "tickets") == promoted
    written = json.loads(calibration.read_text())
    assert written["target"] == 0.5
    assert written["workloads"]["tickets"]["recommended"] == "fake/tuned"
    out = cli("route", "-c", str(path), "-w", "tickets", "--json", "My card was charged twice")
    assert out.code == 0, out.err
    after = out.json()
    assert after["model"] == "fake/tuned"
    assert "meets quality target" in after["reason"]
    undone = cli("tune", "rollback", "tickets")
    assert undone.code == 0, undone.err
    assert json.loads(calibration.read_text()) == before
    assert _route(cfg) == "fake/teacher"
    with open_store() as store:
        assert active_promotion(store, "tickets") is None
        assert list_promotions(store)[0].rolled_back_at is not None
    listed = cli("tune", "list", "--json")
    assert listed.code == 0, listed.err
    assert [p["model"] for p in listed.json()["promotions"]] == ["fake/tuned"]
    again = cli("tune", "rollback", "tickets")
    assert again.code == 2
    assert "no active promotion" in again.err


async def test_a_failed_gate_is_never_promoted(tmp_path: Path, home: Path) -> None:
    from mixstack.errors import UserError

    _path, cfg = _config(tmp_path)
    gate = await _gate(tmp_path, cfg, target=0.99)
    with open_store() as store, pytest.raises(UserError, match="does not meet"):
        promote(store, gate, "tickets", home / "calibration.json")
    assert not (home / "calibration.json").exists()


async def test_a_tuned_model_the_router_cannot_pick_is_not_promoted(
    tmp_path: Path, home: Path
) -> None:
    """An adapter on a completion-only base (Gemma 3 270M) passes its gate by name, but the
    router never sends routed traffic to a model without the chat capability."""
    from mixstack.errors import UserError

    _path, cfg = _config(tmp_path)
    tuned = cfg.models[1].model_copy(update={"capabilities": ["completion"]})
    cfg = cfg.model_copy(update={"models": [cfg.models[0], tuned, cfg.models[2]]})
    gate = await _gate(tmp_path, cfg, target=0.5)
    assert gate.passed
    assert gate.unroutable is not None
    assert gate.to_json()["unroutable"] == gate.unroutable
    with open_store() as store, pytest.raises(UserError, match="lacks the chat capability"):
        promote(store, gate, "tickets", home / "calibration.json")
    assert not (home / "calibration.json").exists()
    assert _route(cfg) != "fake/tuned"


def test_cli_errors_name_the_fix(tmp_path: Path, cli: Any) -> None:
    suite = _suite(tmp_path)
    missing = cli("tune", "dataset", str(tmp_path / "ds"), "-w", "tickets", "--suite", str(suite))
    assert missing.code == 2
    assert "--teacher" in missing.err
    nodata = cli("tune", "train", str(tmp_path / "nowhere"), str(tmp_path / "run"))
    assert nodata.code == 2
    assert "tune dataset" in nodata.err
    bad = cli("tune", "dataset", str(tmp_path / "ds"), "-w", "tickets", "--check", "{a: [")
    assert bad.code == 2
    assert "--check" in bad.err
    assert "Traceback" not in missing.err + nodata.err + bad.err
