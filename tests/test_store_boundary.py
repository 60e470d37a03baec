"""No SQL outside `mixstack.store`: every other module reaches the database through the
store's repositories, so a second backend is one module per repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mixstack

SRC = Path(mixstack.__file__).parent
STORE = SRC / "store"

#: statements as they start in a string (a docstring saying "select" is not SQL)
_SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
    r"CREATE\s+(TABLE|INDEX|TRIGGER|VIEW)\s|DROP\s+TABLE\s|ALTER\s+TABLE\s|PRAGMA\s|BEGIN\b)",
    re.IGNORECASE | re.DOTALL,
)
#: database drivers and their entry points: only the store opens a database
_DRIVERS = ("sqlite3.connect", "psycopg", "psycopg_pool", "redis", "asyncpg")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offences(path: Path, root: Path = SRC) -> list[str]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if _SQL.match(node.value):
                found.append(f"{path.relative_to(root)}:{node.lineno}: SQL {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if _SQL.match(text):
                found.append(f"{path.relative_to(root)}:{node.lineno}: SQL f-string {text[:40]!r}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                if name and name.split(".")[0] in _DRIVERS:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: imports {name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            if dotted in _DRIVERS:
                found.append(f"{path.relative_to(root)}:{node.lineno}: calls {dotted}")
    return found


def test_no_sql_outside_the_store() -> None:
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        if STORE in path.parents:
            continue
        offences += _offences(path)
    assert offences == [], "SQL belongs in mixstack.store's repositories:\n" + "\n".join(offences)


def test_the_check_finds_sql(tmp_path: Path) -> None:
    """The scan is not blind: a module with a query, a driver call and an f-string is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""SELECT in a docstring is prose."""\n'
        "import sqlite3\n"
        "table = 'calls'\n"
        "conn = sqlite3.connect('x')\n"
        "conn.execute('SELECT * FROM calls WHERE id = ?', (1,))\n"
        "conn.execute(f'DELETE FROM {table} WHERE id = 1')\n"
    )
    found = _offences(bad, tmp_path)
    assert {f.split(":")[1] for f in found} == {"4", "5", "6"}, found
    assert any("calls sqlite3.connect" in f for f in found)
    assert any("SQL 'SELECT" in f for f in found)
    assert any("f-string 'DELETE FROM" in f for f in found)
