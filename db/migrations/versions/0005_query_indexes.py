"""query indexes for a million models: a kinship row's job

``edge_kinship`` (every ``lineage`` with merge edges) and ``merge_gains`` ask which
finished job produced a kinship row (``kinship_job.kinship_id IN (…)``); without
an index that is a scan of the whole job table per lineage (100–200 ms at 900,000
jobs on SQLite, see scripts/bench_queries.py).

Revision ID: 0005_query_indexes
Revises: 0004_model_alias
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0005_query_indexes"
down_revision = "0004_model_alias"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_kinship_job_kinship", "kinship_job", ["kinship_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_kinship_job_kinship", table_name="kinship_job")
