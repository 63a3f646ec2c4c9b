"""hub_object: the Hub's object id of each stored repo (survives renames)

Revision ID: 0006_hub_object
Revises: 0005_query_indexes
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_hub_object"
down_revision = "0005_query_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_object",
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.Column("repo_id", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("hub_id"),
    )
    op.create_index("ix_hub_object_repo_id", "hub_object", ["repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hub_object_repo_id", table_name="hub_object")
    op.drop_table("hub_object")
