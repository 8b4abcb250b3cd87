"""outcome events: replies, bounces, meetings, opt-outs and no-replies of sent emails

Revision ID: 0007_outcomes
Revises: 0006_subscores
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_outcomes"
down_revision: str | None = "0006_subscores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcome_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"],
                                name=op.f("fk_outcome_events_proposal_id_proposals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_events")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_outcome_events_source")),
    )
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcome_events_crm_id"), ["crm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcome_events_proposal_id"), ["proposal_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_events_proposal_id"))
        batch_op.drop_index(batch_op.f("ix_outcome_events_crm_id"))
    op.drop_table("outcome_events")
