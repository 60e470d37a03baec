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
    "_types.py": "types",
    "errors.py": "types",
    "_jsonbytes.py": "types",
    "_streaming.py": "types",
    "_toolcalls.py": "types",
    "_toolfit.py": "types",
    "_sync.py": "types",
    "_cpu.py": "types",
    "_plugins.py": "types",
    "_version.py": "types",
    "_home.py": "types",
    "_tokens.py": "types",
    "config": "config",
    "providers": "providers",
    "catalog.py": "catalog",
    "guard": "guard",
    "router": "router",
    "rephrase": "rephrase",
    # the pipeline's own stage of rephrasing, and the front door of `mixstack.rephrase()`
    "rephrase/_stage.py": "pipeline",
    "rephrase/__init__.py": "frontdoor",
    "rephrase/_api.py": "frontdoor",
    "rephrase/_model_mode.py": "frontdoor",
    "pipeline.py": "pipeline",
    "_admission.py": "pipeline",
    "_request_checks.py": "pipeline",
    "_resilience.py": "pipeline",
    "vision": "pipeline",
    "_api.py": "frontdoor",
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
    "_doctor.py": "cli",
    "__main__.py": "cli",
    "__init__.py": "root",
}

#: (importing module, imported module) that depart from the table today, and why
KNOWN: dict[tuple[str, str], str] = {
    ("gateway/ui/_admin_pages.py", "mixstack.evals._report"): "the dashboard shows eval runs",
    ("gateway/ui/_admin_pages.py", "mixstack.evals._runs"): "the dashboard shows eval runs",
    ("guard/_pii.py", "mixstack.config.workloads"): "the scanner reads a workload's privacy",
    ("guard/_pii.py", "mixstack.vision"): "the OCR text of images is scanned too",
    ("monitor/_baseline.py", "mixstack.config.monitor"): "thresholds come from the config",
    ("monitor/_gateway.py", "mixstack.config"): "the gateway's monitor reads workloads",
    ("monitor/_gateway.py", "mixstack.config.workloads"): "the gateway's monitor reads workloads",
    ("monitor/_gateway.py", "mixstack.pipeline"): "it sees the pipeline's call context",
    ("monitor/_gateway.py", "mixstack.router._router"): "it records the route's workload",
    ("monitor/_gateway.py", "mixstack.router._workloads"): "it records the route's workload",
    ("rephrase/_render.py", "mixstack.catalog"): "a family is read off a model entry",
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


#: what admits a call (rate windows, budget holds and their settlement): the pipeline's
#: admission stage owns it (`mixstack/_admission.py`); a front door only passes the key
_ADMITTING_MODULES = {"mixstack.guard._budget", "mixstack.guard._ratelimit", "mixstack._admission"}
_ADMITTING_NAMES = {"shared_budgets", "shared_rates", "BudgetRepository", "RateRepository"}
_ADMITTING_ATTRIBUTES = {"budgets", "rates", "limiter", "reserve"}
#: front doors (and the parts of them) that must hand admission to the pipeline
_FRONT_DOORS = ("gateway", "agents", "evals", "sweep", "tune", "_api.py", "rephrase/_api.py")
#: (front-door module, what it uses) allowed, and why
_ADMITTING_KNOWN = {
    ("cli/serve.py", "mixstack.guard._budget"): "a server starting frees dead processes' holds",
}


def _admitting_uses(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module in _ADMITTING_MODULES:
                found.add(node.module)
            found |= {a.name for a in node.names if a.name in _ADMITTING_NAMES}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in _ADMITTING_MODULES}
        elif isinstance(node, ast.Attribute) and node.attr in _ADMITTING_ATTRIBUTES:
            found.add(f".{node.attr}")
    return found


def _front_door_files() -> list[Path]:
    out: list[Path] = []
    for name in (*_FRONT_DOORS, "cli"):
        target = SRC / name
        out += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return out


def test_no_front_door_admits_a_call_itself() -> None:
    """Rate limits and budget holds are decided and settled by the pipeline's admission
    stage; a front door that reached the rates or budgets itself would admit twice (or
    differently): this fails if any does."""
    found = {
        (path.relative_to(SRC).as_posix(), use)
        for path in _front_door_files()
        for use in _admitting_uses(path)
    }
    assert not found - set(_ADMITTING_KNOWN), f"front doors admitting calls themselves: {found}"
    assert set(_ADMITTING_KNOWN) <= found, "stale _ADMITTING_KNOWN entries: remove them"


def test_the_admission_check_sees_a_front_door_that_admits(tmp_path: Path) -> None:
    """The check above can fail: the gateway as it was (its own limiter and holds) is caught."""
    old = tmp_path / "app.py"
    old.write_text(
        "from mixstack.guard._ratelimit import RateLimiter\n"
        "from mixstack.store import shared_budgets\n"
        "async def admit(self, key):\n"
        "    await self.limiter.admit(key.id)\n"
        "    return await self.budget.reserve(key, 0.1, 10)\n"
    )
    assert _admitting_uses(old) == {
        "mixstack.guard._ratelimit",
        "shared_budgets",
        ".limiter",
        ".reserve",
    }


#: packages whose API is their `__init__`: every other module in them is private (`_x.py`)
PRIVATE_INSIDE = (
    "agents",
    "audit",
    "evals",
    "gateway",
    "guard",
    "monitor",
    "providers",
    "rephrase",
    "router",
    "sweep",
    "tune",
    "vision",
)
#: public module paths, and why
PUBLIC_PATHS = {
    "agents/builtins.py": "the built-in tools register by module path, exactly like plugins",
    "evals/scorers": "built-in scorers register by module path, exactly like plugins",
    "rephrase/templates.py": "built-in rephrase templates register by module path, like plugins",
    "providers/base.py": "what a provider plugin implements",
    "providers/anthropic.py": "built-in providers register by module path, exactly like plugins",
    "providers/fake.py": "built-in providers register by module path, exactly like plugins",
    "providers/gemini.py": "built-in providers register by module path, exactly like plugins",
    "providers/openai_compat.py": "built-in providers register by module path, like plugins",
    "catalog.py": "the catalog a plugin's models join (`Catalog`, `ModelEntry`)",
    "errors.py": "the error tree users catch",
    "pipeline.py": "the pipeline a program shares between calls",
}


def test_internal_modules_are_private() -> None:
    """A package's API is what its `__init__` exports; its internals live in `_x.py` modules,
    so `mixstack.guard.pii`-style paths never become something users import and we must keep
    (and `mixstack/types.py` no longer shadows the standard library's `types`)."""
    candidates = [*SRC.glob("*.py")]
    candidates += [path for package in PRIVATE_INSIDE for path in (SRC / package).rglob("*.py")]
    public = sorted(
        path.relative_to(SRC).as_posix()
        for path in candidates
        if path.name not in ("__init__.py", "__main__.py")
        and not path.name.startswith("_")
        and not any(path.relative_to(SRC).as_posix().startswith(p) for p in PUBLIC_PATHS)
    )
    assert public == [], f"make these private (_x.py) or list them in PUBLIC_PATHS: {public}"
