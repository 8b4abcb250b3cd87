"""subscores: fit and engagement apart, and the grade, beside each score and on each lead

Revision ID: 0006_subscores
Revises: 0005
Create Date: 2026-12-06 01:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_subscores"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fit_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("engagement_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("grade", sa.String(length=4), nullable=True))
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fit_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("engagement_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("grade", sa.String(length=4), nullable=True))
        # What the CRM shows now, as "fit/engagement/grade"; NULL until first written, so
        # leads scored before this revision get their sub-scores at the next push.
        batch_op.add_column(sa.Column("crm_subscores", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("crm_subscores")
        batch_op.drop_column("grade")
        batch_op.drop_column("engagement_score")
        batch_op.drop_column("fit_score")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_column("grade")
        batch_op.drop_column("engagement_score")
        batch_op.drop_column("fit_score")
