"""The unsubscribe routes: no login, as RFC 8058 requires.

``POST /unsubscribe/{token}`` is the one-click opt-out a mailbox provider sends (body
``List-Unsubscribe=One-Click``) and the confirmation page's button sends; it is idempotent.
``GET`` only shows the page with the button: link scanners fetch links in mail, and a
fetch must never unsubscribe anyone.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from review_api import unsubscribe
from review_api.deps import get_store
from review_api.unsubscribe import BadTokenError, OptOut

log = logging.getLogger(__name__)
router = APIRouter(tags=["unsubscribe"])
Token = Annotated[str, Path(max_length=64, description="The token from the email's link.")]
OnUnsubscribe = Callable[[OptOut], None]
PAGES: dict[int | str, dict[str, Any]] = {
    404: {"description": "The link is not valid: a page saying so.",
          "content": {"text/html": {}}}}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto;">
<h1>{title}</h1>
{content}
</body></html>
"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), content=content),
                        status_code=status, headers={"Cache-Control": "no-store"})


def _secret(request: Request) -> bytes:
    secret: bytes | None = getattr(request.app.state, "unsubscribe_secret", None)
    if secret is None:
        secret = unsubscribe.signing_secret(get_store(request))
        request.app.state.unsubscribe_secret = secret
    return secret


def _refused(exc: BadTokenError) -> HTMLResponse:
    return _page("This link does not work", f"<p>{html.escape(str(exc))}</p>", status=404)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=PAGES)
async def confirm_page(token: Token, request: Request) -> HTMLResponse:
    """A page with one button that unsubscribes; the GET itself changes nothing."""
    try:
        await run_in_threadpool(lambda: unsubscribe.read_token(_secret(request), token))
    except BadTokenError as exc:
        return _refused(exc)
    action = html.escape(f"/unsubscribe/{token}")
    return _page("Unsubscribe", (
        "<p>Stop receiving emails from us at this address?</p>"
        f'<form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=PAGES)
async def one_click(token: Token, request: Request) -> HTMLResponse:
    """Opt the address out (RFC 8058 one-click, or the page's button); idempotent."""
    clock: Callable[[], datetime] | None = request.app.state.clock
    now = clock() if clock is not None else datetime.now(UTC)
    via = "one-click" if b"One-Click" in await request.body() else "post"

    def work() -> OptOut:
        proposal_id = unsubscribe.read_token(_secret(request), token)
        with get_store(request).session() as session:
            return unsubscribe.opt_out(session=session, proposal_id=proposal_id, now=now,
                                       via=via)

    try:
        done = await run_in_threadpool(work)
    except BadTokenError as exc:
        return _refused(exc)
    callback: OnUnsubscribe | None = getattr(request.app.state, "on_unsubscribe", None)
    if callback is not None:
        try:
            # Every POST writes the CRM again (it is idempotent there too), so a lead whose
            # first click met a CRM outage is written by the next; the store's suppression
            # list holds the opt-out meanwhile, and the send step checks it.
            await run_in_threadpool(callback, done)
        except Exception as exc:  # noqa: BLE001 - the opt-out stands; the CRM catches up
            log.warning("unsubscribe of %s stored, but the CRM write failed: %s",
                        done.crm_id, exc)
    return _page("You are unsubscribed",
                 f"<p>{html.escape(done.address)} will get no more emails from us.</p>")
