"""outbox schedule: each approved email's not-before time and what held it back

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("held_because", sa.Text(), nullable=True))
        # The caps count what each mailbox claimed today, inside every claim.
        batch_op.create_index("ix_outbox_owner_claimed", ["owner_id", "claimed_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_owner_claimed")
        batch_op.drop_column("held_because")
        batch_op.drop_column("not_before")
