"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "crawl_state",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("cursor", sa.String(), nullable=True),
        sa.Column("high_water", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "kinship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_key", sa.String(length=64), nullable=False),
        sa.Column("model_a", sa.String(length=300), nullable=False),
        sa.Column("model_b", sa.String(length=300), nullable=False),
        sa.Column("base", sa.String(length=300), nullable=False),
        sa.Column("revision_a", sa.String(length=200), nullable=True),
        sa.Column("revision_b", sa.String(length=200), nullable=True),
        sa.Column("revision_base", sa.String(length=200), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("convention", sa.String(length=20), nullable=False),
        sa.Column("sample_fraction", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.Column("params_compared", sa.Integer(), nullable=False),
        sa.Column("bytes_read", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_key", name="uq_kinship_key"),
    )
    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.create_index("ix_kinship_pair", ["model_a", "model_b"], unique=False)

    op.create_table(
        "kinship_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.String(length=300), nullable=False),
        sa.Column("model_b", sa.String(length=300), nullable=False),
        sa.Column("base", sa.String(length=300), nullable=False),
        sa.Column("child", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_a", "model_b", "base", name="uq_kinship_job"),
    )
    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        batch_op.create_index("ix_kinship_job_status", ["status", "lease_until"], unique=False)

    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.String(length=300), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("license", sa.String(length=200), nullable=True),
        sa.Column("library_name", sa.String(length=100), nullable=True),
        sa.Column("pipeline_tag", sa.String(length=100), nullable=True),
        sa.Column("architectures", sa.JSON(), nullable=False),
        sa.Column("model_type", sa.String(length=100), nullable=True),
        sa.Column("hidden_size", sa.Integer(), nullable=True),
        sa.Column("num_layers", sa.Integer(), nullable=True),
        sa.Column("vocab_size", sa.Integer(), nullable=True),
        sa.Column("num_parameters", sa.Integer(), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("gated", sa.String(length=20), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_last_modified"), ["last_modified"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_repo_id"), ["repo_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_model_status"), ["status"], unique=False)

    op.create_table(
        "run_lock",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=True),
        sa.Column("lora", sa.String(length=300), nullable=True),
        sa.Column("stage", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["model.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("child_id", "parent_id", "relation", "role", "source", name="uq_edge"),
    )
    with op.batch_alter_table("edge", schema=None) as batch_op:
        batch_op.create_index("ix_edge_child", ["child_id", "parent_id"], unique=False)
        batch_op.create_index("ix_edge_parent", ["parent_id", "child_id"], unique=False)

    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=300), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("source_name", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "task", "dataset", "metric", name="uq_evaluation"),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_model_id"), ["model_id"], unique=False)

    op.create_table(
        "recipe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("merge_method", sa.String(length=100), nullable=True),
        sa.Column("base_model", sa.String(length=300), nullable=True),
        sa.Column("dtype", sa.String(length=20), nullable=True),
        sa.Column("tokenizer_source", sa.String(length=300), nullable=True),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("raw_text", sa.String(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "source", name="uq_recipe"),
    )
    with op.batch_alter_table("recipe", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipe_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recipe", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipe_model_id"))

    op.drop_table("recipe")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_model_id"))

    op.drop_table("evaluation")
    with op.batch_alter_table("edge", schema=None) as batch_op:
        batch_op.drop_index("ix_edge_parent")
        batch_op.drop_index("ix_edge_child")

    op.drop_table("edge")
    op.drop_table("run_lock")
    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_status"))
        batch_op.drop_index(batch_op.f("ix_model_repo_id"))
        batch_op.drop_index(batch_op.f("ix_model_last_modified"))

    op.drop_table("model")
    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        batch_op.drop_index("ix_kinship_job_status")

    op.drop_table("kinship_job")
    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.drop_index("ix_kinship_pair")

    op.drop_table("kinship")
    op.drop_table("crawl_state")
    op.drop_table("crawl_run")
