"""FastAPI dependencies, as Annotated aliases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from review_api.keys import Principal, Role, authenticate, require
from review_api.store.db import Store

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <leadloop API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_session(request: Request) -> Iterator[Session]:
    with get_store(request).session() as session:
        yield session


def get_now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


SessionDep = Annotated[Session, Depends(get_session)]
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
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        require(principal, *roles)
        return principal

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
DeciderDep = Annotated[Principal, _role_dep(Role.REP, Role.ADMIN)]
ReaderDep = Annotated[Principal, _role_dep(Role.REP, Role.ADMIN, Role.ANALYST)]
AnalystDep = Annotated[Principal, _role_dep(Role.ANALYST, Role.ADMIN)]
AdminDep = Annotated[Principal, _role_dep(Role.ADMIN)]
