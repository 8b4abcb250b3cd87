"""The review API: one FastAPI app; errors become JSON ``{code, message}`` in one place."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafting.errors import DraftingError
from review_api.admin import AdminFiles
from review_api.admin import router as admin_router
from review_api.errors import ReviewError
from review_api.metrics import ApiMetrics
from review_api.send_now_views import SendNow
from review_api.send_now_views import router as send_now_router
from review_api.store.db import Store
from review_api.ui.app import mount as mount_pages
from review_api.unsubscribe_views import OnUnsubscribe
from review_api.unsubscribe_views import router as unsubscribe_router
from review_api.views import router, webhook_router
from review_api.webhooks import Webhooks
from scoring.errors import ScoringError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000
STATUS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "invalid_transition": 409,
    "bad_decision": 422,
    "bad_key_request": 422,
    "bad_request": 422,
    "store": 503,
    "webhook_refused": 401,
    "webhook_bad_body": 400,
    "not_entitled": 403,
    "held": 409,
}


class BodyLimit:
    """Refuse request bodies over a size, whether announced or streamed (413)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class InLine:
    """At most ``limit`` requests inside the app at once; the rest wait their turn.

    Each request holds one database connection from its first statement to its commit, so
    this bounds the connections a worker needs: the pool keeps them all open and none is
    opened and closed per request, nor waited for while holding a thread.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._turns: anyio.Semaphore | None = None  # made on the event loop, at first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._turns is None:
            self._turns = anyio.Semaphore(self.limit)
        async with self._turns:
            await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    response = JSONResponse(
        {"code": "too_large", "message": f"request body over {limit:,} bytes"}, status_code=413)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _methods_for(app: FastAPI, scope: Scope) -> set[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**scope, "method": next(iter(route.methods))})
            if match is not Match.NONE:
                methods |= route.methods
    return methods


def create_app(
    store: Store, *, clock: Callable[[], datetime] | None = None,
    webhooks: Webhooks | None = None, admin_files: AdminFiles | None = None,
    concurrency: int | None = None, ui_secret: str | None = None,
    on_unsubscribe: OnUnsubscribe | None = None, send_now: SendNow | None = None,
) -> FastAPI:
    """The review API over ``store``; ``webhooks`` enables the CRM webhook routes and
    ``admin_files`` the weights and rules routes. ``concurrency`` caps the requests worked on
    at once; more wait their turn in the event loop. ``ui_secret`` signs the pages' session
    cookies (shared by every worker; a random one per process when None). ``on_unsubscribe``
    writes an opt-out into the CRM once the store has it; ``send_now`` sends one approved
    email at once when the sending policy allows it now."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, the app, settings) lives as long as the process:
        # out of the collector's sight, a full collection walks only what requests allocate.
        gc.collect()
        gc.freeze()
        if concurrency is not None:
            # A request has at most one thread hop going at a time, so with this many
            # requests inside no hop ever waits for a thread.
            anyio.to_thread.current_default_thread_limiter().total_tokens = concurrency
        yield

    app = FastAPI(
        title="leadloop review API", version="0.2.0",
        description="Proposals waiting for a rep's decision, the decisions, labels and audit.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.clock = clock
    app.state.metrics = ApiMetrics(store)
    app.state.webhooks = webhooks
    app.state.admin_files = admin_files
    app.state.on_unsubscribe = on_unsubscribe
    app.state.send_now = send_now
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(webhook_router)
    app.include_router(unsubscribe_router)
    app.include_router(send_now_router)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    if concurrency is not None:
        app.add_middleware(InLine, limit=concurrency)

    @app.exception_handler(ReviewError)
    async def review_error(_request: Request, exc: ReviewError) -> JSONResponse:
        if exc.code == "unauthenticated":
            app.state.metrics.auth_failures.inc()
        return JSONResponse({"code": exc.code, "message": str(exc)},
                            status_code=STATUS.get(exc.code, 400))

    @app.exception_handler(ScoringError)
    @app.exception_handler(DraftingError)
    async def bad_admin_file(_request: Request, exc: ScoringError | DraftingError) -> JSONResponse:
        # A weights or rules text that does not parse: the message names line and key.
        return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique rule caught a concurrent writer that the version check did not.
        log.warning("integrity error: %s", type(exc.orig).__name__ if exc.orig else exc)
        return JSONResponse(
            {"code": "conflict", "message": "this changed at the same time elsewhere; reload it"},
            status_code=409,
        )

    @app.exception_handler(DBAPIError)
    async def store_down(_request: Request, exc: DBAPIError) -> JSONResponse:
        log.warning("store error: %s", type(exc.orig).__name__ if exc.orig else exc)
        return JSONResponse(
            {"code": "store", "message": "the database did not answer as expected; try "
                                         "again (a decision that did go through then "
                                         "answers 409)"},
            status_code=503,
        )

    @app.exception_handler(StaleDataError)
    async def stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"code": "conflict", "message": "someone decided this proposal first; reload it"},
            status_code=409,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[Any] = list(exc.errors())
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return JSONResponse({"code": "bad_request", "message": f"{where}: {message}"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; a path served by
            # several routes (GET and POST /admin/keys) must list all their methods.
            headers["Allow"] = ", ".join(sorted(_methods_for(app, request.scope)))
        return JSONResponse({"code": codes.get(exc.status_code, "http_error"),
                             "message": str(exc.detail)}, status_code=exc.status_code,
                            headers=headers)

    mount_pages(app, secret=ui_secret)  # after the handlers above: it defers to them off /ui
    return app
