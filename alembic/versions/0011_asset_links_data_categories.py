"""explicit asset links (containment actions and artifacts by asset id) and the categories
of data a case affects

Revision ID: 0011_asset_links_data_categories
Revises: 0010_search_index
Create Date: 2026-12-07 18:10:00.000000

Both are written only by projections of events this revision introduces (containment v3,
`asset.linked`, `case.data_categories`): no earlier event implies a row, so there is
nothing to backfill.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0011_asset_links_data_categories"
down_revision = "0010_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset_links",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "asset_id", "kind", "ref"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("data_categories", sa.Text(), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("data_categories")
    op.drop_table("asset_links")
