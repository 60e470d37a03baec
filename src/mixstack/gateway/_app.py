"""The gateway: OpenAI-compatible HTTP in front of the one pipeline.

    POST /v1/chat/completions   key ─► body limit ─► parse ─► pipeline (admission: rpm/tpm,
                                budget hold; route; call; record and settle)
    POST /v1/responses, /v1/completions, /v1/embeddings, /v1/messages (Anthropic): the same
    GET  /v1/models, /v1/models/{id}   the catalog, OpenAI list shape
    GET  /health, /metrics, /openapi.json
    (every API path is also served without `/v1`, and with a trailing slash)

Every request goes through the same `Pipeline` (and store) as the CLI: the gateway reads
the caller's key and hands it over with the request; the pipeline's admission stage decides
what the key may do and settles it. A client that goes away cancels the upstream call; a
failure mid-stream ends the stream with an error event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mixstack._jsonbytes import dumps
from mixstack._types import Chunk, Completion, Embeddings
from mixstack.config import Config, load_config
from mixstack.errors import BodyTimeout, BodyTooLarge, InvalidRequestError, MixstackError
from mixstack.gateway._anthropic_wire import MessagesWire
from mixstack.gateway._auth import Authenticator
from mixstack.gateway._completions import CompletionsWire
from mixstack.gateway._embeddings import EmbeddingsWire
from mixstack.gateway._errors import (
    error_payload,
    error_response,
    validation_message,
)
from mixstack.gateway._formats import Parsed, StreamWriter, WireFormat
from mixstack.gateway._metrics import CONTENT_TYPE, GatewayMetrics
from mixstack.gateway._openapi import openapi_document
from mixstack.gateway._responses import ResponsesWire
from mixstack.gateway._wire import ChatWire
from mixstack.gateway.ui import ui_routes
from mixstack.guard._keys import VirtualKey
from mixstack.guard._normalize import GuardScanner
from mixstack.monitor import GatewayMonitor
from mixstack.pipeline import CallStream, Pipeline
from mixstack.router import RouteDecision

__all__ = ["BodyTimeout", "BodyTooLarge", "Gateway", "app_from_env", "canonical_path", "create_app"]

log = logging.getLogger("mixstack.gateway")
T = TypeVar("T")

_ANONYMOUS = "-"
CHAT_PATH = "/v1/chat/completions"
#: how long a call runs before the gateway starts watching for its client going away
_WATCH_AFTER_S = 0.05


#: API paths also served without the `/v1` prefix (clients configured with a bare host)
_BARE = frozenset(
    {"/chat/completions", "/completions", "/responses", "/embeddings", "/messages", "/models"}
)


def canonical_path(path: str) -> str:
    """`/v1/...` for a bare API path, without a trailing slash (no 307 redirect for it)."""
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    if path in _BARE or path.startswith(("/models/", "/responses/")):
        return "/v1" + path
    return path


class _ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


def _key_label(key: VirtualKey | None) -> str:
    return key.id if key is not None else _ANONYMOUS


def _header_safe(value: str) -> str:
    return value.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")


def _route_short(route: dict[str, Any] | None) -> str:
    return RouteDecision.short_of(route) if route else ""


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """Await `work` in this task; a watcher cancels it if the client disconnects first.

    The watcher starts only once the work has taken `_WATCH_AFTER_S`: a fast answer (most
    of a gateway's traffic) then costs a timer, not a task, and a client that left earlier
    is seen as soon as the watcher starts."""
    current = asyncio.current_task()
    assert current is not None
    loop = asyncio.get_running_loop()
    gone = False
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        nonlocal gone
        await _disconnected(receive)
        gone = True
        current.cancel()

    def start() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(_WATCH_AFTER_S, start)
    try:
        result = await work
    except asyncio.CancelledError:
        if gone:
            current.uncancel()
            raise _ClientGone from None
        raise
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
    if gone:  # the work swallowed the cancellation: the client is gone all the same
        current.uncancel()
        raise _ClientGone
    return result


async def _close(call: CallStream) -> None:
    """Close the upstream stream even while the request is being cancelled."""
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await call.aclose()


class _App(Starlette):
    """Starlette, with `POST /v1/chat/completions` taken straight to its handler.

    The handler answers every error itself (OpenAI-style JSON), so the error and exception
    middleware and the router, about 0.1 ms a request here, add nothing on the hot path; every
    other path, and lifespan, goes through Starlette as usual."""

    def __init__(
        self,
        chat: Callable[[HttpRequest], Awaitable[Response]],
        internal: Callable[[HttpRequest, Exception], Awaitable[Response]],
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._chat = chat
        self._internal_error = internal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != CHAT_PATH:
            scope["path"] = canonical_path(scope["path"])
        if scope["type"] == "http" and scope["path"] == CHAT_PATH and scope["method"] == "POST":
            scope["app"] = self
            request = HttpRequest(scope, receive, send)
            try:
                response = await self._chat(request)
            except Exception as exc:
                response = await self._internal_error(request, exc)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class Gateway:
    """One gateway process: a pipeline, keys, budgets, rate limits and metrics."""

    def __init__(self, config: Config, *, pipeline: Pipeline | None = None, serving: bool = False):
        self.config = config
        #: a long-running server (`mixstack serve`): start-up also readies the scan helper
        self.serving = serving
        self.settings = config.gateway
        self._given = pipeline
        self.pipeline = pipeline or Pipeline(config)
        self.metrics = GatewayMetrics()
        #: the pipeline's keys: the gateway looks the caller's key up, the pipeline admits
        self.keys = self.pipeline.admission.keys
        self.auth = Authenticator(self.keys, self.settings.auth)
        self._chat_wire = ChatWire()
        #: the other wire formats, each on its own path, all through `serve`
        self._wires: list[WireFormat] = [
            ResponsesWire(),
            CompletionsWire(),
            EmbeddingsWire(),
            MessagesWire(),
        ]
        self.monitor = GatewayMonitor(
            config, lambda: self.pipeline.store, self.pipeline.router.chooser, self.metrics.registry
        )
        self.pipeline.on_ocr_text = self.monitor.scan_ocr_text

    # -- app ------------------------------------------------------------------------------

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            workloads = self.pipeline.router.chooser.workloads.values()  # with the built-in one
            if any(w.privacy in ("auto", "redact") for w in workloads):
                # the guard's entity model loads before the first request, not during it;
                # a server also starts the helper process that scans long texts, whose
                # start would otherwise fall on the first long prompt
                scanner = self.pipeline.router.scanner
                warm = [asyncio.to_thread(scanner.warm_up)]
                if self.serving and isinstance(scanner, GuardScanner):
                    warm.append(asyncio.to_thread(scanner.warm_up_helper))
                await asyncio.gather(*warm)
            sealer = asyncio.get_running_loop().create_task(self.monitor.run())
            try:
                yield
            finally:
                sealer.cancel()
                await self.monitor.aclose()
                if self._given is None:
                    await self.pipeline.aclose()
                else:
                    await self.pipeline.admission.aclose()

        return _App(
            self.chat,
            self._internal,
            routes=[
                Route(CHAT_PATH, self.chat, methods=["POST"]),
                *(Route(w.path, self._endpoint(w), methods=["POST"]) for w in self._wires),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model:path}", self.model, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route(
                    "/metrics",
                    self.auth.admin_only(self.metrics_endpoint, "/metrics"),
                    methods=["GET"],
                ),
                Route("/openapi.json", self.openapi, methods=["GET"]),
                *ui_routes(self),
            ],
            lifespan=lifespan,
            exception_handlers={
                404: self._not_found,
                405: self._not_allowed,
                Exception: self._internal,
            },
        )

    def _endpoint(self, wire: WireFormat) -> Callable[[HttpRequest], Awaitable[Response]]:
        async def endpoint(request: HttpRequest) -> Response:
            return await self.serve(request, wire)

        return endpoint

    async def _not_found(self, request: HttpRequest, exc: Exception) -> Response:
        return JSONResponse(
            error_payload(
                f"no such endpoint {request.url.path!r}; this gateway serves "
                "/v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings, "
                "/v1/messages, /v1/models, /health, /metrics and /openapi.json.",
                "invalid_request_error",
                code="unknown_url",
            ),
            status_code=404,
        )

    async def _not_allowed(self, request: HttpRequest, exc: Exception) -> Response:
        return JSONResponse(
            error_payload(
                f"{request.method} is not allowed on {request.url.path}; see /openapi.json.",
                "invalid_request_error",
                code="method_not_allowed",
            ),
            status_code=405,
        )

    async def _internal(self, request: HttpRequest, exc: Exception) -> Response:
        log.exception("unexpected gateway error", exc_info=exc)
        return JSONResponse(
            error_payload(
                "the gateway failed unexpectedly; see its log and retry.", "server_error"
            ),
            status_code=500,
        )

    # -- small endpoints ---------------------------------------------------------------------

    async def health(self, request: HttpRequest) -> Response:
        """Liveness for anyone; models and circuit states only for an admin key."""
        if not await self.auth.is_admin(request.headers):
            return JSONResponse({"status": "ok"})
        return JSONResponse(
            {
                "status": "ok",
                "models": len(self.pipeline.catalog),
                "circuits": self.pipeline.resilience.breakers.states(),
            }
        )

    async def metrics_endpoint(self, request: HttpRequest) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, request: HttpRequest) -> Response:
        from mixstack._version import __version__

        return JSONResponse(openapi_document(__version__))

    async def models(self, request: HttpRequest) -> Response:
        try:
            key = await self._authenticate(request.headers)
        except MixstackError as exc:
            return error_response(exc)
        data = [info for info in self._model_infos() if key is None or key.allows(str(info["id"]))]
        return JSONResponse({"object": "list", "data": data})

    async def model(self, request: HttpRequest) -> Response:
        """`GET /v1/models/{id}` (ids hold a `/`, so the rest of the path is the id)."""
        try:
            key = await self._authenticate(request.headers)
        except MixstackError as exc:
            return error_response(exc)
        wanted = request.path_params["model"]
        for info in self._model_infos():
            if info["id"] == wanted and (key is None or key.allows(wanted)):
                return JSONResponse(info)
        return JSONResponse(
            error_payload(
                f"no model {wanted!r} here; GET /v1/models lists the models this gateway serves.",
                "invalid_request_error",
                param="model",
                code="model_not_found",
            ),
            status_code=404,
        )

    def _model_infos(self) -> list[dict[str, Any]]:
        catalog = self.pipeline.catalog
        data: list[dict[str, Any]] = []
        for entry in catalog:
            info = catalog.describe(entry)
            data.append(
                {
                    "id": entry.name,
                    "object": "model",
                    "created": 0,
                    "owned_by": entry.provider,
                    "locality": entry.locality,
                    "capabilities": info["capabilities"],
                    "context_window": entry.context_window,
                    "available": info["available"],
                }
            )
        for name in self.config.workloads:
            data.append(
                {"id": f"workload/{name}", "object": "model", "created": 0, "owned_by": "workload"}
            )
        return data

    # -- chat completions -------------------------------------------------------------------

    async def chat(self, request: HttpRequest) -> Response:
        return await self.serve(request, self._chat_wire)

    async def serve(self, request: HttpRequest, wire: WireFormat) -> Response:
        """One call in any wire format: key, body, the pipeline (which admits the key's
        call), the answer."""
        started = time.perf_counter()
        model = "-"
        key: VirtualKey | None = None
        try:
            key = await self._authenticate(request.headers)
            parsed = await _parse(wire, await self._read_body(request), request.headers, key)
            model = parsed.request.model or "-"
            screened = await self.monitor.screen(parsed.request, _key_label(key))
            if screened.request is not parsed.request:  # a canary or an image's screen token
                parsed = dataclasses.replace(parsed, request=screened.request)
        except ValidationError as exc:
            message, param = validation_message(exc)
            return self._fail(InvalidRequestError(message, param=param), model, key, wire)
        except MixstackError as exc:
            return self._fail(exc, model, key, wire)
        if parsed.stream:
            return await self._stream(request, parsed, key, started, wire)
        return await self._complete(request, parsed, key, started, wire)

    def _fail(
        self,
        exc: MixstackError,
        model: str,
        key: VirtualKey | None,
        wire: WireFormat | None = None,
    ) -> Response:
        label = self._model_label(model)
        self.metrics.failure(label, key.id if key else _ANONYMOUS, exc.http_status, exc.error_type)
        self.monitor.observe_error(key.id if key else _ANONYMOUS, exc)
        return (wire or self._chat_wire).error_response(exc)

    def _model_label(self, model: str) -> str:
        """Metric label for a requested model: known names only, so labels stay bounded."""
        if model in self.pipeline.catalog:
            return model
        prefix, _, name = model.partition("/")
        if prefix == "workload" and name in self.config.workloads:
            return model
        return "other"

    async def _authenticate(self, headers: Mapping[str, str]) -> VirtualKey | None:
        return await self.auth.authenticate(headers)

    async def _read_body(self, request: HttpRequest) -> bytes:
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge(limit)
        parts: list[bytes] = []
        size = 0
        try:
            # a client trickling its body (slowloris) would hold a connection and a task
            async with asyncio.timeout(self.settings.body_timeout_s):
                async for part in request.stream():
                    size += len(part)
                    if size > limit:
                        raise BodyTooLarge(limit)
                    parts.append(part)
        except TimeoutError:
            raise BodyTimeout(self.settings.body_timeout_s) from None
        return b"".join(parts)

    def _headers(
        self, request_id: str, model: str, route: str, cost: float | None
    ) -> dict[str, str]:
        headers = {
            "x-mixstack-request-id": request_id,
            "x-mixstack-model": _header_safe(model),
            "x-mixstack-route": _header_safe(route),
        }
        if cost is not None:
            headers["x-mixstack-cost"] = f"{cost:.8f}"
        for name, value in self.monitor.headers().items():
            headers[name] = _header_safe(value)
        return headers

    async def _complete(
        self,
        http: HttpRequest,
        parsed: Parsed,
        key: VirtualKey | None,
        started: float,
        wire: WireFormat,
    ) -> Response:
        request = parsed.request
        work: Awaitable[Completion | Embeddings] = (
            self.pipeline.embed(request, front_door="gateway", key=key)
            if parsed.kind == "embed"
            else self.pipeline.complete(request, front_door="gateway", key=key)
        )
        try:
            done = await _unless_disconnected(http.receive, work)
        except _ClientGone:
            return Response(status_code=499)
        except MixstackError as exc:
            return self._fail(exc, request.model or "-", key, wire)
        usage = done.usage
        self.metrics.success(
            done.model,
            _key_label(key),
            latency_s=time.perf_counter() - started,
            ttft_s=None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=usage.cost_usd,
        )
        if isinstance(done, Completion):
            try:
                self.monitor.answered(_key_label(key), done)
            except MixstackError as exc:  # a leaked canary under `block`: withheld
                return wire.error_response(exc)
        return Response(
            dumps(wire.render(done, parsed)),
            media_type="application/json",
            headers=self._headers(
                done.request_id, done.model, _route_short(done.route), usage.cost_usd
            ),
        )

    async def _stream(
        self,
        http: HttpRequest,
        parsed: Parsed,
        key: VirtualKey | None,
        started: float,
        wire: WireFormat,
    ) -> Response:
        """Wait for the first chunk (fallbacks happen before it), then stream the rest."""
        request = parsed.request
        try:
            call = await self.pipeline.open_stream(request, front_door="gateway", key=key)
        except MixstackError as exc:
            return self._fail(exc, request.model or "-", key, wire)
        chunks = cast(AsyncGenerator[Chunk, None], aiter(call))
        try:
            first = await _unless_disconnected(http.receive, anext(chunks, None))
        except BaseException as exc:
            await _close(call)
            if isinstance(exc, _ClientGone):
                return Response(status_code=499)
            if isinstance(exc, MixstackError):
                return self._fail(exc, request.model or "-", key, wire)
            raise
        # the answering model is known now (fallbacks happen before the first chunk)
        headers = self._headers(call.request_id, call.model, call.route.short(), None)
        writer = wire.writer(call.request_id, call.model, parsed)
        body = self._sse(call, chunks, first, key, writer, started)
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)

    async def _sse(
        self,
        call: CallStream,
        chunks: AsyncGenerator[Chunk, None],
        first: Chunk | None,
        key: VirtualKey | None,
        writer: StreamWriter,
        started: float,
    ) -> AsyncIterator[bytes]:
        failure: MixstackError | None = None
        chunk = first
        try:
            head = writer.head()
            if head:
                yield head
            while chunk is not None:
                yield writer.chunk(chunk)
                chunk = await anext(chunks, None)
            yield writer.end(call.completion)
        except MixstackError as exc:
            failure = exc
            yield writer.error(exc)
        except Exception as exc:
            log.exception("stream failed", exc_info=exc)
            failure = MixstackError("the stream failed unexpectedly; retry.")
            yield writer.error(failure)
        finally:
            await _close(call)
            self._finish_stream(call, _key_label(key), failure, started)

    def _finish_stream(
        self, call: CallStream, key_label: str, failure: MixstackError | None, started: float
    ) -> None:
        done = call.completion
        if done is None:  # cut short (the pipeline settled what was streamed)
            status = failure.http_status if failure else 499
            kind = failure.error_type if failure else "client_closed"
            self.metrics.failure(call.model, key_label, status, kind)
            self.monitor.observe_error(key_label, failure)
            return
        usage = done.usage
        self.metrics.success(
            done.model,
            key_label,
            latency_s=time.perf_counter() - started,
            ttft_s=None if usage.ttft_ms is None else usage.ttft_ms / 1000,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=usage.cost_usd,
        )
        # streamed: the answer has left already; a leak is flagged and alerted, not withheld
        with contextlib.suppress(MixstackError):
            self.monitor.answered(key_label, done)


#: bodies larger than this are decoded in a worker thread, not on the event loop
PARSE_INLINE_BYTES = 256 * 1024


async def _parse(
    wire: WireFormat, body: bytes, headers: Mapping[str, str], key: VirtualKey | None
) -> Parsed:
    """The request in `body`; a large one is decoded and validated off the event loop."""
    caller = key.id if key is not None else None
    if len(body) <= PARSE_INLINE_BYTES:
        return wire.parse(body, headers, caller)
    return await asyncio.to_thread(wire.parse, body, headers, caller)


def create_app(
    config: Config | None = None, *, pipeline: Pipeline | None = None, serving: bool = False
) -> Starlette:
    """The ASGI app of a gateway (config: given, else `$MIXSTACK_CONFIG`, else built-in);
    `serving` for a long-running server (see `Gateway.serving`)."""
    cfg = config if config is not None else (pipeline.config if pipeline else load_config())
    return Gateway(cfg, pipeline=pipeline, serving=serving).app()


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` worker processes (config from `$MIXSTACK_CONFIG`)."""
    from mixstack.gateway._connections import GuardedHttpProtocol

    config = load_config()
    GuardedHttpProtocol.configure(config.gateway)
    return create_app(config, serving=True)
