"""model_alias: old repo ids the Hub redirects to a renamed model's current id

Revision ID: 0004_model_alias
Revises: 0003_arch_signature
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_model_alias"
down_revision = "0003_arch_signature"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_alias",
        sa.Column("alias", sa.String(length=300), nullable=False),
        sa.Column("repo_id", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alias"),
    )
    op.create_index("ix_model_alias_repo_id", "model_alias", ["repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_model_alias_repo_id", table_name="model_alias")
    op.drop_table("model_alias")
