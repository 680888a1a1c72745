"""case assets: hosts, accounts, containers and IPs involved in a case (a projection)

Revision ID: 0009_case_assets
Revises: 0008_playbooks
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009_case_assets"
down_revision = "0008_playbooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_assets",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("criticality", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "asset_id"),
    )


def downgrade() -> None:
    op.drop_table("case_assets")
