"""The default path opens no network connection at all.

The CLI runs in a subprocess whose audit hook records (and refuses) every socket connect and
name lookup; the embedded model must answer with none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_GUARD = textwrap.dedent(
    """
    import json, sys
    attempts = []
    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg"):
            attempts.append([event, repr(args)[:200]])
            raise PermissionError("network blocked by test: " + event)
    sys.addaudithook(hook)
    import atexit
    out = sys.argv[1]
    atexit.register(lambda: open(out, "w").write(json.dumps(attempts)))
    sys.argv = ["mixstack", *sys.argv[2:]]
    from mixstack.cli.app import main
    main()
    """
)


Result = tuple[subprocess.CompletedProcess[str], list[object]]


def _run_blocked(tmp_path: Path, *args: str) -> Result:
    record = tmp_path / "attempts.json"
    proc = subprocess.run(
        [sys.executable, "-c", _GUARD, str(record), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_PROXY": "*"},
        timeout=180,
        check=False,
    )
    attempts = json.loads(record.read_text()) if record.exists() else ["no record written"]
    return proc, attempts


@pytest.mark.model
def test_default_path_opens_no_socket(tmp_path: Path) -> None:
    proc, attempts = _run_blocked(
        tmp_path, "run", "--json", "--max-tokens", "8", "--temperature", "0", "Say hi."
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "local/smollm2-135m-instruct"
    assert attempts == []
    for command in (["models", "--json"], ["logs", "--json"]):
        proc, attempts = _run_blocked(tmp_path, *command)
        assert proc.returncode == 0, proc.stderr
        assert attempts == []


def test_the_guard_itself_catches_a_connection(tmp_path: Path) -> None:
    """The hook is real: a command that does touch the network is caught by it."""
    record = tmp_path / "attempts.json"
    code = _GUARD.replace(
        "from mixstack.cli.app import main\nmain()",
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 9), timeout=0.1)\n"
        "except OSError:\n    pass",
    )
    subprocess.run([sys.executable, "-c", code, str(record)], check=True, timeout=60)
    attempts = json.loads(record.read_text())
    assert attempts
    assert attempts[0][0] in ("socket.getaddrinfo", "socket.connect")


def test_the_privacy_guard_loads_and_runs_its_model_offline(tmp_path: Path) -> None:
    """The entity model, the name lists and every recognizer load from installed packages:
    scanning a prompt full of personal data opens no socket and looks up no name."""
    prompt = (
        "Patient John Smith, born 03/02/1980, lives at 12 Baker Street, London; "
        "email john.smith at gmail dot com, card 4111 1111 1111 1111. Diagnosis: epilepsy."
    )
    proc, attempts = _run_blocked(tmp_path, "route", "--json", prompt)
    assert attempts == []
    assert proc.returncode == 0, proc.stderr
    types = {c["type"] for c in json.loads(proc.stdout)["pii"]}
    assert {"PERSON", "DATE_OF_BIRTH", "STREET_ADDRESS", "EMAIL_ADDRESS"} <= types
    assert {"CREDIT_CARD", "HEALTH_CONDITION"} <= types
