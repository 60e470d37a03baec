"""Extract benign English prose for the training corpus: sentences of CPython's standard
library docstrings (PSF License 2.0), written once to `benign_prose.txt`.

    python3.11 corpus/injection/extract_prose.py
"""

from __future__ import annotations

import ast
import random
import re
import sys
from pathlib import Path

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentences(root: Path) -> list[str]:
    found: set[str] = set()
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if "test" in path.parts[-2:][0] or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                flat = " ".join(doc.split())
                for s in _SENTENCE.split(flat):
                    letters = sum(c.isalpha() or c == " " for c in s)
                    if 50 <= len(s) <= 220 and letters > 0.9 * len(s) and s.endswith("."):
                        found.add(s)
    return sorted(found)


def main() -> None:
    root = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    found = sentences(root)
    random.Random(5).shuffle(found)
    out = Path(__file__).with_name("benign_prose.txt")
    out.write_text("\n".join(found[:5000]) + "\n", "utf-8")
    print(f"{min(len(found), 5000)} of {len(found)} sentences -> {out}")


if __name__ == "__main__":
    main()
