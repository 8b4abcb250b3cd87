"""The login session: a signed, timed, HttpOnly, SameSite cookie, and CSRF tokens.

The cookie never holds the API key: it holds the key's id, checked against the store on
every request (a revoked key logs its sessions out at once), and the CSRF token that every
form must echo.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict

from review_api.keys import Principal, Role
from review_api.store.db import Store
from review_api.store.models import ApiKey

T = TypeVar("T")
R = TypeVar("R", bound=Response)
COOKIE = "leadloop_ui"
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 200_000


# Why the login page is shown: the page takes only these codes, so a link cannot make it
# say anything else.
WHY = {
    "login": "Log in with your API key.",
    "expired": "Your session expired; log in again.",
    "revoked": "The key of this session was revoked; log in with another.",
    "logged_out": "You are logged out.",
}


class LoginRequired(Exception):
    """No session, an expired one, or one whose key was revoked; ``why`` is a WHY code."""

    def __init__(self, why: str) -> None:
        super().__init__(WHY[why])
        self.why = why


class PageForbidden(Exception):
    """A logged-in key whose role may not see this page, or a form with a bad CSRF token."""


@dataclass(slots=True)
class SessionCodec:
    """Signs and reads the session cookie; timestamps come from ``clock`` (the app's)."""

    secret: str
    max_age: int = SESSION_SECONDS
    clock: Callable[[], datetime] | None = None

    def _serializer(self) -> URLSafeTimedSerializer:
        now = self.now

        class ClockSigner(TimestampSigner):
            # itsdangerous asks the signer for "now"; the app's clock lets tests move time.
            def get_timestamp(self) -> int:
                return int(now().timestamp())

        return URLSafeTimedSerializer(self.secret, salt="leadloop-ui-session",
                                      signer=ClockSigner)

    def now(self) -> datetime:
        """The app's time."""
        return self.clock() if self.clock else datetime.now(UTC)

    def dumps(self, content: dict[str, Any]) -> str:
        """A signed cookie value."""
        return str(self._serializer().dumps(content))

    def loads(self, value: str) -> tuple[dict[str, Any] | None, str | None]:
        """The content of a cookie value, or None and why it was refused."""
        try:
            content = self._serializer().loads(value, max_age=self.max_age)
        except SignatureExpired:
            return None, "expired"
        except BadSignature:
            return None, None
        return (content, None) if isinstance(content, dict) else (None, None)

    def set(self, response: Response, request: Request, content: dict[str, Any]) -> None:
        """Write the cookie on ``response``."""
        response.set_cookie(
            COOKIE, self.dumps(content), max_age=self.max_age, path="/", httponly=True,
            samesite="strict", secure=request.url.scheme == "https")


def new_token() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(24)


def load_or_create_secret(path: Path) -> str:
    """The signing secret kept in ``path`` (made once, readable by its owner only), so every
    worker process signs and reads the same cookies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


@dataclass(slots=True)
class Visit:
    """One request to a page: its session (if any), the store, and the CSRF token."""

    request: Request
    store: Store
    codec: SessionCodec
    content: dict[str, Any] = field(default_factory=dict)
    refused_because: str | None = None

    @property
    def csrf(self) -> str:
        """The token every form of this session must carry."""
        token = self.content.get("csrf")
        if not isinstance(token, str):
            token = new_token()
            self.content["csrf"] = token
        return token

    @property
    def key_id(self) -> int | None:
        kid = self.content.get("kid")
        return kid if isinstance(kid, int) else None

    def principal(self, session: Session) -> Principal:
        """The logged-in key, checked against the store now; LoginRequired otherwise."""
        if self.key_id is None:
            raise LoginRequired(self.refused_because or "login")
        row = session.get(ApiKey, self.key_id)
        if row is None or row.revoked_at is not None:
            raise LoginRequired("revoked")
        return Principal(key_id=row.id, role=Role(row.role), owner_id=row.owner_id,
                         name=row.name)

    async def run(self, work: Callable[[Session, Principal], T], *roles: Role) -> T:
        """``work`` in one transaction once the login (and its role, if listed) is checked."""
        return await run_in_threadpool(self._run, work, roles)

    def _run(self, work: Callable[[Session, Principal], T], roles: tuple[Role, ...]) -> T:
        with self.store.sessions() as session:
            who = self.principal(session)
            if roles and who.role not in roles:
                allowed = " or ".join(r.value for r in roles)
                raise PageForbidden(f"this page needs an {allowed} key; yours is a "
                                    f"{who.role} key")
            result = work(session, who)
            session.commit()
            return result

    async def form(self) -> ImmutableMultiDict[str, str]:
        """The posted form (URL-encoded), refused unless it carries this session's token."""
        kind = self.request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise PageForbidden("send this form from the page")
        body = await self.request.body()
        if len(body) > MAX_FORM_BYTES:
            raise PageForbidden(f"the form is over {MAX_FORM_BYTES:,} bytes")
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields = ImmutableMultiDict([(k, v) for k, v in pairs if k != "csrf"])
        sent = next((v for k, v in pairs if k == "csrf"), "")
        expected = self.content.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            raise PageForbidden("this form is stale or was not sent from a leadloop page "
                                "(its security token does not match); reload and try again")
        return fields

    def remember(self, response: R) -> R:
        """Keep (or start) the session cookie on ``response``."""
        self.csrf  # noqa: B018 - makes sure the session has a token before it is stored
        self.codec.set(response, self.request, self.content)
        return response


def get_visit(request: Request) -> Visit:
    codec: SessionCodec = request.app.state.ui_sessions
    raw = request.cookies.get(COOKIE)
    content, why = codec.loads(raw) if raw else (None, None)
    return Visit(request=request, store=request.app.state.store, codec=codec,
                 content=content or {}, refused_because=why)


VisitDep = Annotated[Visit, Depends(get_visit)]
