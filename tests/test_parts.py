"""The parts table of the design, enforced: a module imports only its own part and the parts
its part depends on (transitively). The table is DESIGN.md's; where the code departs from
it today, `KNOWN` says where and why, and an entry that no longer applies fails too, so the
list only shrinks."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "mixstack"

#: part -> the parts it depends on (DESIGN.md's table; `*` = anything)
TABLE: dict[str, tuple[str, ...]] = {
    "types": (),
    "config": ("types",),
    "providers": ("types", "config"),
    "catalog": ("config", "providers"),
    "guard": ("types", "store"),
    "router": ("catalog", "guard"),
    "rephrase": ("types",),
    "pipeline": ("types", "config", "providers", "catalog", "guard", "router", "rephrase", "store"),
    # every part may raise mixstack's errors and use its JSON encoding (both in `types`)
    "store": ("types",),
    "evals": ("pipeline", "store"),
    "agents": ("pipeline", "store"),
    "monitor": ("store", "guard"),
    "gateway": ("pipeline", "store", "monitor"),
    "tune": ("pipeline", "evals", "store"),
    # front doors above the pipeline that live beside the part they serve
    "frontdoor": ("pipeline",),
    "cli": ("*",),
    "root": ("*",),
}

#: first path component under src/mixstack (or a module path) -> part
PART = {
    "types.py": "types",
    "errors.py": "types",
    "jsonbytes.py": "types",
    "streaming.py": "types",
    "toolcalls.py": "types",
    "toolfit.py": "types",
    "_sync.py": "types",
    "_cpu.py": "types",
    "_plugins.py": "types",
    "_version.py": "types",
    "_home.py": "types",
    "tokens.py": "types",
    "config": "config",
    "providers": "providers",
    "catalog.py": "catalog",
    "guard": "guard",
    "router": "router",
    "rephrase": "rephrase",
    # the pipeline's own stage of rephrasing, and the front door of `mixstack.rephrase()`
    "rephrase/stage.py": "pipeline",
    "rephrase/__init__.py": "frontdoor",
    "rephrase/api.py": "frontdoor",
    "rephrase/model_mode.py": "frontdoor",
    "pipeline.py": "pipeline",
    "resilience.py": "pipeline",
    "vision": "pipeline",
    "api.py": "frontdoor",
    "_shared.py": "pipeline",
    "store": "store",
    "evals": "evals",
    "audit": "evals",
    "sweep": "evals",
    "agents": "agents",
    "monitor": "monitor",
    "gateway": "gateway",
    "tune": "tune",
    "cli": "cli",
    "doctor.py": "cli",
    "__main__.py": "cli",
    "__init__.py": "root",
}

#: (importing module, imported module) that depart from the table today, and why
KNOWN: dict[tuple[str, str], str] = {
    ("gateway/ui/admin_pages.py", "mixstack.evals.report"): "the dashboard shows eval runs",
    ("gateway/ui/admin_pages.py", "mixstack.evals.runs"): "the dashboard shows eval runs",
    ("guard/pii.py", "mixstack.config.workloads"): "the scanner reads a workload's privacy",
    ("guard/pii.py", "mixstack.vision"): "the OCR text of images is scanned too",
    ("monitor/baseline.py", "mixstack.config.monitor"): "thresholds come from the config",
    ("monitor/gateway.py", "mixstack.config"): "the gateway's monitor reads workloads",
    ("monitor/gateway.py", "mixstack.config.workloads"): "the gateway's monitor reads workloads",
    ("monitor/gateway.py", "mixstack.pipeline"): "it sees the pipeline's call context",
    ("monitor/gateway.py", "mixstack.router.router"): "it records the route's workload",
    ("monitor/gateway.py", "mixstack.router.workloads"): "it records the route's workload",
    ("rephrase/render.py", "mixstack.catalog"): "a family is read off a model entry",
}


def part_of(path: Path) -> str:
    rel = path.relative_to(SRC).as_posix()
    return PART.get(rel) or PART[rel.split("/")[0]]


def module_part(module: str) -> str:
    rel = module.removeprefix("mixstack").lstrip(".").replace(".", "/")
    if not rel:
        return "root"
    for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
        if (SRC / candidate).exists():
            return part_of(SRC / candidate)
    raise AssertionError(f"no module {module}")


def reach(part: str) -> set[str]:
    seen: set[str] = set()
    todo = list(TABLE[part])
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo += TABLE.get(item, ())
    return seen


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m == "mixstack" or m.startswith("mixstack.")}


def departures() -> dict[tuple[str, str], str]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        mine = part_of(path)
        allowed = reach(mine) | {mine}
        for module in imports(path):
            theirs = module_part(module)
            if "*" not in allowed and theirs not in allowed:
                out[(path.relative_to(SRC).as_posix(), module)] = f"{mine} -> {theirs}"
    return out


def test_every_import_follows_the_parts_table() -> None:
    found = departures()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    assert not new, f"imports against DESIGN.md's parts table: {new}"
    stale = [k for k in KNOWN if k not in found]
    assert not stale, f"KNOWN entries that no longer apply (remove them): {stale}"


def test_providers_depend_on_types_and_config_only() -> None:
    for path in (SRC / "providers").rglob("*.py"):
        parts = {module_part(m) for m in imports(path)}
        assert parts <= {"types", "config", "providers"}, (path, parts)


def test_no_module_imports_the_package_root() -> None:
    """The root lists the public API; importing it from inside would load everything."""
    for path in SRC.rglob("*.py"):
        assert "mixstack" not in imports(path), path
