"""incident context on cases: declaration time, personal data and notification duty

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("personal_data", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "notification_required", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("aware_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    # Cases opened before this revision were declared when they were opened (their
    # `case.created` event carries no explicit declaration time).
    op.execute("UPDATE cases SET declared_at = created_at WHERE declared_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
        batch_op.drop_column("aware_at")
        batch_op.drop_column("notification_required")
        batch_op.drop_column("personal_data")
        batch_op.drop_column("declared_at")
