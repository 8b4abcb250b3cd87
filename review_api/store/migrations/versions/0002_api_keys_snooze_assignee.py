"""api keys, snooze, assignee, outbox lease, draft rule switches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 19:29:38.008294
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "draft_rule_switches",
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_draft_rule_switches")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assignee_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_proposals_assignee_id"), ["assignee_id"], unique=False)
        batch_op.drop_index("ix_proposals_state_kind")
        batch_op.create_index("ix_proposals_state_id", ["state", "id"], unique=False)
        batch_op.create_index(
            "ix_proposals_owner_state_id", ["owner_id", "state", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_owner_state_id")
        batch_op.drop_index("ix_proposals_state_id")
        batch_op.create_index("ix_proposals_state_kind", ["state", "kind"], unique=False)
        batch_op.drop_index(batch_op.f("ix_proposals_assignee_id"))
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("snoozed_until")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
    op.drop_table("draft_rule_switches")
    op.drop_table("api_keys")
