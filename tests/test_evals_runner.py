"""The runner end to end: pipeline calls, cache, resume, errors, judges, 429 back-off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mixstack._types import Chunk, Request
from mixstack.catalog import ModelEntry
from mixstack.config import parse_config
from mixstack.errors import RateLimited
from mixstack.evals import SuiteError, load_suite
from mixstack.evals._evaluate import EvalSettings, evaluate_suite
from mixstack.evals._results import iter_results
from mixstack.evals._runner import RunOptions
from mixstack.evals._summary import summarize_results
from mixstack.pipeline import Pipeline
from mixstack.providers.fake import FakeProvider

MODELS: list[dict[str, Any]] = [
    {"name": "fake/echo", "provider": "fake"},
    {"name": "fake/five", "provider": "fake", "replies": [{"text": "It is 5."}],
     "price": {"input_per_1m": 100.0, "output_per_1m": 200.0}},
    {"name": "fake/broken", "provider": "fake", "replies": [{"error": "upstream exploded"}],
     "retries": 0},
    {"name": "fake/judge", "provider": "fake", "replies": [
        {"when": "It is 5.", "text": 'Sure. {"score": 9, "reason": "right"}'},
        {"text": "I cannot decide."}]},
]  # fmt: skip

SUITE = """
name: sums
models: [fake/echo, fake/five]
defaults:
  scorers: [numeric]
variants:
  plain: "{{ q }}"
  asked: "Please tell me: {{ q }}"
cases:
  - {id: a, vars: {q: "2+3 is 5"}, expected: 5}
  - {id: b, vars: {q: "1+1 is 2"}, expected: 2}
  - {id: c, vars: {q: "what is 4"}, expected: 4}
  - {id: d, vars: {q: "the answer is 5"}, expected: 5}
"""


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    path = tmp_path / "sums.yaml"
    path.write_text(SUITE)
    return path


def _eval_calls(pipeline: Pipeline) -> int:
    pipeline.flush()
    return pipeline.store.calls.count(front_door="eval")


async def _run(path: Path, tmp_path: Path, models: list[dict[str, Any]] = MODELS, **kw: Any) -> Any:
    async with Pipeline(parse_config({"models": models})) as pipeline:
        settings = EvalSettings(out_dir=tmp_path / "run", **kw)
        summary = await evaluate_suite(load_suite(path), pipeline, settings)
        return summary, _eval_calls(pipeline)


async def test_run_summary_cache_and_comparisons(suite_path: Path, tmp_path: Path) -> None:
    summary, calls = await _run(suite_path, tmp_path)
    assert calls == 16  # 4 cases × 2 variants × 2 models, each through the pipeline
    runs = {(r["model"], r["variant"]): r for r in summary["runs"]}
    echo, five = runs[("fake/echo", "plain")], runs[("fake/five", "plain")]
    assert (echo["n"], echo["passed"], echo["errors"]) == (4, 4, 0)
    assert (five["passed"], five["failed"]) == (2, 2)
    assert five["pass_rate"] == 0.5
    assert 0.0 < five["ci_low"] < 0.5 < five["ci_high"] < 1.0
    assert five["cost_usd"] > 0
    assert five["cost_per_correct"] == pytest.approx(five["cost_usd"] / 2)
    assert echo["cost_per_correct"] == 0.0
    pair = next(
        c
        for c in summary["comparisons"]
        if c["a"] == {"model": "fake/echo", "variant": "plain"} and c["b"]["model"] == "fake/five"
    )
    assert (pair["n"], pair["a_only"], pair["b_only"], pair["both"]) == (4, 2, 0, 2)
    assert pair["diff"] == 0.5
    assert pair["p_value"] == 0.5  # two discordant pairs, both one way: exact two-sided p
    assert pair["diff_ci_low"] < 0.5 < pair["diff_ci_high"]
    lines = list(iter_results(tmp_path / "run" / "results.jsonl"))
    assert len(lines) == 16
    assert {ln["cached"] for ln in lines} == {False}

    again, calls_again = await _run(suite_path, tmp_path / "second")
    assert calls_again == calls  # same store, no new call: every answer came from the cache
    assert [r["pass_rate"] for r in again["runs"]] == [r["pass_rate"] for r in summary["runs"]]
    assert {r["cached"] for r in again["runs"]} == {4}


async def test_errors_are_counted_apart_never_as_zero(suite_path: Path, tmp_path: Path) -> None:
    settings_models = ["fake/broken", "fake/echo"]
    async with Pipeline(parse_config({"models": MODELS})) as pipeline:
        summary = await evaluate_suite(
            load_suite(suite_path),
            pipeline,
            EvalSettings(models=settings_models, out_dir=tmp_path / "b"),
        )
    broken = next(r for r in summary["runs"] if r["model"] == "fake/broken")
    assert (broken["n"], broken["errors"], broken["passed"]) == (0, 4, 0)
    assert broken["pass_rate"] is None
    assert broken["ci_low"] is None
    assert broken["latency_p50_ms"] is None
    text = json.dumps(summary)
    assert "NaN" not in text
    line = next(iter_results(tmp_path / "b" / "results.jsonl"))
    assert line["status"] == "error"
    assert "upstream exploded" in line["error"]


async def test_a_workload_is_a_model(suite_path: Path, tmp_path: Path) -> None:
    config = parse_config({"models": MODELS, "default_model": "fake/five"})
    async with Pipeline(config) as pipeline:
        summary = await evaluate_suite(
            load_suite(suite_path),
            pipeline,
            EvalSettings(models=["workload/default"], out_dir=tmp_path / "w"),
        )
    assert {r["model"] for r in summary["runs"]} == {"workload/default"}
    rows = list(iter_results(tmp_path / "w" / "results.jsonl"))
    assert {r["answered_by"] for r in rows} == {"fake/five"}  # routed, then answered


async def test_a_fallback_answer_is_not_counted_for_the_named_model(
    suite_path: Path, tmp_path: Path
) -> None:
    models = [*MODELS[:2], {**MODELS[2], "fallbacks": ["fake/five"]}]
    async with Pipeline(parse_config({"models": models})) as pipeline:
        summary = await evaluate_suite(
            load_suite(suite_path),
            pipeline,
            EvalSettings(models=["fake/broken"], out_dir=tmp_path / "f"),
        )
    assert {(r["n"], r["errors"]) for r in summary["runs"]} == {(0, 4)}
    rows = list(iter_results(tmp_path / "f" / "results.jsonl"))
    # the named model's own failure: its fallback is never asked in an eval
    # (after five failures the breaker pauses it: the rest say so, naming it)
    assert all(r["error"].startswith(("upstream exploded", "fake/broken:")) for r in rows)
    assert not any("fake/five" in r["error"] or r.get("answered_by") for r in rows)


async def test_resume_after_a_crash_asks_only_what_is_missing(
    suite_path: Path, tmp_path: Path
) -> None:
    await _run(suite_path, tmp_path, options=RunOptions(use_cache=False))
    results = tmp_path / "run" / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    # as if the process died after five results, halfway through writing the sixth
    results.write_text("".join(lines[:5]) + lines[5][:20])
    summary, calls = await _run(suite_path, tmp_path, options=RunOptions(use_cache=False))
    assert calls == 16 + 11  # the same store: 16 calls in the first run, 11 on resume
    rows = list(iter_results(results))
    assert len(rows) == 16
    keys = {(r["case"], r["variant"], r["model"]) for r in rows}
    assert len(keys) == 16
    assert sum(r["n"] for r in summary["runs"]) == 16


async def test_a_scorer_that_raises_marks_the_case_error(tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text(
        "def picky(output, case):\n"
        "    if case.id == 'b':\n"
        "        raise RuntimeError('cannot score b')\n"
        "    return True\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        "models: [fake/echo]\ndefaults:\n  scorers: [{python: {function: 'checks.py:picky'}}]\n"
        "cases:\n  - {id: a, input: x}\n  - {id: b, input: y}\n  - {id: c, input: z}\n"
    )
    summary, _ = await _run(path, tmp_path)
    (run,) = summary["runs"]
    assert (run["n"], run["passed"], run["errors"]) == (2, 2, 1)
    rows = {r["case"]: r for r in iter_results(tmp_path / "run" / "results.jsonl")}
    assert rows["b"]["status"] == "error"
    assert "cannot score b" in rows["b"]["error"]


async def test_judge_scores_and_an_unparsable_verdict_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(
        "models: [fake/five, fake/echo]\n"
        "defaults:\n  scorers: [{judge: {model: fake/judge, rubric: Says five.}}]\n"
        "cases:\n  - {id: q, input: 'How many fingers on a hand?', expected: five}\n"
    )
    summary, calls = await _run(path, tmp_path)
    assert calls == 4  # two answers and two judge calls, all through the pipeline
    runs = {r["model"]: r for r in summary["runs"]}
    assert runs["fake/five"]["passed"] == 1
    assert runs["fake/five"]["mean_score"] == pytest.approx(0.9)
    assert (runs["fake/echo"]["n"], runs["fake/echo"]["errors"]) == (0, 1)
    # a rerun: the answers come from the cache, and so do the verdicts the judge gave them
    again, calls_again = await _run(path, tmp_path / "again")
    assert calls_again == calls
    assert [r["cached"] for r in again["runs"]] == [1, 1]
    assert [dict(r, cached=0) for r in again["runs"]] == [
        dict(r, cached=0) for r in summary["runs"]
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: [{id: a, input: x, scorers: [exactish]}]\n", "unknown scorer 'exactish'"),
        ("defaults: {scorers: [{judge: {model: openai/gpt-x}}]}\ncases: [{id: a, input: x}]\n",
         "'openai/gpt-x' is not in the catalog"),
        ("cases_file: missing.jsonl\n", "missing.jsonl' not found"),
        ("defaults: {scorers: [exact]}\ncases: [{id: a, input: x}, {id: b, input: y, "
         "images: [no.png]}]\n", "case 'b': images: .*no.png"),
    ],
)  # fmt: skip
async def test_nothing_is_called_when_the_suite_is_wrong(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models: [fake/echo]\n" + text)
    async with Pipeline(parse_config({"models": MODELS})) as pipeline:
        with pytest.raises(SuiteError, match=message):
            await evaluate_suite(load_suite(path), pipeline, EvalSettings(out_dir=tmp_path / "o"))
        assert _eval_calls(pipeline) == 0
    assert not (tmp_path / "o").exists()


def test_a_bad_suite_exits_2_with_one_line(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cases: [{id: a, input: x, scorers: [exactish]}]\n")
    result = cli("eval", str(path))
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "bad.yaml" in result.err
    assert "unknown scorer 'exactish'" in result.err


class _Crowded(FakeProvider):
    """A provider whose endpoint says 429 (with retry-after) to the first three calls."""

    name = "crowded"

    def __init__(self) -> None:
        self.calls = 0

    def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        self.calls += 1
        if self.calls <= 3:
            raise RateLimited("too many requests; slow down.", retry_after_s=0.05)
        return super().stream(model, request)


async def test_rate_limits_halve_concurrency_and_are_retried(
    suite_path: Path, tmp_path: Path
) -> None:
    crowded = _Crowded()
    # scripted replies are the fake provider's settings: the crowded one stands in for it
    models = [{"name": "crowded/m", "provider": "fake", "retries": 0,
               "replies": [{"text": "It is 5."}]}]  # fmt: skip
    config = parse_config({"models": models})
    async with Pipeline(config, providers={"fake": lambda cfg: crowded}) as pipeline:
        summary = await evaluate_suite(
            load_suite(suite_path),
            pipeline,
            EvalSettings(models=["crowded/m"], out_dir=tmp_path / "r",
                         options=RunOptions(concurrency=4, retries=5, backoff_s=0.01)),
        )  # fmt: skip
    plain, asked = summary["runs"]
    assert (plain["errors"], asked["errors"]) == (0, 0)
    assert plain["n"] + asked["n"] == 8
    assert summary["rate_limit_backoffs"]["crowded/m"] == 3
    assert crowded.calls == 8 + 3


async def test_http_429_backs_off_and_retries_on_the_wire(suite_path: Path, tmp_path: Path) -> None:
    from upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json

    rec = RecordingUpstream(default=lambda body: Scripted(json_body=chat_json("It is 5.")))
    busy = Scripted(status=429, json_body={"error": {"message": "slow down"}},
                    headers={"retry-after": "0.1"})  # fmt: skip
    rec.script = [busy, busy]
    with ServerThread(rec.app) as server:
        models = [{"name": "up/m", "provider": "openai", "base_url": f"{server.url}/v1",
                   "locality": "on-prem", "retries": 0}]  # fmt: skip
        async with Pipeline(parse_config({"models": models})) as pipeline:
            summary = await evaluate_suite(
                load_suite(suite_path),
                pipeline,
                EvalSettings(models=["up/m"], out_dir=tmp_path / "h",
                             options=RunOptions(concurrency=2, retries=4, backoff_s=0.01)),
            )  # fmt: skip
    assert sum(r["errors"] for r in summary["runs"]) == 0
    assert sum(r["passed"] for r in summary["runs"]) == 4  # "It is 5." is right for a and d
    assert summary["rate_limit_backoffs"]["up/m"] == 2
    assert len(rec.requests) == 8 + 2


WIRE_SUITE = """
name: wire
defaults:
  params: {max_tokens: 8, temperature: 0}
  scorers: [numeric, {contains: {value: "echo"}}]
variants:
  plain: "{{ q }}"
  asked: "Please tell me: {{ q }}"
cases:
""" + "".join(
    f"  - {{id: c{i}, vars: {{q: 'is it {i}'}}, expected: {i if i % 3 else i + 1}}}\n"
    for i in range(150)
)


def _wire_models(url: str) -> list[dict[str, Any]]:
    return [
        {"name": f"up/{name}", "provider": "openai", "base_url": f"{url}/v1",
         "upstream_model": name, "locality": "on-prem", "retries": 0}
        for name in ("a", "b")
    ]  # fmt: skip


def _lines(path: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["case"], r["variant"], r["model"]): r for r in iter_results(path)}


def _replayed(line: dict[str, Any]) -> dict[str, Any]:
    """A line as a cached rerun must give it back: the same in all but how it was obtained."""
    return {k: v for k, v in line.items() if k not in ("cached", "attempts")}


async def test_a_cached_rerun_gives_every_line_back_without_calling(tmp_path: Path) -> None:
    from upstream_servers import RecordingUpstream, ServerThread

    path = tmp_path / "wire.yaml"
    path.write_text(WIRE_SUITE)
    rec = RecordingUpstream()
    with ServerThread(rec.app) as server:
        config = parse_config({"models": _wire_models(server.url)})
        models = ["up/a", "up/b"]
        async with Pipeline(config) as pipeline:
            cold = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "1")
            )
        asked = len(rec.requests)
        assert asked == 150 * 2 * 2
        async with Pipeline(config) as pipeline:
            warm = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "2")
            )
        assert len(rec.requests) == asked  # nothing reached the upstream the second time
    first = _lines(tmp_path / "1" / "results.jsonl")
    second = _lines(tmp_path / "2" / "results.jsonl")
    assert len(second) == 600
    assert {line["cached"] for line in second.values()} == {True}
    assert {line["cached"] for line in first.values()} == {False}
    assert {k: _replayed(v) for k, v in second.items()} == {
        k: _replayed(v) for k, v in first.items()
    }
    assert {line["status"] for line in second.values()} == {"pass", "fail"}
    assert [dict(r, cached=0) for r in warm["runs"]] == [dict(r, cached=0) for r in cold["runs"]]
    assert [r["cached"] for r in warm["runs"]] == [150] * 4
    assert warm["comparisons"] == cold["comparisons"]
    # the summary is kept as the results are written: it is what the file says
    stats = summarize_results(tmp_path / "2" / "results.jsonl", models, ["plain", "asked"])
    assert stats == {"runs": warm["runs"], "comparisons": warm["comparisons"]}


async def test_an_interrupted_run_resumes_to_the_same_results(tmp_path: Path) -> None:
    from upstream_servers import RecordingUpstream, Scripted, ServerThread, chat_json

    path = tmp_path / "wire.yaml"
    path.write_text(WIRE_SUITE)
    slow = RecordingUpstream(
        default=lambda body: Scripted(
            json_body=chat_json(f"echo: {body['messages'][-1]['content']}"), delay_s=0.01
        )
    )
    models = ["up/a", "up/b"]
    with ServerThread(slow.app) as server:
        config = parse_config({"models": _wire_models(server.url)})
        async with Pipeline(config) as pipeline:
            whole = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "all")
            )
        # a cold run stopped as Ctrl-C stops it: its task cancelled halfway
        opts = RunOptions(use_cache=False, concurrency=4)
        async with Pipeline(config) as pipeline:
            task = asyncio.ensure_future(
                evaluate_suite(
                    load_suite(path),
                    pipeline,
                    EvalSettings(models=models, out_dir=tmp_path / "cut", options=opts),
                )
            )
            for _ in range(3000):
                if (
                    task.done()
                    or len(list(iter_results(tmp_path / "cut" / "results.jsonl"))) >= 100
                ):
                    break
                await asyncio.sleep(0.01)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        cut = tmp_path / "cut"
        assert json.loads((cut / "summary.json").read_text())["status"] == "interrupted"
        kept = len(list(iter_results(cut / "results.jsonl")))
        assert 100 <= kept < 600
        before = len(slow.requests)
        async with Pipeline(config) as pipeline:
            resumed = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=cut, options=opts)
            )
        # only what was missing was asked (and the few calls cut off in flight)
        assert 600 - kept <= len(slow.requests) - before <= 600 - kept + 4 * 2
    assert resumed["status"] == "finished"
    assert {k: v["status"] for k, v in _lines(cut / "results.jsonl").items()} == {
        k: v["status"] for k, v in _lines(tmp_path / "all" / "results.jsonl").items()
    }
    assert [dict(r, cached=0) for r in resumed["runs"]] == [
        dict(r, cached=0, latency_p50_ms=r2["latency_p50_ms"], latency_p95_ms=r2["latency_p95_ms"])
        for r, r2 in zip(whole["runs"], resumed["runs"], strict=True)
    ]


async def test_a_cached_run_cut_short_resumes_from_the_cache(tmp_path: Path) -> None:
    from upstream_servers import RecordingUpstream, ServerThread

    path = tmp_path / "wire.yaml"
    path.write_text(WIRE_SUITE)
    rec = RecordingUpstream()
    models = ["up/a", "up/b"]
    with ServerThread(rec.app) as server:
        config = parse_config({"models": _wire_models(server.url)})
        async with Pipeline(config) as pipeline:
            await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "1")
            )
            warm = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "2")
            )
        asked = len(rec.requests)
        # cached answers are written a chunk at a time: a crash loses the chunk being scored
        # (and can tear the line being written); a resume takes those from the cache again
        results = tmp_path / "2" / "results.jsonl"
        lines = results.read_text().splitlines(keepends=True)
        results.write_text("".join(lines[:250]) + lines[250][:30])
        (tmp_path / "2" / "summary.json").unlink()
        async with Pipeline(config) as pipeline:
            again = await evaluate_suite(
                load_suite(path), pipeline, EvalSettings(models=models, out_dir=tmp_path / "2")
            )
        assert len(rec.requests) == asked
    rows = list(iter_results(results))
    assert len(rows) == 600
    assert {k: _replayed(v) for k, v in _lines(results).items()} == {
        k: _replayed(v) for k, v in _lines(tmp_path / "1" / "results.jsonl").items()
    }
    assert again["runs"] == warm["runs"]


def test_results_keep_any_text_a_model_returns(tmp_path: Path) -> None:
    from mixstack.evals._results import ResultLine, ResultsFile

    odd = ResultLine(case="a", variant="v", model="m", status="fail", output="x\ud800y é ✓ \n")
    plain = ResultLine(case="b", variant="v", model="m", status="pass", score=1.0, expected=[1])
    results = ResultsFile(tmp_path)
    results.write(odd)
    results.write_many([plain, odd])
    results.close()
    rows = list(iter_results(tmp_path / "results.jsonl"))
    assert rows == [odd.to_json(), plain.to_json(), odd.to_json()]
