"""The README is a test: every Python example runs, every shell command has a known fate.

Python blocks run in a fresh interpreter, on the embedded model (the agent example included:
SmolLM2 calls the `stock` tool and answers 7 in seconds).

Each shell command is looked up in `COMMANDS` by its exact text: `run` runs it as written
(in a folder holding the files it names, on the embedded models: each takes seconds, so a
README example that got slow shows here as a slow suite, and one that broke fails),
`fake` runs it with a config of scripted models (it needs a rented model or a config the
README only sketches), `covered` names the test that runs the same command (too slow to run
twice: the string must appear in that test file), `skip` says why it cannot run here. A
command added to the README without an entry fails `test_every_shell_command_has_a_fate`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAKE_MODELS

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(README.read_text()) if lang == language]


def shell_commands() -> list[str]:
    """Each command line of the `sh` blocks, comments and continuation lines dropped."""
    found = []
    for body in blocks("sh"):
        for line in body.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                found.append(command)
    return found


@dataclass(frozen=True)
class Fate:
    kind: str  # run | fake | covered | skip
    why: str = ""
    stdin: str = ""
    #: for `covered`: the test file, and a string of the command found in it
    where: str = ""
    needle: str = ""
    #: for run/fake: what stdout must contain (each of them), and stderr
    expect: str | tuple[str, ...] = ""
    expect_err: str = ""


def covered(where: str, needle: str, why: str) -> Fate:
    return Fate("covered", why, where=where, needle=needle)


COMMANDS: dict[str, Fate] = {
    "make demo": Fate("skip", "builds a virtualenv; the suite runs inside one made this way"),
    "make test": Fate("skip", "this suite is what `make test` runs"),
    "mixstack doctor": covered("tests/test_doctor.py", '"doctor"', "the decode check takes 30 s"),
    "mixstack doctor --json": covered(
        "tests/test_doctor.py", '"--json"', "the decode check takes 30 s"
    ),
    ". .venv/bin/activate": Fate("skip", "shell set-up; the suite runs in the virtualenv"),
    "mixstack models": Fate("run", expect="local/smollm2-135m-instruct"),
    # greedy: the README quotes the answer
    'mixstack run --temperature 0 "Name three primes."': Fate("run", expect="2, 3, and 5"),
    'echo "Summarise: ..." | mixstack run --json': Fate(
        "run", expect=('"finish_reason": "', '"usage"', '"route"')
    ),
    # a base model continues the text: the week goes on
    'mixstack run -m local/gemma3-270m --max-tokens 12 --temperature 0 "Monday, Tuesday,"': Fate(
        "run", expect="Wednesday, Thursday, Friday"
    ),
    # the screenshot's text reached SmolLM2 through OCR: it quotes it
    'mixstack run --image shot.png --max-tokens 40 --temperature 0 "What does the error say?"': (
        Fate("run", expect="disk quota exceeded")
    ),
    "mixstack chat": Fate("run", stdin="/exit\n"),
    "mixstack logs -n 5": Fate("run"),
    "mixstack eval examples/evals/arithmetic.yaml --report arithmetic.html": Fate(
        "run",
        expect=(
            "local/smollm2-135m-instruct[rough] − local/gemma3-270m[rough]",
            "on 6 paired cases",
            "report: arithmetic.html",
        ),
    ),
    "mixstack eval suite.yaml -m local/smollm2-135m-instruct -m openai/gpt-4.1 --json "
    "--fail-under 0.8": Fate("skip", "needs a rented model and names a placeholder suite"),
    "mixstack eval compare RUN_A RUN_B": covered(
        "tests/test_evals_cli.py", '"eval", "compare"', "RUN_A/RUN_B are run ids"
    ),
    "mixstack eval calibrate RUN --target 0.9": covered(
        "tests/test_evals_cli.py", '"eval", "calibrate"', "RUN is a run id"
    ),
    "mixstack audit examples/audit/traces.jsonl": Fate("run", expect="sound"),
    "mixstack eval SUITE --audit-reasoning": Fate("skip", "SUITE stands for the reader's suite"),
    "mixstack sweep examples/sweep/needles.yaml --lengths 256,1k,4k --report sweep.html": (
        covered("tests/test_sweep.py", "needles.yaml", "4k-token prompts on SmolLM2: minutes")
    ),
    'mixstack agent "What is 23 * 17?"': Fate("run", expect="391"),
    'mixstack agent --root ./work --json "Summarise notes.txt"': Fate("run", expect="4000 EUR"),
    "mixstack trace last": covered("tests/test_agents.py", '"last"', "needs an agent's trace"),
    'mixstack rephrase "Analyze this screenshot and tell me what to do."': Fate("run"),
    'mixstack rephrase --for code -m anthropic --json "fix parse_date()"': Fate(
        "run", expect='"use_case": "code"'
    ),
    'mixstack rephrase --schema invoice.schema.json --diff "Read this invoice."': Fate("run"),
    # SmolLM2 does not keep to the labelled lines: the rules rewrite is printed, a note says so
    'mixstack rephrase --mode model "..."': Fate(
        "run", expect="Task: ...", expect_err="using the rules rewrite instead"
    ),
    'mixstack route --json -w support "Email jane@example.org"': Fate(
        "fake", "needs the `support` workload of the README's config", expect='"workload"'
    ),
    "mixstack logs --privacy": Fate("run"),
    "mixstack route replay --config new.yaml --since 2026-01-01": covered(
        "tests/test_router_cli.py", '"replay", "--config"', "new.yaml is the reader's config"
    ),
    ".venv/bin/python bench/router.py": Fate("skip", "a benchmark (minutes); bench/ is run apart"),
    "mixstack serve --config mixstack.yaml --port 4000 [--workers 4]": covered(
        "tests/test_gateway_serve.py", '"serve", "--config"', "a server that runs until stopped"
    ),
    "mixstack keys create --name team-a --budget 5 --rpm 60 --tpm 100000 --models 'local/*' "
    "--models 'vllm/*'": Fate("run", expect="mxs-"),
    "mixstack keys list ; mixstack keys revoke key_…": covered(
        "tests/test_keys.py", '"keys", "revoke"', "key_… stands for the id just created"
    ),
    "pip install 'mixstack[tune]'": Fate("skip", "installs packages; the dev lock has the extra"),
    "mixstack tune dataset ds -w tickets --suite suite.yaml --teacher openai/gpt-4.1-mini": (
        covered(
            "tests/test_tune.py",
            "test_dataset_from_a_suite_keeps_only_the_teachers_right_answers",
            "needs a rented teacher; the test uses an offline one",
        )
    ),
    "mixstack tune dataset ds -w tickets --check '{regex: {pattern: \"^(billing|bug)$\"}}'": (
        covered(
            "tests/test_tune.py",
            "test_dataset_from_the_call_log_keeps_checked_answers_and_says_what_it_dropped",
            "needs a call log of the workload",
        )
    ),
    "mixstack tune train ds run --base local/smollm2-135m-instruct": covered(
        "tests/test_tune_train.py",
        "test_training_lowers_the_loss_and_the_gguf_adapter_changes_the_output",
        "minutes of training on a dataset the reader built",
    ),
    "mixstack tune export run --name tickets-smollm2": covered(
        "tests/test_tune_train.py", "export", "needs a trained run"
    ),
    "mixstack tune gate local/tickets-smollm2 --teacher openai/gpt-4.1-mini": covered(
        "tests/test_tune.py",
        "test_gate_compares_tuned_base_and_teacher_on_the_heldout_split",
        "needs a rented teacher and a tuned model",
    ),
    "mixstack tune rollback tickets": covered(
        "tests/test_tune.py", '"tune", "rollback", "tickets"', "needs a promotion to undo"
    ),
}


def test_every_shell_command_has_a_fate() -> None:
    missing = [c for c in shell_commands() if c not in COMMANDS]
    assert not missing, f"README commands without an entry in COMMANDS: {missing}"
    stale = [c for c in COMMANDS if c not in shell_commands()]
    assert not stale, f"COMMANDS entries no longer in the README: {stale}"


@pytest.mark.parametrize("command", [c for c, f in COMMANDS.items() if f.kind == "covered"])
def test_covered_commands_are_run_by_the_named_test(command: str) -> None:
    fate = COMMANDS[command]
    assert fate.needle in (ROOT / fate.where).read_text(), (command, fate.where)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the commands name: the examples, a screenshot, notes, a schema, a config."""
    from PIL import Image, ImageDraw

    here = tmp_path_factory.mktemp("readme")
    (here / "examples").symlink_to(ROOT / "examples")
    shot = Image.new("RGB", (520, 80), "white")
    ImageDraw.Draw(shot).text((10, 30), "ERROR: disk quota exceeded on /var", fill="black")
    shot.save(here / "shot.png")
    (here / "work").mkdir()
    (here / "work" / "notes.txt").write_text("Ship on Friday. Budget: 4000 EUR.\n")
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    (here / "invoice.schema.json").write_text(json.dumps(schema))
    fake = {"models": FAKE_MODELS, "workloads": {"support": {"privacy": "auto"}}}
    (here / "fake.yaml").write_text(yaml.safe_dump(fake))
    return here


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MIXSTACK_HOME": str(folder / "home"), **extra}
    env.pop("MIXSTACK_CONFIG", None)
    env.update(extra)
    return env


def _shell(command: str) -> str:
    """The command with `mixstack` as this interpreter's module (the venv's script may be
    another checkout's)."""
    return command.replace("mixstack ", f"{sys.executable} -m mixstack ")


@pytest.mark.model
@pytest.mark.parametrize("command", [c for c, f in COMMANDS.items() if f.kind in ("run", "fake")])
def test_shell_command_runs(command: str, folder: Path) -> None:
    fate = COMMANDS[command]
    extra = {"MIXSTACK_CONFIG": str(folder / "fake.yaml")} if fate.kind == "fake" else {}
    proc = subprocess.run(
        _shell(command),
        shell=True,
        cwd=folder,
        env=_env(folder, **extra),
        input=fate.stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
    expected = (fate.expect,) if isinstance(fate.expect, str) else fate.expect
    for text in expected:
        assert text in proc.stdout, (command, text, proc.stdout[-2000:])
    assert fate.expect_err in proc.stderr, (command, proc.stderr[-2000:])


@pytest.mark.model
@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_example_runs(index: int, folder: Path) -> None:
    code = blocks("python")[index]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
    if "run_agent" in code:
        # SmolLM2 calls `stock` with the task's sku; its answer (or the one the runtime
        # composed from the result) says 7
        printed = re.fullmatch(r"(.+) answer tr_\w+\n", proc.stdout)
        assert printed, (proc.stdout, proc.stderr)
        assert re.search(r"(?<![\w-])7\b", printed[1]), proc.stdout
