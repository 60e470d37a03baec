"""Shared plumbing of the dashboard pages: templates, the admin gate, paging, formatting."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, FunctionLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mixstack.gateway.ui._auth import admin_key
from mixstack.guard._keys import VirtualKey
from mixstack.store.dashboard import CallFilter

if TYPE_CHECKING:
    from mixstack.gateway._app import Gateway

__all__ = [
    "NAV",
    "Handler",
    "admin_page",
    "call_filter",
    "page_after",
    "page_before",
    "parse_json",
    "render",
    "when",
]

NAV = (
    ("/ui", "Overview"),
    ("/ui/routes", "Routes"),
    ("/ui/privacy", "Privacy"),
    ("/ui/evals", "Evals"),
    ("/ui/traces", "Traces"),
    ("/ui/alerts", "Alerts"),
    ("/ui/keys", "Keys"),
)

Handler = Callable[[Request, VirtualKey], Awaitable[Response]]


def _template_source(name: str) -> str:
    return resources.files("mixstack.gateway.ui").joinpath("templates", name).read_text("utf-8")


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FunctionLoader(_template_source),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template: str,
    *,
    title: str,
    section: str,
    admin: VirtualKey | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = (
        _env()
        .get_template(template)
        .render(title=title, section=section, nav=NAV, admin=admin, **context)
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "cache-control": "no-store",
            # everything is served from here: no CDN, no inline scripts
            "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'",
            "x-content-type-options": "nosniff",
        },
    )


def admin_page(gateway: Gateway, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The handler behind the admin gate (else the login page), the key lookup off the loop.
    (A function, not a callable object: Starlette serves objects as raw ASGI apps.)"""

    async def page(request: Request) -> Response:
        key = await admin_key(request, gateway.keys)
        if key is None:
            if request.method == "GET":
                return RedirectResponse("/ui/login", status_code=303)
            return HTMLResponse("admin key required", status_code=401)
        return await handler(request, key)

    return page


def when(ts: float | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def parse_json(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def call_filter(request: Request) -> CallFilter:
    q = request.query_params
    only = q.get("only", "")
    return CallFilter(
        caller=q.get("key") or None,
        workload=q.get("workload") or None,
        model=q.get("model") or None,
        flagged=only == "flagged",
        errors=only == "errors",
    )


def page_before(request: Request) -> tuple[float, int] | None:
    at, cid = request.query_params.get("before_at"), request.query_params.get("before_id")
    if not at or not cid:
        return None
    try:
        return float(at), int(cid)
    except ValueError:
        return None


def page_after(request: Request, rows: list[dict[str, Any]], limit: int) -> str | None:
    """Query string of the next (older) page, or None on the last page."""
    if len(rows) < limit:
        return None
    last = rows[-1]
    params = {k: v for k, v in request.query_params.items() if not k.startswith("before_")}
    params["before_at"] = repr(last["created_at"])
    params["before_id"] = str(last["id"])
    return urlencode(params)
