"""arch_signature: architecture signatures from safetensors headers, one per revision

Revision ID: 0003_arch_signature
Revises: 0002_kinship_columns
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_arch_signature"
down_revision = "0002_kinship_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arch_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("exact", sa.String(length=64), nullable=False),
        sa.Column("model_type", sa.String(length=100), nullable=True),
        sa.Column("num_layers", sa.Integer(), nullable=True),
        sa.Column("hidden_size", sa.Integer(), nullable=True),
        sa.Column("vocab_size", sa.Integer(), nullable=True),
        sa.Column("dtype", sa.String(length=20), nullable=True),
        sa.Column("num_tensors", sa.Integer(), nullable=False),
        sa.Column("num_parameters", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "revision", name="uq_arch_signature"),
    )
    op.create_index("ix_arch_signature_model_id", "arch_signature", ["model_id"], unique=False)
    op.create_index("ix_arch_signature_signature", "arch_signature", ["signature"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_arch_signature_signature", table_name="arch_signature")
    op.drop_index("ix_arch_signature_model_id", table_name="arch_signature")
    op.drop_table("arch_signature")
