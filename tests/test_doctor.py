"""The build check and `mixstack doctor`: a miscompiled llama.cpp is caught in `make test`.

These tests are not marked `model`: a backend that crashes or computes garbage must fail the
suite every time, whatever markers a run deselects.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from mixstack.providers.local._selfcheck import PROBES, run_in_subprocess


def test_embedded_models_decode_the_known_continuations() -> None:
    check = run_in_subprocess()
    assert check.crashed is None, check.message
    assert len(check.results) == len(PROBES)
    for result in check.results:
        assert result.ok, check.message
        assert result.tokens_per_s > 0
    # every expected token won by a clear margin on this build: other correct builds agree
    assert min(r.min_margin for r in check.results) > 0.5, check.results
    assert "CPU" in check.system_info


def test_a_crashing_backend_is_reported_with_the_signal_and_the_fix() -> None:
    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    check = run_in_subprocess(command=[sys.executable, "-c", suicide])
    assert not check.ok
    assert check.crashed == "killed by SIGSEGV"
    assert "make clean-llama" in check.message


def test_a_child_that_prints_nothing_useful_is_a_failure_not_a_pass() -> None:
    check = run_in_subprocess(command=[sys.executable, "-c", "print('hello')"])
    assert not check.ok
    assert check.crashed is not None


def test_doctor_passes_on_this_install(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("doctor", "--json", timeout=300)
    report = json.loads(result.out)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert result.code == 0, failed
    assert report["ok"] is True
    names = {c["name"] for c in report["checks"]}
    assert {"python", "packages", "cpu", "llama.cpp build", "config", "store"} <= names
    assert any(n.startswith("decode local/smollm2") for n in names)
    smol = next(c for c in report["checks"] if c["name"] == "model local/smollm2-135m-instruct")
    assert "sha256 verified" in smol["detail"]


def test_doctor_fails_on_a_broken_config_and_names_the_fix(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    result = cli("doctor", "--no-decode", "--config", str(bad))
    assert result.code == 1
    assert "FAIL config" in result.out
    assert "invalid YAML" in result.out


def test_doctor_fails_on_a_store_from_a_newer_mixstack(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / "mixstack.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = cli("doctor", "--no-decode", "--json")
    assert result.code == 1
    store = next(c for c in result.json()["checks"] if c["name"] == "store")
    assert store["status"] == "fail"
    assert "newer than this mixstack" in store["detail"]
