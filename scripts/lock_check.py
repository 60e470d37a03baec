"""Is the lock file current? Compare the dependency lists of pyproject.toml with the stamp.

`make lock` writes the stamp; an install from a stale lock would leave out what was added to
pyproject.toml since, so the install stops and says to refresh it.

    python scripts/lock_check.py write|check
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / "requirements" / "pyproject.sha256"


def digest() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def main() -> int:
    if sys.argv[1:] == ["write"]:
        STAMP.write_text(digest() + "\n", encoding="utf-8")
        return 0
    recorded = STAMP.read_text(encoding="utf-8").strip() if STAMP.exists() else ""
    if recorded != digest():
        print(
            "error: the dependencies in pyproject.toml changed since the lock files in "
            "requirements/ were made; run `make lock` and commit the result.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
