"""sketch_summary: a compact projection of each model's latest sketch (issue 18,
``kinhub relatives``)

* ``sketch_summary``: one row per model — the revision and plan of its latest sketch
  and a 128-number float32 count-sketch of its plan-weighted values — in a table of
  its own, so reading a plan's summaries never touches the sketch blobs; ``packed``
  once it is copied into a page.
* ``sketch_summary_page``: a plan's summaries, 10,000 to a row (a derived copy,
  rebuilt by ``kinhub relatives``), so a query reads a few rows, not 100,000.
* ``ix_model_sketch_plan_model`` on ``model_sketch (plan_key, model_id)``: the
  models with a sketch of a plan, from the index alone (the check for sketches
  stored before this migration, which get their summary at the first ``kinhub
  relatives`` of their plan: computing one needs the kinship code, which a migration
  does not import).

Revision ID: 0011_sketch_summary
Revises: 0010_model_errors
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sketch_summary"
down_revision = "0010_model_errors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sketch_summary",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("packed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_index(
        "ix_sketch_summary_plan", "sketch_summary", ["plan_key", "packed"], unique=False
    )
    op.create_table(
        "sketch_summary_page",
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("model_ids", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("plan_key", "page"),
    )
    op.create_index(
        "ix_model_sketch_plan_model", "model_sketch", ["plan_key", "model_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_model_sketch_plan_model", table_name="model_sketch")
    op.drop_table("sketch_summary_page")
    op.drop_index("ix_sketch_summary_plan", table_name="sketch_summary")
    op.drop_table("sketch_summary")
