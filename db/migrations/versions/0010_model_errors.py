"""model.error_count, model.retry_after: a poison model is retried with backoff

A model whose processing fails is recorded with status ``error``; ``error_count``
counts its consecutive failures and ``retry_after`` says when a crawl may try it
again (``kinhub.db.store.set_status``), so one bad repo is not re-read every night.

Revision ID: 0010_model_errors
Revises: 0009_sketch
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_model_errors"
down_revision = "0009_sketch"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, never a batch rebuild: on SQLite a rebuild of ``model``
# drops the table, which with foreign keys on cascades into every edge (see 0007).


def upgrade() -> None:
    op.add_column(
        "model", sa.Column("error_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("model", sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("model", "retry_after")
    op.drop_column("model", "error_count")
