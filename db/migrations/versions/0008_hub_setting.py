"""setting: database-wide settings (the Hub endpoint and plan of the last crawl)

A worker, ``partners --compute``, ``plan`` and ``kinship`` read the weights of
crawled models from the Hub the crawl listed them on; the crawl stores that Hub's
URL and plan here (never a token).  ``kinhub ingest`` stores the folder a local
model was read from, so the worker reads that model's weights there.

Revision ID: 0008_hub_setting
Revises: 0007_wide_counts_and_files
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_hub_setting"
down_revision = "0007_wide_counts_and_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setting",
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("setting")
