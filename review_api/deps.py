"""FastAPI dependencies, as Annotated aliases.

FastAPI runs a sync route in a worker thread, each sync dependency on a thread hop of its
own, and a sync route's response validation on one more; each hop costs a few tenths of a
millisecond of CPU. So the dependencies here do no I/O and are ``async``, routes are
``async``, and a route hands its one unit of work to one thread::

    async def route(caller: DeciderDep, ...) -> Out:
        def work(session: Session, who: Principal) -> Out:
            ...
        return await caller.run(work)

The key is checked inside that transaction, and it commits when ``work`` returns, before
the response is sent: a commit that fails is the caller's error, never an acknowledged
change that was not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from review_api.keys import Principal, Role, UnauthenticatedError, authenticate, require
from review_api.store.db import Store

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <leadloop API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever sent the request, with the key they sent (not yet checked) and what it must be."""

    store: Store
    key: str
    roles: tuple[Role, ...]

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Principal]]:
        """One transaction for the request: the key is checked first, in it; it commits when
        the block ends and rolls back if the block raises."""
        with self.store.sessions() as session:  # closing it rolls back what is not committed
            who = self._check_first(session)
            yield session, who
            session.commit()

    def _check_first(self, session: Session) -> Principal:
        # The API's pool does not ping a connection before each use (a round trip per
        # request). A connection the database dropped since (a restart, an idle timeout)
        # fails on this, the request's first statement, before anything was done on it:
        # try once more on a fresh one.
        try:
            return self.check(session)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            session.rollback()
            return self.check(session)

    def check(self, session: Session) -> Principal:
        """The principal behind the key, if it may do this (401 or 403 otherwise)."""
        principal = authenticate(session=session, key=self.key)
        require(principal, *self.roles)
        return principal

    def principal(self) -> Principal:
        """The checked principal, in a transaction of its own."""
        with self.session() as (_session, who):
            return who

    async def run(self, work: Callable[[Session, Principal], T]) -> T:
        """``work`` in one transaction, in a worker thread, once the key is checked."""
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session, Principal], T]) -> T:
        with self.session() as (session, who):
            return work(session, who)


async def _api_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> str:
    key = bearer.credentials if bearer is not None else header
    if not key:  # refused here, before any database work
        raise UnauthenticatedError("an API key is required: send 'Authorization: Bearer <key>'")
    return key


def _caller(*roles: Role) -> Any:
    async def caller(request: Request, key: Annotated[str, Depends(_api_key)]) -> Caller:
        return Caller(store=get_store(request), key=key, roles=roles)

    return Depends(caller)


async def get_now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]
DeciderDep = Annotated[Caller, _caller(Role.REP, Role.ADMIN)]
ReaderDep = Annotated[Caller, _caller(Role.REP, Role.ADMIN, Role.ANALYST)]
AnalystDep = Annotated[Caller, _caller(Role.ANALYST, Role.ADMIN)]
AdminDep = Annotated[Caller, _caller(Role.ADMIN)]
