"""The `/ui` dashboard the gateway serves: server-rendered pages, one stylesheet, SVG charts.

Every asset ships in the package (no CDN, works offline); every page needs an admin key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mixstack.gateway.ui._admin_pages import AdminPages
from mixstack.gateway.ui._pages import CallPages
from mixstack.gateway.ui._render import Handler, admin_page

if TYPE_CHECKING:
    from mixstack.gateway._app import Gateway

__all__ = ["ui_routes"]


async def _stylesheet(request: Request) -> Response:
    css = resources.files("mixstack.gateway.ui").joinpath("static", "ui.css").read_bytes()
    return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})


def ui_routes(gateway: Gateway) -> list[Route]:
    calls, admin = CallPages(gateway), AdminPages(gateway)

    def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return admin_page(gateway, handler)

    return [
        Route("/ui/static/ui.css", _stylesheet, methods=["GET"]),
        Route("/ui/login", admin.login_form, methods=["GET"]),
        Route("/ui/login", admin.login, methods=["POST"]),
        Route("/ui/logout", admin.logout, methods=["POST"]),
        Route("/ui", page(calls.overview), methods=["GET"]),
        Route("/ui/routes", page(calls.routes), methods=["GET"]),
        Route("/ui/privacy", page(calls.privacy), methods=["GET"]),
        Route("/ui/calls/{request_id}", page(calls.call), methods=["GET"]),
        Route("/ui/evals", page(admin.evals), methods=["GET"]),
        Route("/ui/evals/compare", page(admin.compare), methods=["GET"]),
        Route("/ui/evals/{run_id}/report", page(admin.report), methods=["GET"]),
        Route("/ui/traces", page(admin.traces), methods=["GET"]),
        Route("/ui/traces/{trace_id}", page(admin.trace), methods=["GET"]),
        Route("/ui/alerts", page(admin.alerts), methods=["GET"]),
        Route("/ui/keys", page(admin.keys), methods=["GET"]),
        Route("/ui/keys", page(admin.create_key), methods=["POST"]),
        Route("/ui/keys/{key_id}/revoke", page(admin.revoke_key), methods=["POST"]),
    ]
