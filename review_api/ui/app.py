"""Mounting the pages on the review API's app: static files, security headers, login,
error pages, and every page module's routes."""

from __future__ import annotations

import importlib
import inspect
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from review_api.errors import ReviewError
from review_api.ui import render as pages
from review_api.ui.session import (
    SESSION_SECONDS,
    LoginRequired,
    PageForbidden,
    SessionCodec,
    get_visit,
)

# Page modules: each has ``router`` and may have ``NAV``. Add yours here.
PAGE_MODULES: tuple[str, ...] = (
    "review_api.ui.auth",
    "review_api.ui.queue",
    "review_api.ui.proposal",
    "review_api.ui.admin_weights",
    "review_api.ui.admin_policy",
    "review_api.ui.admin_models",
    "review_api.ui.funnel",
)
STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
STATUS = {"unauthenticated": 401, "forbidden": 403, "not_entitled": 403, "not_found": 404,
          "conflict": 409, "invalid_transition": 409, "bad_decision": 422,
          "bad_request": 422}

class PageHeaders:
    """Security headers on every page and static file; the API's responses are untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith("/ui")):
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
        if not path.startswith("/ui/static/"):
            extra.append((b"cache-control", b"no-store"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in have]
            await send(message)

        await self.app(scope, receive, with_headers)


def _is_page(request: Request) -> bool:
    return request.url.path == "/" or request.url.path.startswith("/ui")


def mount(app: FastAPI, *, secret: str | None = None,
          session_seconds: int = SESSION_SECONDS) -> None:
    """Serve the pages from ``app``; ``secret`` signs the session cookie (a random one per
    process when None, which suits one process: sessions end when it restarts)."""
    app.state.ui_sessions = SessionCodec(secret=secret or secrets.token_urlsafe(48),
                                         max_age=session_seconds,
                                         clock=getattr(app.state, "clock", None))
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    home = APIRouter(include_in_schema=False)

    @home.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    app.include_router(home)
    pages.NAV.clear()
    for name in PAGE_MODULES:
        module = importlib.import_module(name)
        app.include_router(module.router)
        pages.NAV.extend(getattr(module, "NAV", []))
    app.add_middleware(PageHeaders)
    _error_pages(app)


def _error_pages(app: FastAPI) -> None:
    """On a /ui path, errors become pages; elsewhere the API's JSON handlers answer."""

    @app.exception_handler(LoginRequired)
    async def login_first(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/ui/"
        response = RedirectResponse(
            f"/ui/login?{_query(next=target, why=exc.why)}", status_code=303)
        return response

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        return _error_page(request, 403, str(exc))

    previous: dict[Any, Any] = {
        kind: app.exception_handlers[kind]
        for kind in (ReviewError, StarletteHTTPException, RequestValidationError)
    }

    def on_page(kind: Any, status_of: Callable[[Any], tuple[int, str]]) -> None:
        async def handler(request: Request, exc: Any) -> Response:
            if not _is_page(request) or request.url.path.startswith("/ui/static"):
                answer = previous[kind](request, exc)
                response: Response = await answer if inspect.isawaitable(answer) else answer
                return response
            status, message = status_of(exc)
            return _error_page(request, status, message)

        app.add_exception_handler(kind, handler)

    on_page(ReviewError, lambda exc: (STATUS.get(exc.code, 400), str(exc)))
    on_page(StarletteHTTPException, lambda exc: (
        exc.status_code, "no such page" if exc.status_code == 404 else str(exc.detail)))
    on_page(RequestValidationError, lambda exc: (422, _first_error(exc)))


def _first_error(exc: RequestValidationError) -> str:
    errors = list(exc.errors())
    if not errors:
        return "the request is not valid"
    where = ".".join(str(p) for p in errors[0].get("loc", ()) if p not in ("query", "path"))
    return f"{where}: {errors[0].get('msg', 'not valid')}"


def _error_page(request: Request, status: int, message: str) -> Response:
    visit = get_visit(request)
    return pages.render(visit, "error.html", who=None, status=status, status_code=status,
                        message=message)


def _query(**params: str) -> str:
    return urlencode(params)
