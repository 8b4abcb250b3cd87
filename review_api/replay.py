"""Webhook replay protection shared by every worker and process on one database.

Each delivery taken is a row of ``webhook_receipts``, keyed ``"<source>:<id>"``. Taking a
delivery is one short transaction whose INSERT of that key is the arbiter: of two copies
arriving at once in two processes, the primary key lets exactly one row in, on SQLite and
on PostgreSQL alike. Nothing is read first and decided on, so no race is left between a
read and a write.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Executable, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from connectors.hubspot.webhooks import SeenStore
from review_api.errors import StoreError
from review_api.store.db import Store
from review_api.store.models import WebhookReceipt

HUBSPOT = "hubspot"
SALESFORCE_FLOW = "sf-flow"
SALESFORCE_OUTBOUND = "sf-outbound"
PURGE_BATCH = 100  # more than one insert adds, so the expired rows drain under any traffic
_KEY_LENGTH = 128
_SOURCE_LENGTH = 32


def receipt_key(source: str, delivery_id: str) -> str:
    """The key a delivery is remembered by: its source, a colon, its id or signature."""
    return f"{source}:{delivery_id}"


class Namespaced:
    """A :class:`SeenStore` seen through one source: every key gets that source's prefix.

    The HubSpot verifier records bare signatures; this keeps them apart from other sources'.
    """

    def __init__(self, seen: SeenStore, source: str) -> None:
        self._seen = seen
        self._source = source

    def add_if_new(self, key: str, *, expires_at_ms: int) -> bool:
        """Record ``key`` under this source; False when it was already recorded."""
        return self._seen.add_if_new(receipt_key(self._source, key), expires_at_ms=expires_at_ms)


class StoreSeenStore:
    """A :class:`SeenStore` in the store's ``webhook_receipts`` table.

    Every worker and process that opens the same database shares it. Each call also deletes
    up to ``purge_batch`` receipts that have expired, so the table holds little more than
    the deliveries that could still be replayed.

    Args:
        store: the store whose database keeps the receipts.
        clock_ms: the current time in epoch milliseconds (tests inject one).
        purge_batch: how many expired receipts one call deletes at most.

    Raises:
        StoreError: the database is neither SQLite nor PostgreSQL.
    """

    def __init__(self, store: Store, *, clock_ms: Callable[[], int] | None = None,
                 purge_batch: int = PURGE_BATCH) -> None:
        if store.engine.dialect.name not in ("postgresql", "sqlite"):
            raise StoreError(f"webhook receipts need SQLite or PostgreSQL, not "
                             f"{store.engine.dialect.name}")
        self._store = store
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._purge_batch = purge_batch

    def add_if_new(self, key: str, *, expires_at_ms: int) -> bool:
        """Record ``key`` until ``expires_at_ms``; False when it is recorded and unexpired."""
        now = _utc(self._clock_ms())
        key, source = _stored(key)
        with self._store.engine.connect() as connection:
            try:
                self._forget_expired(connection, key=key, now=now)
            except DBAPIError as exc:
                # The API's pool does not ping before use: a connection the database dropped
                # fails on this first statement, before anything was done. Once more.
                if not exc.connection_invalidated:
                    raise
                connection.rollback()
                self._forget_expired(connection, key=key, now=now)
            # ON CONFLICT DO NOTHING, not a caught unique violation: a replay then leaves
            # the transaction usable (the purge above still commits) and PostgreSQL's log
            # free of an ERROR line per copy. The primary key decides either way; the key
            # comes back only when this INSERT put it there.
            taken = connection.execute(_insert_new(
                connection.dialect.name, key=key, source=source,
                expires_at=_utc(expires_at_ms), received_at=now)).first() is not None
            connection.commit()
        return taken

    def _forget_expired(self, connection: Connection, *, key: str, now: datetime) -> None:
        expired = WebhookReceipt.expires_at < now
        # This key's own expired receipt first, so the key can be taken again at once.
        connection.execute(delete(WebhookReceipt).where(WebhookReceipt.key == key, expired))
        # Then a bounded batch of others. SKIP LOCKED (PostgreSQL; SQLite has one writer
        # anyway) leaves rows another worker is deleting: two purges never wait on each
        # other, nor can they deadlock over each other's keys.
        batch = (select(WebhookReceipt.key).where(expired).limit(self._purge_batch)
                 .with_for_update(skip_locked=True))
        connection.execute(delete(WebhookReceipt).where(WebhookReceipt.key.in_(batch)))


def _insert_new(dialect: str, **row: object) -> Executable:
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key, in the database's own words.

    RETURNING, not the row count: psycopg reports no count once SQLAlchemy has closed a
    cursor without rows. (SQLite has RETURNING since 3.35.)
    """
    if dialect == "postgresql":
        return postgresql.insert(WebhookReceipt).values(row).on_conflict_do_nothing(
            index_elements=[WebhookReceipt.key]).returning(WebhookReceipt.key)
    return sqlite.insert(WebhookReceipt).values(row).on_conflict_do_nothing(
        index_elements=[WebhookReceipt.key]).returning(WebhookReceipt.key)


def _stored(key: str) -> tuple[str, str]:
    """The key as stored (a digest when too long for the column) and its source."""
    source, colon, _ = key.partition(":")
    source = source[:_SOURCE_LENGTH] if colon else ""
    if len(key) > _KEY_LENGTH:
        key = receipt_key(source, hashlib.sha256(key.encode("utf-8")).hexdigest())
    return key, source


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)
