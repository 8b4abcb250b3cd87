"""Engines, sessions and migrations for the store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from review_api.errors import StoreError


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the review CLI and the API read while a pipeline step writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _OneWriterAtATime:
    """SQLite lets one connection write at a time; the others wait in its busy handler, which
    sleeps in steps of up to 100 ms. In one process, writers queue on a lock instead: taken
    before a connection's first INSERT, UPDATE or DELETE (which is when Python's sqlite3
    begins the transaction), given back at its commit or rollback, or at the latest when the
    connection returns to the pool. Between processes the busy handler still decides."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self, engine: Engine, *, wait_seconds: float) -> None:
        self.lock = threading.Lock()
        self.wait_seconds = wait_seconds
        event.listen(engine, "before_cursor_execute", self.before_statement)
        event.listen(engine, "commit", self.ended)
        event.listen(engine, "rollback", self.ended)
        event.listen(engine.pool, "checkin", self.returned)

    def before_statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.connection.info
        if info.get("writing") or not statement.lstrip()[:7].upper().startswith(self.WRITES):
            return
        if not self.lock.acquire(timeout=self.wait_seconds):
            raise StoreError(f"the database stayed busy for {self.wait_seconds:.0f} s")
        info["writing"] = True

    def ended(self, conn: Any) -> None:
        self._release(conn.connection.info)

    def returned(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            self._release(record.info)

    def _release(self, info: dict[str, Any]) -> None:
        if info.pop("writing", False):
            self.lock.release()


def make_engine(url: str, *, connections: int | None = None, pre_ping: bool = True) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and foreign keys.

    ``connections`` is how many connections the pool keeps open (the API sets it to the
    requests a worker serves at once), with a few more allowed for work beside requests.
    Left unset, the pool keeps SQLAlchemy's default of 5 open and closes the rest after use.
    ``pre_ping`` tests each connection with a round trip before use; the API turns it off
    and retries a request's first statement instead (review_api.deps.Caller).
    """
    pool: dict[str, Any] = {}
    if connections is not None:
        # Overflow covers a bulk call's per-item sessions, metrics scrapes and webhook work.
        pool = {"pool_size": connections, "max_overflow": max(4, connections // 2)}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        _OneWriterAtATime(engine, wait_seconds=10)
        return engine
    return create_engine(url, pool_pre_ping=pre_ping, **pool)


def alembic_config(url: str) -> Config:
    """Alembic's config pointing at the migrations shipped in this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("review_api.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest migration."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot reach the database: {exc.orig}") from None


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


class Store:
    """An engine and its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, connections: int | None = None,
             pre_ping: bool = True) -> Store:
        """Open the store at ``url``, migrating it to the newest schema first."""
        engine = make_engine(url, connections=connections, pre_ping=pre_ping)
        if migrate:
            upgrade(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
