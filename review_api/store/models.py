"""The store's tables (SQLAlchemy 2). Alembic migrations create them; the app never does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    cast,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Lead(Base):
    """The current state of a synced lead; history lives in ``lead_snapshots``."""

    __tablename__ = "leads"

    crm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("lead_snapshots.id"))
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(254))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_score: Mapped[int | None] = mapped_column(Integer)
    effective_tier: Mapped[str | None] = mapped_column(String(8))
    crm_score: Mapped[int | None] = mapped_column(Integer)  # what the CRM shows now
    fit_score: Mapped[int | None] = mapped_column(Integer)
    engagement_score: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(4))
    # The sub-scores the CRM shows now, as "fit/engagement/grade" (see subscores_text).
    crm_subscores: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def subscores_text(fit: int | None, engagement: int | None, grade: str | None) -> str | None:
    """A lead's sub-scores as ``crm_subscores`` records them, e.g. "40/25/A2"."""
    if fit is None or engagement is None or grade is None:
        return None
    return f"{fit}/{engagement}/{grade}"


def subscores_sql() -> ColumnElement[str]:
    """:func:`subscores_text` of a lead's columns, as SQL (NULL while never computed)."""
    return (cast(Lead.fit_score, String) + "/" + cast(Lead.engagement_score, String) + "/"
            + Lead.grade)


class LeadSnapshot(Base):
    """A lead as the CRM had it at one modification stamp (append-only)."""

    __tablename__ = "lead_snapshots"
    __table_args__ = (UniqueConstraint("crm_id", "crm_modified_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), index=True)
    crm_modified_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncRun(Base):
    """One run of ``leadloop sync``: what was read, stored, skipped."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(default=0)
    stored: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)


class SyncSkip(Base):
    """A lead a sync could not take, and why."""

    __tablename__ = "sync_skips"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    crm_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class SyncCursor(Base):
    """Where the next incremental read of one stream starts."""

    __tablename__ = "sync_cursors"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    modified_at: Mapped[datetime]
    last_id: Mapped[str] = mapped_column(String(64), default="")
    # When the last complete read of the stream began (our clock); see leadloop's cursor rule.
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Score(Base):
    """A computed score with the factors behind it and the versions that made it."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), index=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("lead_snapshots.id"))
    score: Mapped[int]
    tier: Mapped[str] = mapped_column(String(8))
    factors: Mapped[dict[str, Any]]
    weights_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    fit_score: Mapped[int | None] = mapped_column(Integer)
    engagement_score: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(4))


class Proposal(Base):
    """A draft or a score override waiting for, or past, a rep's decision."""

    __tablename__ = "proposals"
    # Queues read "pending, newest first", for everyone or for one rep: these indexes give
    # the first page without sorting every pending proposal.
    __table_args__ = (
        Index("ix_proposals_state_id", "state", "id"),
        Index("ix_proposals_owner_state_id", "owner_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(64), index=True)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(32), default="pending")
    payload: Mapped[dict[str, Any]]
    crm_task_id: Mapped[str | None] = mapped_column(String(64))
    score_id: Mapped[int | None] = mapped_column(ForeignKey("scores.id"))
    weights_version: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    drafter_version: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    # Who must decide now: the lead's owner, or whom an escalation rule reassigned it to.
    assignee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # When a rule requires one person's approval (the owner's manager), that person; only
    # they (or an admin) may approve it. "" when the rule found nobody: only an admin may.
    approver_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Decision(Base):
    """A rep's decision on a proposal: the training label."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    original_text: Mapped[str | None] = mapped_column(Text)
    final_text: Mapped[str | None] = mapped_column(Text)
    diff: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[int | None]
    original_score: Mapped[int | None]
    final_score: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))


class AuditEvent(Base):
    """One entry of the append-only audit trail (triggers refuse updates and deletes)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]


class OutboxEmail(Base):
    """An approved email waiting to be sent exactly once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_owner_claimed", "owner_id", "claimed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    crm_id: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]  # when a sender last took it; a lease, not a lock
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(128))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The plan: not before this time (window, holidays, caps), and what held it back.
    not_before: Mapped[datetime | None]
    held_because: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    """An API key: only a hash of the secret is stored; a revoked key stays, marked."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class DraftRuleSwitch(Base):
    """An admin's switch on a learned drafting rule (rules are relearned; switches stay)."""

    __tablename__ = "draft_rule_switches"

    rule_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookReceipt(Base):
    """A webhook delivery already taken, kept until a copy of it could no longer arrive.

    The primary key decides, for every worker and process at once, which copy is the first.
    """

    __tablename__ = "webhook_receipts"

    # "<source>:<id>": "hubspot:<signature>", "sf-flow:<signature>", "sf-outbound:<Id>".
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskUpdateRow(Base):
    """A change to a proposal that its CRM task must show, waiting to be pushed (an outbox).

    Written in the transaction that changes the proposal, so a crash cannot lose it; the
    push sets the task to the state the proposal holds then, so rows for one proposal
    coalesce and a late push never writes a stale state.
    """

    __tablename__ = "task_updates"
    __table_args__ = (Index("ix_task_updates_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class Suppression(Base):
    """An address leadloop never emails again (opted out, or the lead was deleted)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    crm_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutcomeEventRow(Base):
    """What became of a sent email, as the CRM (or leadloop's no-reply rule) recorded it.

    One row per CRM record: ``(source, event_id)`` is unique, so importing the same events
    twice changes nothing.
    """

    __tablename__ = "outcome_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # the connector's name, or "leadloop"
    event_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    crm_id: Mapped[str] = mapped_column(String(64), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="")


class SigningKey(Base):
    """A secret the store keeps for signing links (unsubscribe tokens), made on first use."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
