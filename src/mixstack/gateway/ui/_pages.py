"""Dashboard pages on the call log: overview (charts), routes (decisions), privacy (proof),
and one call's detail. Every query is bounded (aggregates, keyset pages) and runs in a thread.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from mixstack.gateway.ui._charts import line_chart
from mixstack.gateway.ui._render import (
    call_filter,
    page_after,
    page_before,
    parse_json,
    render,
    when,
)
from mixstack.guard._keys import VirtualKey
from mixstack.store.dashboard import CallFilter

if TYPE_CHECKING:
    from mixstack.gateway._app import Gateway
    from mixstack.store import Store

__all__ = ["CallPages"]

#: window -> (seconds per period, periods shown, periods per chart step)
WINDOWS = {"1h": (60, 60, 1), "6h": (60, 360, 5), "24h": (3600, 24, 1), "7d": (3600, 168, 4)}
GROUPS = ("model", "caller", "workload")
#: lines per chart before the rest are summed into `other`
_CHART_GROUPS = 8
PAGE = 50


class CallPages:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    @property
    def store(self) -> Store:
        return self.gateway.pipeline.store

    def _by_key(self, where: CallFilter) -> CallFilter:
        """The filter with a key given by name turned into its id (the log stores ids)."""
        if not where.caller or where.caller.startswith("key_"):
            return where
        for key in self.gateway.keys.list(include_revoked=True):
            if key.name == where.caller:
                return replace(where, caller=key.id)
        return where

    def _key_names(self) -> dict[str, str]:
        """Key id -> `name (id)` for display (keys are few; callers without a key stay)."""
        return {
            k.id: f"{k.name} ({k.id})" if k.name else k.id
            for k in self.gateway.keys.list(include_revoked=True)
        }

    # -- overview ---------------------------------------------------------------------------

    async def overview(self, request: Request, admin: VirtualKey) -> Response:
        window = request.query_params.get("window", "24h")
        window = window if window in WINDOWS else "24h"
        by = request.query_params.get("by", "model")
        by = by if by in GROUPS else "model"
        data = await anyio.to_thread.run_sync(self._overview_data, window, by)
        return render(
            "overview.html.j2",
            title="Overview",
            section="Overview",
            admin=admin,
            windows=list(WINDOWS),
            window=window,
            groups=GROUPS,
            by=by,
            **data,
        )

    def _overview_data(self, window: str, by: str) -> dict[str, Any]:
        span, periods, step = WINDOWS[window]
        now = int(time.time() // span)
        since = now - periods + 1
        board = self.store.dashboard
        totals = board.totals(span, since)
        rows = board.series(span, since, step, by)  # type: ignore[arg-type]
        steps = list(range((since // step) * step, now + 1, step))
        index = {s: i for i, s in enumerate(steps)}
        metrics: dict[str, dict[str, list[float]]] = {
            "requests": {},
            "tokens": {},
            "cost_usd": {},
            "errors": {},
        }
        table: dict[str, dict[str, float]] = {}
        names = self._key_names() if by == "caller" else {}
        for row in rows:
            name = names.get(row["grp"], row["grp"]) or "-"
            agg = table.get(name)
            if agg is None:
                agg = table[name] = dict.fromkeys(
                    ("requests", "errors", "tokens", "cost_usd", "latency_ms", "flagged"), 0.0
                )
            for metric in agg:
                agg[metric] += row[metric] or 0
        # a chart shows the busiest groups; the rest add up to one `other` line
        shown = set(sorted(table, key=lambda n: -table[n]["requests"])[:_CHART_GROUPS])
        for row in rows:
            name = names.get(row["grp"], row["grp"]) or "-"
            line = name if name in shown else "other"
            at = index.get(row["step"])
            if at is None:
                continue
            for metric, series in metrics.items():
                values = series.get(line)
                if values is None:
                    values = series[line] = [0.0] * len(steps)
                values[at] += row[metric] or 0
        percentiles = board.latency(span, since, step)
        p50 = [0.0] * len(steps)
        p99 = [0.0] * len(steps)
        for p in percentiles:
            at = index.get(p["group"])
            if at is not None:
                p50[at], p99[at] = p["p50_ms"], p["p99_ms"]
        by_model = board.latency(span, since)
        overall = _overall(by_model)
        unit = _unit(span * step)
        times = [s * span for s in steps]
        charts = [
            line_chart(f"requests per {unit} by {by}", times, metrics["requests"]),
            line_chart(f"tokens per {unit} by {by}", times, metrics["tokens"]),
            line_chart(f"cost (USD) per {unit} by {by}", times, metrics["cost_usd"]),
            line_chart(f"errors per {unit} by {by}", times, metrics["errors"]),
            line_chart("latency p50 / p99 (ms)", times, {"p50": p50, "p99": p99})
            if percentiles
            else line_chart("latency p50 / p99 (ms)", [], {}),
        ]
        groups = [
            {
                "name": name,
                "requests": int(a["requests"]),
                "errors": int(a["errors"]),
                "tokens": int(a["tokens"]),
                "cost_usd": a["cost_usd"],
                "latency": a["latency_ms"] / a["requests"] if a["requests"] else 0.0,
                "flagged": int(a["flagged"]),
            }
            for name, a in sorted(table.items(), key=lambda kv: -kv[1]["requests"])
        ]
        alerts = sum(self.store.alerts.counts(since * span).values())
        return {
            "totals": totals,
            "charts": charts,
            "table": groups,
            "latency": by_model,
            "overall": overall,
            "alerts": alerts,
        }

    # -- routes and privacy -----------------------------------------------------------------

    async def routes(self, request: Request, admin: VirtualKey) -> Response:
        where = call_filter(request)
        rows, names = await anyio.to_thread.run_sync(
            lambda: (
                self.store.dashboard.calls(
                    self._by_key(where), before=page_before(request), limit=PAGE
                ),
                self._key_names(),
            )
        )
        calls = [_call_view(r, names) for r in rows]
        return render(
            "routes.html.j2",
            title="Routes",
            section="Routes",
            admin=admin,
            calls=calls,
            f=where,
            next=page_after(request, rows, PAGE),
        )

    async def privacy(self, request: Request, admin: VirtualKey) -> Response:
        where = call_filter(request)
        full = request.query_params.get("verify") == "all"

        def load() -> tuple[list[dict[str, Any]], Any, int, dict[str, str]]:
            store = self.store
            store.flush()  # this process's calls committed, then sealed with everyone's
            store.chain.seal()
            check = store.chain.verify(last=None if full else 1000)
            unsealed = store.chain.unsealed()
            rows = store.dashboard.calls(
                self._by_key(where), before=page_before(request), limit=PAGE
            )
            return rows, check, unsealed, self._key_names()

        rows, check, unsealed, names = await anyio.to_thread.run_sync(load)
        calls = [_call_view(r, names) for r in rows]
        return render(
            "privacy.html.j2",
            title="Privacy",
            section="Privacy",
            admin=admin,
            calls=calls,
            chain=check,
            unsealed=unsealed,
            f=where,
            next=page_after(request, rows, PAGE),
        )

    async def call(self, request: Request, admin: VirtualKey) -> Response:
        request_id = request.path_params["request_id"]
        row = await anyio.to_thread.run_sync(self.store.calls.by_request_id, request_id)
        if row is None:
            return render(
                "login.html.j2",
                title="No such call",
                section="Routes",
                admin=admin,
                error=f"no call {request_id!r} in the log",
                status=404,
            )
        data = dict(row)
        route = parse_json(data.get("route"), {}) or {}
        fields = [
            (k, data[k])
            for k in (
                "request_id",
                "model",
                "provider",
                "locality",
                "endpoint",
                "workload",
                "caller",
                "front_door",
                "policy",
                "pii",
                "redacted",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
                "latency_ms",
                "finish_reason",
                "error",
            )
        ]
        fields.insert(1, ("time", when(data["created_at"])))
        explained = _explain(route)
        abuse = parse_json(data.get("abuse"))
        return render(
            "call.html.j2",
            title=f"Call {request_id}",
            section="Routes",
            admin=admin,
            fields=fields,
            route=explained,
            abuse=json.dumps(abuse, indent=2) if abuse else "",
            raw_route=json.dumps(route, indent=2),
        )


def _unit(seconds: int) -> str:
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds // 3600} h"
    return "minute" if seconds == 60 else f"{seconds // 60} min"


def _overall(by_model: list[dict[str, Any]]) -> dict[str, float]:
    total = sum(m["requests"] for m in by_model)
    if not total:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    # the busiest model's percentiles stand for the whole when models differ little; the
    # per-model table below is exact to the histogram's resolution
    weighted50 = sum(m["p50_ms"] * m["requests"] for m in by_model) / total
    return {"p50_ms": weighted50, "p99_ms": max(m["p99_ms"] for m in by_model)}


def _explain(route: dict[str, Any]) -> dict[str, Any] | None:
    if not route:
        return None
    excluded = route.get("excluded") or []
    chosen = route.get("model")
    summary = route.get("reason") or route.get("summary") or ""
    if not summary:
        summary = (
            f"workload {route.get('workload', '?')}: chose {chosen or 'nothing'} "
            f"({route.get('locality', '')}); {len(route.get('candidates') or [])} candidates, "
            f"{len(excluded)} excluded"
        )
    return {
        "summary": summary,
        "model": chosen,
        "candidates": route.get("candidates") or [],
        "excluded": [
            e if isinstance(e, dict) else {"model": str(e), "reason": ""} for e in excluded
        ],
    }


def _call_view(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    route = parse_json(row.get("route"), {}) or {}
    excluded = route.get("excluded") or []
    if row.get("error"):
        why = str(row["error"])[:140]
    else:
        why = (
            f"{route.get('reason', '')} ({len(route.get('candidates') or [])} candidates, "
            f"{len(excluded)} excluded)"
            if route
            else ""
        )
    return {
        **row,
        "when": when(row["created_at"]),
        "key": names.get(row["caller"], row["caller"]) or "-",
        "why": why,
        "pii": parse_json(row.get("pii"), []) or [],
        "abuse": parse_json(row.get("abuse")),
    }
