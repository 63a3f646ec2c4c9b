"""sketch_plan and model_sketch: per-model sketches read once (issue 18)

* ``sketch_plan``: the coordinates shared by every model with the same tensor names
  and shapes (per tensor the block starts), keyed by their hash.
* ``model_sketch``: one row per (model, revision): the values at the plan's
  coordinates as float32 bytes, and the bytes and requests reading them took.

Revision ID: 0009_sketch
Revises: 0008_hub_setting
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sketch"
down_revision = "0008_hub_setting"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sketch_plan",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("seed", _BIG, nullable=False),
        sa.Column("num_params", _BIG, nullable=False),
        sa.Column("layout", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "model_sketch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("bytes_read", _BIG, nullable=False),
        sa.Column("resolver_requests", sa.Integer(), nullable=False),
        sa.Column("cdn_requests", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "revision", name="uq_model_sketch"),
    )
    op.create_index("ix_model_sketch_model_id", "model_sketch", ["model_id"], unique=False)
    op.create_index("ix_model_sketch_plan", "model_sketch", ["plan_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_model_sketch_plan", table_name="model_sketch")
    op.drop_index("ix_model_sketch_model_id", table_name="model_sketch")
    op.drop_table("model_sketch")
    op.drop_table("sketch_plan")
