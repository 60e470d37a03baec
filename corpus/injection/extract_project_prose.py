"""Extract benign technical prose about LLM tooling for the training corpus: sentences of the
docstrings of half of mixstack's own modules (Apache-2.0), written once to
`project_prose.txt`.

Text about prompts, tools, models and policies is what an assistant reads in documentation
and code, and what a detector trained on other prose mistakes for instructions. Only modules
whose path hashes even (CRC-32) are used: the other half stays out of training, to check the
detector on text of the same kind it has never seen. The injection detector's own modules are
left out (their docstrings quote attacks).

    python corpus/injection/extract_project_prose.py
"""

from __future__ import annotations

import ast
import re
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z`(\"'])")


def training_half(relative: str) -> bool:
    """Whether a module (path relative to `src/`) may feed training."""
    return zlib.crc32(relative.encode()) % 2 == 0 and "injection" not in relative


def sentences() -> list[str]:
    found: set[str] = set()
    src = ROOT / "src"
    for path in sorted(src.rglob("*.py")):
        if not training_half(str(path.relative_to(src))):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node)
                for s in _SENTENCE.split(" ".join((doc or "").split())):
                    if 30 <= len(s) <= 300 and sum(c.isalpha() for c in s) > 0.6 * len(s):
                        found.add(s)
    return sorted(found)


def main() -> None:
    found = sentences()
    out = Path(__file__).with_name("project_prose.txt")
    out.write_text("\n".join(found) + "\n", "utf-8")
    print(f"{len(found)} sentences -> {out}")


if __name__ == "__main__":
    main()
