"""Progress of long commands: a live bar on a terminal, plain lines when piped, never stdout."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from mixstack.cli.progress import CountProgress, format_eta


def test_live_bar_shows_counts_and_eta_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    bar = CountProgress(console, label="eval")
    bar.start("fake/a", 4, 1)  # one result already there (a resumed run)
    for _ in range(3):
        bar.advance("fake/a")
    bar.stop()
    text = out.getvalue()
    assert "eval fake/a" in text
    assert "4/4" in text
    assert "eta" in text


def test_piped_progress_is_plain_periodic_lines() -> None:
    out = io.StringIO()
    bar = CountProgress(Console(file=out, width=80), label="sweep", interval=0.0)
    bar.add_total("m", 2)
    bar.advance("m")
    bar.add_total("m", 2)  # the next length was planned
    bar.advance("m")
    bar.stop()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep m: 1/2 (50%), elapsed 0:0")
    assert "eta" in lines[0]
    assert lines[-1].startswith("sweep m: 2/4 (50%)")
    assert "\x1b[" not in out.getvalue()  # no terminal codes in a log


def test_format_eta() -> None:
    assert format_eta(None) == "?"
    assert format_eta(65) == "1:05"
    assert format_eta(3725) == "1:02:05"


def test_eval_reports_progress_on_stderr_and_only_json_on_stdout(tmp_path: Path, cli: Any) -> None:
    config = tmp_path / "mixstack.yaml"
    config.write_text(yaml.safe_dump({"models": [{"name": "fake/echo", "provider": "fake"}]}))
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "models: [fake/echo]\ndefaults:\n  scorers: [numeric]\ncases:\n"
        + "".join(f"  - {{id: c{i}, input: 'so {i}', expected: {i}}}\n" for i in range(5))
    )
    result = cli("eval", str(suite), "-c", str(config), "--json", "--out", str(tmp_path / "r"),
                 env={"MIXSTACK_PROGRESS_SECONDS": "0"})  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["runs"][0]["n"] == 5  # stdout is the JSON and nothing else
    assert "eval fake/echo: 5/5 (100%)" in result.err
    assert "eval fake/echo: 1/5" in result.err  # periodic, not only at the end


def test_piped_tables_do_not_wrap(cli: Any) -> None:
    result = cli("models")
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if "smollm2-135m-instruct" in line]
    assert rows
    assert all("local" in line for line in rows)  # the locality stays on the model's line
    assert max(len(line) for line in result.out.splitlines()) > 80 or len(rows) == 1


def test_version_and_help(cli: Any) -> None:
    version = cli("--version")
    assert version.code == 0
    assert version.out.startswith("mixstack ")
    helped = cli("--help")
    assert helped.code == 0
    assert "<bool>" not in helped.out
    assert "6 quality below --fail-under" in " ".join(helped.out.split())
