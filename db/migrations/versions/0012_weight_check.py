"""weight_check: declared lineage checked against the weights (issue 18)

One row per (child, parent) edge pair judged from stored sketches: the verdict
(consistent, contradicted, unverified), the rule and its score and threshold, the
base the changes were taken against and the evidence (``kinhub.kinship.weight_check``).

Revision ID: 0012_weight_check
Revises: 0011_sketch_summary
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_weight_check"
down_revision = "0011_sketch_summary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weight_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("base", sa.String(length=300), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["model.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("child_id", "parent_id", name="uq_weight_check"),
    )
    op.create_index("ix_weight_check_child_id", "weight_check", ["child_id"], unique=False)
    op.create_index("ix_weight_check_verdict", "weight_check", ["verdict"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_weight_check_verdict", table_name="weight_check")
    op.drop_index("ix_weight_check_child_id", table_name="weight_check")
    op.drop_table("weight_check")
