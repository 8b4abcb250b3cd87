"""Log in with an API key, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from review_api.keys import Principal, UnauthenticatedError, authenticate
from review_api.ui.render import render
from review_api.ui.session import COOKIE, WHY, VisitDep, new_token

router = APIRouter(include_in_schema=False)
MAX_KEY = 200


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a page of ours, never another site."""
    if not target or not target.startswith("/ui/") or target.startswith("/ui//"):
        return "/ui/"
    if any(c in target for c in "\\\r\n"):
        return "/ui/"
    return target


@router.get("/ui/login")
async def login_page(
    visit: VisitDep, next: Annotated[str, Query(max_length=500)] = "/ui/",  # noqa: A002
    why: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The login form."""
    return render(visit, "login.html", who=None, next=safe_next(next), why=WHY.get(why, ""),
                  error="")


@router.post("/ui/login")
async def log_in(visit: VisitDep) -> Response:
    """Check the key; on success the session cookie names it and a fresh CSRF token."""
    form = await visit.form()
    key = form.get("key", "").strip()[:MAX_KEY]
    target = safe_next(form.get("next"))

    def check() -> Principal:
        with visit.store.sessions() as session:
            return authenticate(session=session, key=key)

    try:
        who = await run_in_threadpool(check)
    except UnauthenticatedError as exc:
        visit.request.app.state.metrics.auth_failures.inc()
        return render(visit, "login.html", who=None, next=target, why="", status=401,
                      error=str(exc).replace(": send 'Authorization: Bearer <key>'", ""))
    # A new token at login: a token planted before login is worth nothing after it.
    visit.content = {"kid": who.key_id, "csrf": new_token()}
    return visit.remember(RedirectResponse(target, status_code=303))


@router.post("/ui/logout")
async def log_out(visit: VisitDep) -> Response:
    """End the session: the cookie is dropped."""
    await visit.form()
    response = RedirectResponse("/ui/login?why=logged_out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
