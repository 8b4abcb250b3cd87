"""task updates outbox, the approver a rule requires, suppressions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"],
                                name=op.f("fk_task_updates_proposal_id_proposals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_updates")),
    )
    with op.batch_alter_table("task_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_updates_proposal_id"), ["proposal_id"],
                              unique=False)
        batch_op.create_index("ix_task_updates_state_id", ["state", "id"], unique=False)
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_suppressions")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approver_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("approver_id")
    op.drop_table("suppressions")
    with op.batch_alter_table("task_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_task_updates_state_id")
        batch_op.drop_index(batch_op.f("ix_task_updates_proposal_id"))
    op.drop_table("task_updates")
