"""Training sets: from a workload's call log or from an eval suite answered by a teacher.

Only answers that passed the workload's checks are kept; calls whose content was not stored,
that failed, or that the guard flagged for personal data are dropped; exact and near
duplicates are removed; a held-out split (chosen by a hash of the prompt, so it is stable as
data grows) is kept apart for the gate. Every drop is counted with its reason.

A dataset folder holds `train.jsonl`, `heldout.jsonl`, `dataset.json` (counts, checks, hashes)
and `heldout-suite.yaml`, the held-out split as an eval suite for `mixstack tune gate`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mixstack._types import Completion, Message, Request
from mixstack.errors import PolicyError, ProviderError, UserError
from mixstack.evals._suite import Case, ScorerSpec, Suite, load_suite
from mixstack.evals.scorers import ScoreContext, ScorerEnv, ScorerRegistry
from mixstack.pipeline import Pipeline
from mixstack.store import Store
from mixstack.store.tune import calls_for_tuning

__all__ = [
    "Dataset",
    "Example",
    "build_dataset",
    "examples_from_log",
    "examples_from_suite",
    "load_dataset",
]

TRAIN = "train.jsonl"
HELDOUT = "heldout.jsonl"
REPORT = "dataset.json"
SUITE = "heldout-suite.yaml"
#: word-trigram Jaccard similarity at or above which two prompts count as near duplicates
NEAR_DUPLICATE = 0.85


@dataclass(frozen=True, slots=True)
class Example:
    """One prompt and the answer to learn, with where it came from."""

    id: str
    messages: tuple[tuple[str, str], ...]  # (role, content)
    answer: str
    source: str
    expected: Any = None

    def as_messages(self) -> tuple[Message, ...]:
        out = []
        for role, content in self.messages:
            if role == "system":
                out.append(Message.system(content))
            elif role == "assistant":
                out.append(Message.assistant(content))
            else:
                out.append(Message.user(content))
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "answer": self.answer,
            "expected": self.expected,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Example:
        return cls(
            id=str(data["id"]),
            messages=tuple((m["role"], m["content"]) for m in data["messages"]),
            answer=str(data["answer"]),
            source=str(data.get("source", "")),
            expected=data.get("expected"),
        )

    def prompt_text(self) -> str:
        return "\n".join(c for _r, c in self.messages)

    def request_text(self) -> str:
        """The prompt without system messages: a workload's fixed instruction makes no two
        requests alike."""
        return "\n".join(c for r, c in self.messages if r != "system")


@dataclass
class Candidates:
    """Examples gathered from a source, and what was dropped on the way."""

    examples: list[Example] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    seen: int = 0
    #: cases with a known expected answer that the teacher failed or could not answer: never
    #: trained on, but kept for the held-out split so the gate measures the teacher fairly
    evaluation_only: list[Example] = field(default_factory=list)


@dataclass(frozen=True)
class Dataset:
    folder: Path
    train: list[Example]
    heldout: list[Example]
    report: dict[str, Any]

    @property
    def data_sha256(self) -> str:
        return str(self.report["train_sha256"])

    @property
    def suite_path(self) -> Path:
        return self.folder / SUITE


# -- sources --------------------------------------------------------------------------


async def _passes(
    registry: ScorerRegistry,
    specs: list[ScorerSpec],
    case: Case,
    completion: Completion,
    call: Callable[[Request], Awaitable[Completion]] | None,
) -> str | None:
    """None when every check passes, else which check failed (counted as a drop reason)."""
    for spec in specs:
        score = await registry.build(spec).score(ScoreContext(case, completion, call))
        if not score.passed:
            return f"failed check {spec.type}"
    return None


async def examples_from_suite(
    suite: Suite, pipeline: Pipeline, teacher: str, variant: str | None = None
) -> Candidates:
    """The teacher answers each case through the pipeline; answers that pass the suite's
    scorers become examples."""
    chosen = next((v for v in suite.variants if v.name == variant), None)
    if variant is not None and chosen is None:
        names = ", ".join(v.name for v in suite.variants)
        raise UserError(f"{suite.path}: no variant {variant!r}; pick one of {names}.")
    chosen = chosen or suite.variants[0]
    registry = ScorerRegistry(ScorerEnv(base_dir=suite.base_dir, catalog=pipeline.catalog))
    pipeline.catalog.get(teacher)  # an unknown teacher fails before any call

    async def call(request: Request) -> Completion:
        return await pipeline.complete(request, front_door="tune")

    found = Candidates()
    for case in suite.iter_cases():
        found.seen += 1
        request = suite.build_request(case, chosen).model_copy(
            update={"model": teacher, "workload": suite.workload}
        )
        example = Example(
            id=case.id,
            messages=tuple((m.role, m.text) for m in request.messages),
            answer="",
            source=f"suite:{suite.name}:{case.id}",
            expected=case.expected,
        )
        try:
            completion = await call(request)
        except PolicyError as exc:
            # the guard's word on this case stands: it is counted, never sent elsewhere
            found.dropped[f"refused by policy ({type(exc).__name__})"] += 1
            found.evaluation_only.append(example)
            continue
        except ProviderError:
            found.dropped["the teacher's call failed"] += 1
            found.evaluation_only.append(example)
            continue
        failed = await _passes(registry, suite.scorers_for(case), case, completion, call)
        if failed is not None:
            found.dropped[f"teacher answer {failed}"] += 1
            found.evaluation_only.append(example)
            continue
        found.examples.append(dataclasses.replace(example, answer=completion.text))
    return found


async def examples_from_log(
    store: Store,
    workload: str,
    checks: list[ScorerSpec],
    *,
    models: list[str] | None = None,
    limit: int = 100_000,
    pipeline: Pipeline | None = None,
) -> Candidates:
    """Calls of `workload` whose prompt and answer were stored and whose answer passes every
    check; calls the guard flagged for personal data or that left redacted are dropped."""
    if not checks:
        raise UserError(
            "building a dataset from the call log needs at least one check that a good answer "
            "passes; give --check (e.g. `--check json_valid` or a regex scorer)."
        )
    registry = ScorerRegistry(ScorerEnv(catalog=pipeline.catalog if pipeline else None))
    call = None
    if pipeline is not None:

        async def call(request: Request) -> Completion:
            return await pipeline.complete(request, front_door="tune")

    rows = calls_for_tuning(store, workload, limit)
    found = Candidates()
    for row in rows:
        found.seen += 1
        reason = _log_row_problem(row, models)
        if reason is not None:
            found.dropped[reason] += 1
            continue
        messages = tuple((m["role"], m["content"]) for m in json.loads(row["prompt"]))
        case = Case.model_validate(
            {"id": row["request_id"], "messages": [{"role": r, "content": c} for r, c in messages]}
        )
        completion = Completion(
            request_id=row["request_id"],
            model=row["model"],
            provider=row["provider"],
            text=row["response"],
        )
        failed = await _passes(registry, checks, case, completion, call)
        if failed is not None:
            found.dropped[failed] += 1
            continue
        found.examples.append(
            Example(
                id=row["request_id"],
                messages=messages,
                answer=row["response"],
                source=f"log:{row['request_id']}",
            )
        )
    return found


def _log_row_problem(row: Any, models: list[str] | None) -> str | None:
    if row["error"] is not None:
        return "the call failed"
    if row["prompt"] is None or row["response"] is None:
        return "content not stored (store_content is off)"
    if models and row["model"] not in models:
        return "answered by another model"
    if row["pii"] not in (None, "", "[]") or row["redacted"]:
        return "personal data flagged by the guard"
    prompt = json.loads(row["prompt"])
    if any(m.get("images") or m.get("tool_calls") or m.get("tool_call_id") for m in prompt):
        return "images or tool calls (text-only tuning)"
    if not row["response"].strip():
        return "empty answer"
    return None


# -- cleaning and splitting -----------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _shingles(text: str) -> frozenset[str]:
    words = _normal(text).split()
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + 3]) for i in range(len(words) - 2))


def deduplicate(examples: Iterable[Example], dropped: Counter[str]) -> list[Example]:
    """Drop exact duplicates (same normalised prompt) and near duplicates (word-trigram
    Jaccard ≥ NEAR_DUPLICATE); the first one seen is kept."""
    kept: list[Example] = []
    exact: set[str] = set()
    index: dict[str, list[int]] = {}  # shingle -> kept positions, to compare only neighbours
    signatures: list[frozenset[str]] = []
    for example in examples:
        key = _normal(example.prompt_text())
        if key in exact:
            dropped["duplicate prompt"] += 1
            continue
        sig = _shingles(example.request_text())
        neighbours = Counter(i for s in sig for i in index.get(s, ()))
        if any(
            shared / len(sig | signatures[i]) >= NEAR_DUPLICATE for i, shared in neighbours.items()
        ):
            dropped["near-duplicate prompt"] += 1
            continue
        exact.add(key)
        for s in sig:
            index.setdefault(s, []).append(len(kept))
        signatures.append(sig)
        kept.append(example)
    return kept


def _in_heldout(example: Example, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{_normal(example.prompt_text())}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _write_jsonl(path: Path, examples: list[Example]) -> str:
    data = "".join(json.dumps(e.to_json(), sort_keys=True) + "\n" for e in examples)
    path.write_text(data, encoding="utf-8")
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def build_dataset(
    candidates: Candidates,
    folder: Path,
    *,
    workload: str,
    checks: list[ScorerSpec],
    heldout: float = 0.2,
    seed: int = 0,
    source: str,
    params: dict[str, Any] | None = None,
) -> Dataset:
    """Deduplicate, split and write the dataset folder; returns it with its report."""
    if not 0.0 < heldout < 1.0:
        raise UserError(f"--heldout {heldout}: give a fraction between 0 and 1 (e.g. 0.2).")
    dropped = Counter(candidates.dropped)
    kept = deduplicate(candidates.examples, dropped)
    train = [e for e in kept if not _in_heldout(e, heldout, seed)]
    held = [e for e in kept if _in_heldout(e, heldout, seed)]
    # cases the teacher missed still measure everyone on the held-out side (never trained on)
    distinct = deduplicate([*kept, *candidates.evaluation_only], Counter())[len(kept) :]
    missed = [e for e in distinct if _in_heldout(e, heldout, seed)]
    held += missed
    if not train or not held:
        raise UserError(
            f"{len(kept)} usable example(s) of {candidates.seen} leave an empty "
            f"{'training' if not train else 'held-out'} split ({_dropped_text(dropped)}); "
            "collect more calls or cases, or change --heldout."
        )
    folder.mkdir(parents=True, exist_ok=True)
    report = {
        "source": source,
        "workload": workload,
        "seen": candidates.seen,
        "kept": len(kept),
        "train": len(train),
        "heldout": len(held),
        "heldout_teacher_missed": len(missed),
        "dropped": dict(sorted(dropped.items())),
        "checks": [{"type": s.type, **s.options} for s in checks],
        "heldout_fraction": heldout,
        "seed": seed,
        "train_sha256": _write_jsonl(folder / TRAIN, train),
        "heldout_sha256": _write_jsonl(folder / HELDOUT, held),
    }
    (folder / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    _write_gate_suite(folder, workload, checks, params or {})
    return Dataset(folder, train, held, report)


def _dropped_text(dropped: Counter[str]) -> str:
    if not dropped:
        return "nothing dropped"
    return "dropped: " + ", ".join(f"{n} {reason}" for reason, n in dropped.most_common())


def _write_gate_suite(
    folder: Path, workload: str, checks: list[ScorerSpec], params: dict[str, Any]
) -> None:
    """The held-out split as an eval suite: the same checks, greedy decoding."""
    suite = {
        "name": f"tune-{folder.name}",
        "description": "held-out split of a tuning dataset (written by mixstack tune dataset)",
        "workload": workload,
        "defaults": {
            "params": {"temperature": 0, "seed": 7, **params},
            "scorers": [{"type": s.type, **s.options} for s in checks],
        },
        "cases_file": HELDOUT,
    }
    (folder / SUITE).write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")


def load_dataset(folder: Path) -> Dataset:
    """A dataset folder written by `build_dataset`."""
    report_path = folder / REPORT
    if not report_path.is_file():
        raise UserError(
            f"{folder} is not a tuning dataset (no {REPORT}); build one with "
            "`mixstack tune dataset`."
        )
    report = json.loads(report_path.read_text(encoding="utf-8"))

    def read(name: str) -> list[Example]:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        return [Example.from_json(json.loads(line)) for line in lines if line.strip()]

    return Dataset(folder, read(TRAIN), read(HELDOUT), report)


def suite_checks(suite_path: Path) -> tuple[Suite, list[ScorerSpec]]:
    """The suite and its default scorers (the checks a teacher answer must pass)."""
    suite = load_suite(suite_path)
    return suite, list(suite.spec.defaults.scorers or [])
