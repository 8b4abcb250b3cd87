"""FastAPI dependencies, as Annotated aliases.

Sync routes run in a worker thread, and so does every sync dependency, each on its own hop.
Dependencies that do no I/O are therefore ``async``; the request's session is opened without
I/O and committed in one hop, *before* the response is sent, so a commit that fails is the
caller's error and never an acknowledged decision that was not stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from review_api.keys import Principal, Role, authenticate, require
from review_api.store.db import Store

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <leadloop API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _commit(session: Session) -> None:
    with session:
        session.commit()


def _discard(session: Session) -> None:
    with session:
        session.rollback()


async def get_session(request: Request) -> AsyncIterator[Session]:
    # A new session touches no database until its first statement, so it is made here on
    # the event loop; the commit (or rollback) is the one hop to a thread.
    session = get_store(request).sessions()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_discard, session)
        raise
    await run_in_threadpool(_commit, session)


async def get_now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


# scope="function": the session commits when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
NowDep = Annotated[datetime, Depends(get_now)]


def get_principal(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Principal:
    key = bearer.credentials if bearer is not None else header
    # The key is checked in the request's own transaction: one transaction per request.
    return authenticate(session=session, key=key)


def _role_dep(*roles: Role) -> object:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        require(principal, *roles)
        return principal

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
DeciderDep = Annotated[Principal, _role_dep(Role.REP, Role.ADMIN)]
ReaderDep = Annotated[Principal, _role_dep(Role.REP, Role.ADMIN, Role.ANALYST)]
AnalystDep = Annotated[Principal, _role_dep(Role.ANALYST, Role.ADMIN)]
AdminDep = Annotated[Principal, _role_dep(Role.ADMIN)]
