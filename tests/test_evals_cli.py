"""`mixstack eval`, `eval compare` and `eval calibrate` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

MODELS: list[dict[str, Any]] = [
    {"name": "fake/echo", "provider": "fake"},
    {"name": "fake/five", "provider": "fake", "replies": [{"text": "It is 5."}],
     "price": {"input_per_1m": 100.0, "output_per_1m": 200.0}},
]  # fmt: skip


def _suite(tmp_path: Path, cases: str) -> tuple[Path, Path]:
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": MODELS}))
    suite = tmp_path / "sums.yaml"
    suite.write_text(
        "name: sums\nworkload: math\nmodels: [fake/echo, fake/five]\n"
        "defaults:\n  scorers: [numeric]\n" + cases
    )
    return suite, config


CASES = (
    "cases:\n"
    "  - {id: a, input: '2+3 is 5', expected: 5}\n"
    "  - {id: b, input: 'so 5', expected: 5}\n"
    "  - {id: c, input: '1+1 is 2', expected: 2}\n"
)


def test_eval_json_report_fail_under_compare_and_calibrate(
    tmp_path: Path, cli: Any, home: Path
) -> None:
    suite, config = _suite(tmp_path, CASES)
    report = tmp_path / "report.html"
    first = cli("eval", str(suite), "-c", str(config), "--json", "--report", str(report),
                "--out", str(tmp_path / "r1"), "--fail-under", "0.5")  # fmt: skip
    assert first.code == 0, first.err
    summary = first.json()
    runs = {r["model"]: r for r in summary["runs"]}
    for key in ("model", "variant", "n", "passed", "pass_rate", "ci_low", "ci_high", "errors",
                "cost_usd", "cost_per_correct", "latency_p50_ms"):  # fmt: skip
        assert key in runs["fake/echo"]
    assert runs["fake/echo"]["pass_rate"] == 1.0
    assert runs["fake/five"]["passed"] == 2
    assert len(summary["comparisons"]) == 1

    page = report.read_text()
    assert "<svg" in page
    assert "fake/five" in page
    assert not re.search(r"""(src|href)=["']https?:""", page)  # nothing fetched to view it

    # CI gate: fake/five passes 2/3 < 0.9
    gated = cli("eval", str(suite), "-c", str(config), "--fail-under", "0.9",
                "--out", str(tmp_path / "r2"))  # fmt: skip
    assert gated.code == 6  # quality below target, not "the endpoint failed" (1)
    assert "below --fail-under 0.9" in gated.err
    assert "fake/five" in gated.err

    # a changed expectation flips one case between runs
    suite.write_text(
        suite.read_text().replace("'1+1 is 2', expected: 2", "'1+1 is 2', expected: 3")
    )
    assert (
        cli("eval", "run", str(suite), "-c", str(config), "--out", str(tmp_path / "r4")).code == 0
    )
    diff = cli("eval", "compare", str(tmp_path / "r1"), str(tmp_path / "r4"), "--json").json()
    assert diff["broke"] == 1
    assert diff["fixed"] == 0
    assert {(f["case"], f["model"]) for f in diff["flipped"]} == {("c", "fake/echo")}
    assert diff["same_suite_version"] is False

    cal = cli("eval", "calibrate", summary["run_id"], "--target", "0.2", "--json")
    assert cal.code == 0, cal.err
    data = json.loads((home / "calibration.json").read_text())
    assert data["version"] == 1
    assert data["target"] == 0.2
    entry = data["workloads"]["math"]
    # both meet the target's lower bound; the free one is recommended
    assert entry["recommended"] == "fake/echo"
    model = entry["models"]["fake/five"]
    assert set(model) == {"n", "pass_rate", "ci_low", "ci_high", "cost_per_correct",
                          "latency_p50_ms"}  # fmt: skip
    from mixstack.router._calibration import load_calibration

    read = load_calibration(home / "calibration.json", required=True)  # as the router reads it
    assert read.recommended["math"] == "fake/echo"
    assert read.workloads["math"]["fake/five"].pass_rate == pytest.approx(2 / 3)
    strict = cli("eval", "calibrate", str(tmp_path / "r1"), "--target", "0.99", "--json")
    assert strict.json()["recommended"] is None


def test_failed_calls_exit_7_apart_from_a_quality_miss(tmp_path: Path, cli: Any) -> None:
    """CI must tell an outage from a regression: every call erroring is exit 7, with or
    without --fail-under, and a quality miss alone is exit 6."""
    config = tmp_path / "mixstack.yaml"
    models = [*MODELS, {"name": "fake/down", "provider": "fake", "replies": [{"error": "down"}]}]
    config.write_text(yaml.safe_dump({"models": models}))
    suite = tmp_path / "s.yaml"
    suite.write_text("models: [fake/down]\ndefaults:\n  scorers: [numeric]\n" + CASES)
    down = cli(
        "eval", str(suite), "-c", str(config), "--retries", "0", "--out", str(tmp_path / "a")
    )
    assert down.code == 7, down.err
    assert "calls failed above --max-error-rate 0.05" in down.err
    assert "fake/down[default] 3/3" in down.err
    gated = cli("eval", str(suite), "-c", str(config), "--retries", "0", "--fail-under", "0.5",
                "--json", "--out", str(tmp_path / "b"))  # fmt: skip
    assert gated.code == 7
    assert gated.json()["runs"][0]["errors"] == 3  # stdout still holds the whole summary
    tolerant = cli("eval", str(suite), "-c", str(config), "--retries", "0",
                   "--max-error-rate", "1", "--out", str(tmp_path / "c"))  # fmt: skip
    assert tolerant.code == 0, tolerant.err
    # the exit codes are in --help
    helped = cli("eval", "run", "--help")
    assert "--max-error-rate" in helped.out
    assert "7 calls failed" in " ".join(helped.out.split())


def test_eval_exit_code_rules() -> None:
    from mixstack.cli.exits import EXIT_BELOW_TARGET, EXIT_CALLS_FAILED, eval_exit_code

    def run(n: int, errors: int, passed: int) -> dict[str, Any]:
        return {"model": "m", "variant": "v", "n": n, "errors": errors,
                "pass_rate": passed / n if n else None}  # fmt: skip

    ok = {"runs": [run(20, 1, 20)]}  # 1 error in 21 calls: under the 5% default
    assert eval_exit_code(ok, None, 0.05) == 0
    assert eval_exit_code(ok, 0.9, 0.05) == 0
    assert eval_exit_code(ok, None, 0.0) == EXIT_CALLS_FAILED
    low = {"runs": [run(20, 0, 10)]}
    assert eval_exit_code(low, 0.9, 0.05) == EXIT_BELOW_TARGET
    assert eval_exit_code(low, None, 0.05) == 0
    both = {"runs": [run(10, 10, 5)]}
    assert eval_exit_code(both, 0.9, 0.05) == EXIT_CALLS_FAILED
    none = {"runs": [run(0, 0, 0)]}
    assert eval_exit_code(none, None, 0.05) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "nope-a", "nope-b"], "no eval run 'nope-a'"),
        (["calibrate", "nope"], "no eval run 'nope'"),
        (["missing.yaml"], "suite file 'missing.yaml' not found"),
    ],
)
def test_bad_runs_and_files_exit_2(cli: Any, args: list[str], message: str) -> None:
    result = cli("eval", *args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("model", "message"),
    [("fake/nobody", "unknown model 'fake/nobody'"), ("workload/nowhere", "unknown workload")],
)
def test_unknown_model_is_refused_before_any_call(
    tmp_path: Path, cli: Any, model: str, message: str
) -> None:
    suite, config = _suite(tmp_path, CASES)
    result = cli("eval", str(suite), "-c", str(config), "-m", model)
    assert result.code == 2
    assert message in result.err


@pytest.mark.model
def test_local_models_side_by_side(tmp_path: Path, cli: Any) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "models: [local/smollm2-135m-instruct, local/gemma3-270m]\n"
        'defaults:\n  params: {max_tokens: 6, temperature: 0, seed: 1, stop: ["\\n"]}\n'
        "  scorers: [numeric]\n"
        "cases:\n  - {id: a, input: 'Q: What is 2 + 2?\\nA:', expected: 4}\n"
    )
    result = cli("eval", str(suite), "--json", "--concurrency", "1", timeout=300)
    assert result.code == 0, result.err
    runs = result.json()["runs"]
    assert [r["model"] for r in runs] == ["local/smollm2-135m-instruct", "local/gemma3-270m"]
    assert all(r["n"] + r["errors"] == 1 for r in runs)
    assert all(r["latency_p50_ms"] is None or r["latency_p50_ms"] > 0 for r in runs)
