"""Dashboard pages beyond the call log: evals, agent traces, alerts, keys, and the login."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mixstack.errors import MixstackError
from mixstack.gateway.ui._auth import COOKIE, is_admin
from mixstack.gateway.ui._render import parse_json, render, when
from mixstack.guard._keys import VirtualKey

if TYPE_CHECKING:
    from mixstack.gateway._app import Gateway
    from mixstack.store import Store

__all__ = ["AdminPages"]

PAGE = 50


class AdminPages:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    @property
    def store(self) -> Store:
        return self.gateway.pipeline.store

    # -- login ------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return render("login.html.j2", title="Log in", section="", admin=None)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        secret = str(form.get("key") or "").strip()
        key = await self.gateway.keys.alookup(secret) if secret else None
        if key is None or not is_admin(key):
            return render(
                "login.html.j2",
                title="Log in",
                section="",
                admin=None,
                status=401,
                error="that is not an active admin key",
            )
        response = RedirectResponse("/ui", status_code=303)
        response.set_cookie(
            COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            path="/ui",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    # -- evals ------------------------------------------------------------------------------

    async def evals(self, request: Request, admin: VirtualKey) -> Response:
        rows = await anyio.to_thread.run_sync(self.store.dashboard.eval_runs)
        runs = [_run_view(r) for r in rows]
        return render("evals.html.j2", title="Evals", section="Evals", admin=admin, runs=runs)

    async def compare(self, request: Request, admin: VirtualKey) -> Response:
        rows = await anyio.to_thread.run_sync(self.store.dashboard.eval_runs, 200)
        by_id = {r["id"]: _run_view(r) for r in rows}
        a, b = (
            by_id.get(request.query_params.get("a", "")),
            by_id.get(request.query_params.get("b", "")),
        )
        if a is None or b is None:
            return render(
                "login.html.j2",
                title="Compare",
                section="Evals",
                admin=admin,
                status=404,
                error="pick two runs that exist",
            )
        names = list(
            dict.fromkeys([s["name"] for s in a["stats"]] + [s["name"] for s in b["stats"]])
        )
        sa = {s["name"]: s for s in a["stats"]}
        sb = {s["name"]: s for s in b["stats"]}
        table = []
        for name in names:
            x, y = sa.get(name), sb.get(name)
            diff = ""
            if x and y and x["pass_rate"] is not None and y["pass_rate"] is not None:
                diff = f"{(y['pass_rate'] - x['pass_rate']) * 100:+.1f} pts"
            table.append({"name": name, "a": x, "b": y, "diff": diff})
        return render(
            "compare.html.j2",
            title=f"Compare {a['id']} and {b['id']}",
            section="Evals",
            admin=admin,
            a=a,
            b=b,
            rows=table,
        )

    async def report(self, request: Request, admin: VirtualKey) -> Response:
        run_id = request.path_params["run_id"]
        rows = await anyio.to_thread.run_sync(self.store.dashboard.eval_runs, 200)
        row = next((r for r in rows if r["id"] == run_id), None)
        summary = parse_json(row["summary"]) if row else None
        if row is None or summary is None:
            return render(
                "login.html.j2",
                title="Report",
                section="Evals",
                admin=admin,
                status=404,
                error=f"no finished run {run_id!r}",
            )
        from mixstack.evals._report import render_report
        from mixstack.evals._runs import RunDir

        html = await anyio.to_thread.run_sync(render_report, RunDir(Path(row["out_dir"])), summary)
        return HTMLResponse(html)

    # -- traces -----------------------------------------------------------------------------

    async def traces(self, request: Request, admin: VirtualKey) -> Response:
        rows = await anyio.to_thread.run_sync(self.store.dashboard.traces)
        traces = [{**r, "when": when(r["created_at"])} for r in rows]
        return render(
            "traces.html.j2", title="Agent traces", section="Traces", admin=admin, traces=traces
        )

    async def trace(self, request: Request, admin: VirtualKey) -> Response:
        trace_id = request.path_params["trace_id"]
        head, steps = await anyio.to_thread.run_sync(self.store.dashboard.trace, trace_id)
        if head is None:
            return render(
                "login.html.j2",
                title="Trace",
                section="Traces",
                admin=admin,
                status=404,
                error=f"no trace {trace_id!r}",
            )
        start = head["created_at"]
        span = (
            max((s["created_at"] - start) * 1000 + (s["latency_ms"] or 0) for s in steps)
            if steps
            else 1.0
        )
        span = max(span, 1.0)
        for s in steps:
            decision = parse_json(s["decision"])
            if isinstance(decision, dict):
                s["decision"] = decision.get("action", "")
            offset = max(0.0, (s["created_at"] - start) * 1000 - (s["latency_ms"] or 0))
            s["left"] = round(100 * offset / span, 2)
            s["width"] = round(max(0.3, 100 * (s["latency_ms"] or 0) / span), 2)
        return render(
            "trace.html.j2",
            title=f"Trace {trace_id}",
            section="Traces",
            admin=admin,
            head=head,
            steps=steps,
        )

    # -- alerts -----------------------------------------------------------------------------

    async def alerts(self, request: Request, admin: VirtualKey) -> Response:
        before = request.query_params.get("before_id")
        before_id = int(before) if before and before.isdigit() else None
        rows = await anyio.to_thread.run_sync(
            lambda: self.store.alerts.recent(PAGE, before_id=before_id)
        )
        names = {
            k.id: f"{k.name} ({k.id})" if k.name else k.id
            for k in self.gateway.keys.list(include_revoked=True)
        }
        alerts = [
            {**r, "when": when(r["created_at"]), "subject": names.get(r["subject"], r["subject"])}
            for r in rows
        ]
        monitor = self.gateway.monitor
        baselines = [
            {**b, "subject": names.get(str(b["subject"]), b["subject"])}
            for b in monitor.baselines.snapshot()
        ]
        next_page = f"before_id={rows[-1]['id']}" if len(rows) == PAGE else None
        return render(
            "alerts.html.j2",
            title="Alerts",
            section="Alerts",
            admin=admin,
            alerts=alerts,
            next=next_page,
            baselines=baselines,
            webhook=self.gateway.config.monitor.webhook,
            failures=monitor.sink.webhook_failures,
        )

    # -- keys -------------------------------------------------------------------------------

    async def keys(self, request: Request, admin: VirtualKey) -> Response:
        return await self._keys_page(admin)

    async def _keys_page(self, admin: VirtualKey, status: int = 200, **extra: Any) -> Response:
        found = await anyio.to_thread.run_sync(lambda: self.gateway.keys.list(include_revoked=True))
        keys = [{**k.to_json(), "when": when(k.created_at)} for k in found]
        return render(
            "keys.html.j2",
            title="Keys",
            section="Keys",
            admin=admin,
            keys=keys,
            status=status,
            **extra,
        )

    async def create_key(self, request: Request, admin: VirtualKey) -> Response:
        form = await request.form()
        try:
            fields = _key_fields({k: str(v) for k, v in form.items()})
            secret, key = await anyio.to_thread.run_sync(lambda: self.gateway.keys.create(**fields))
        except MixstackError as exc:
            return await self._keys_page(admin, status=400, error=exc.message)
        return await self._keys_page(admin, created=key, secret=secret)

    async def revoke_key(self, request: Request, admin: VirtualKey) -> Response:
        key_id = request.path_params["key_id"]
        done = await anyio.to_thread.run_sync(self.gateway.keys.revoke, key_id)
        if not done:
            return await self._keys_page(admin, status=404, error=f"no active key {key_id!r}")
        return RedirectResponse("/ui/keys", status_code=303)


def _key_fields(form: dict[str, str]) -> dict[str, Any]:
    from mixstack.errors import InvalidRequestError

    def number(name: str, kind: type[int] | type[float]) -> Any:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        try:
            value = kind(raw)
        except ValueError:
            raise InvalidRequestError(f"{name} must be a number; got {raw!r}.") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequestError(f"{name} must be a finite number; got {raw!r}.")
        return value

    models = tuple(m.strip() for m in form.get("models", "").split(",") if m.strip())
    return {
        "name": form.get("name", "").strip(),
        "budget_usd": number("budget", float),
        "max_tokens": number("max_tokens", int),
        "rpm": number("rpm", int),
        "tpm": number("tpm", int),
        "models": models,
        "admin": form.get("admin") == "on",
    }


def _run_view(row: dict[str, Any]) -> dict[str, Any]:
    summary = parse_json(row.get("summary"), {}) or {}
    stats = []
    for s in summary.get("runs", []):
        rate = s.get("pass_rate")
        low, high = s.get("ci_low"), s.get("ci_high")
        name = s.get("model", "") + (f" / {s['variant']}" if s.get("variant") else "")
        stats.append(
            {
                **s,
                "name": name,
                "rate": f"{rate:.1%}" if rate is not None else "-",
                "ci": f"{low:.1%} – {high:.1%}" if low is not None and high is not None else "",
                "cost_usd": s.get("cost_usd") or 0.0,
            }
        )
    return {**row, "stats": stats, "when": when(row["started_at"])}
