"""Policy replay: re-route logged calls under another config, without calling any model.

Each logged call is rebuilt from what the store kept: its workload (and how it was chosen),
the model it named, its size in tokens, whether it had images, the PII types and counts the
guard found, and its prompt text when `store_content` kept it (so new rules can apply).
Values of PII are never needed: the stored counts decide the privacy filter as before.
Calls logged with the shape the router saw (size in tokens, images, tools, JSON) are decided
on that same shape, so replaying under the config that made them reproduces every decision;
each call whose outcome changes is listed with its old and new outcome and the new reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mixstack._types import Message, Request, TextPart
from mixstack.catalog import Catalog
from mixstack.errors import MixstackError
from mixstack.guard._pii import PiiCount, RequestScan
from mixstack.router._decision import shape_from_json
from mixstack.router._policy import RequestShape
from mixstack.router._router import Router

__all__ = ["ReplayChange", "ReplayReport", "replay_calls"]


@dataclass(frozen=True, slots=True)
class ReplayChange:
    """One logged call whose outcome differs under the new config."""

    request_id: str
    created_at: float
    workload: str
    before: str | None  # the model that answered; None: refused
    after: str | None
    reason: str  # why the new config decides as it does

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "workload": self.workload,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


@dataclass(slots=True)
class _Side:
    calls: int = 0
    refused: int = 0
    models: Counter[str] = field(default_factory=Counter)
    off_machine: int = 0
    remote: int = 0
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        routed = max(self.calls - self.refused, 1)
        return {
            "calls": self.calls,
            "refused": self.refused,
            "share_by_model": {m: round(n / routed, 4) for m, n in self.models.most_common()},
            "share_leaving_machine": round(self.off_machine / routed, 4),
            "share_remote": round(self.remote / routed, 4),
            "estimated_cost_usd": round(self.cost_usd, 6),
        }


@dataclass(slots=True)
class ReplayReport:
    before: _Side = field(default_factory=_Side)
    after: _Side = field(default_factory=_Side)
    changes: list[ReplayChange] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> int:
        return len(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.before.calls,
            "changed": self.changed,
            "changes": [c.to_json() for c in self.changes],
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "new_refusals": dict(self.refusals.most_common()),
        }


def _request(row: dict[str, Any], route: dict[str, Any]) -> Request:
    """A stand-in request: the stored prompt text when kept, else a placeholder."""
    messages: list[Message] = []
    if row.get("prompt"):
        try:
            for item in json.loads(row["prompt"]):
                role = item.get("role", "user")
                if role in ("system", "user", "assistant", "tool"):
                    text = (TextPart(text=str(item.get("content", ""))),)
                    messages.append(Message(role=role, content=text))
        except (ValueError, TypeError, AttributeError):
            messages = []
    if not messages:
        messages = [Message.user("(prompt not stored)")]
    source = route.get("workload_source", "")
    workload = row.get("workload") or route.get("workload") or None
    explicit_model = route.get("reason") == "explicit model" and bool(row.get("model"))
    return Request(
        messages=tuple(messages),
        model=row["model"] if explicit_model else None,
        # a workload chosen by rules or by default is chosen again under the new config
        workload=workload if source in ("explicit", "model") else None,
    )


def _count(side: _Side, model: str | None, locality: str, cost: float) -> None:
    side.calls += 1
    if model is None:
        side.refused += 1
        return
    side.models[model] += 1
    side.off_machine += int(locality != "local")
    side.remote += int(locality == "remote")
    side.cost_usd += cost


def replay_calls(rows: list[dict[str, Any]], router: Router, catalog: Catalog) -> ReplayReport:
    """Before: what the log says happened. After: what `router` would decide now."""
    report = ReplayReport()
    for row in rows:
        route = json.loads(row["route"]) if row.get("route") else {}
        pii = tuple(
            PiiCount(p["type"], int(p["count"])) for p in json.loads(row.get("pii") or "[]")
        )
        tokens = (int(row.get("prompt_tokens") or 0), int(row.get("completion_tokens") or 0))
        refused = bool(route.get("refused")) or not row.get("model")
        before = None if refused else str(row["model"])
        _count(report.before, before, str(row.get("locality") or ""), float(row["cost_usd"] or 0))
        request = _request(row, route)
        shape = shape_from_json(route.get("shape")) or RequestShape(
            prompt_tokens=tokens[0] or 1,
            completion_tokens=tokens[1] or 1,
            chars=sum(len(m.text) for m in request.messages),
            images='"images"' in (row.get("prompt") or ""),
            tools=False,
            json=False,
        )
        change = _Change(row, before)
        try:
            decision = router.decide_shaped(request, shape, RequestScan(counts=pii))
        except MixstackError as exc:
            report.refusals[type(exc).__name__] += 1
            _count(report.after, None, "", 0.0)
            if before is not None:
                report.changes.append(change.to(None, exc.message))
            continue
        entry = catalog.get(decision.model)
        _count(report.after, entry.name, entry.locality, entry.cost(*tokens))
        if entry.name != before:
            report.changes.append(change.to(entry.name, decision.reason))
    return report


@dataclass(frozen=True, slots=True)
class _Change:
    row: dict[str, Any]
    before: str | None

    def to(self, after: str | None, reason: str) -> ReplayChange:
        return ReplayChange(
            request_id=str(self.row.get("request_id") or ""),
            created_at=float(self.row.get("created_at") or 0.0),
            workload=str(self.row.get("workload") or ""),
            before=self.before,
            after=after,
            reason=reason,
        )
