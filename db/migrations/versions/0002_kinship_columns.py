"""kinship as columns, job key with revisions, raw texts for re-parse

* ``kinship``: model ids for the three references, ``seed``, the registry's scalar
  metrics as REAL columns (moved out of the old ``metrics`` JSON, which is dropped),
  everything else in ``extra``; indexes for "lowest pcc/cs/ed involving model X".
* ``kinship_job``: ``job_key`` (hash over kind, canonical pair, base, revisions),
  kind, revisions, priority, retry and result columns; existing rows become 'pair'
  jobs in canonical order.
* ``model_text`` (new) and ``recipe.parser_version``.

Revision ID: 0002_kinship_columns
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_kinship_columns"
down_revision = "0001"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

# Frozen here on purpose: what this migration moved is fixed, whatever the registry becomes.
_SCALAR = ("cs", "pcc", "ed", "sign", "ratio")
_KINSHIP_INDEXES = {
    "ix_kinship_a_pcc": ["model_a_id", "pcc"],
    "ix_kinship_b_pcc": ["model_b_id", "pcc"],
    "ix_kinship_a_cs": ["model_a_id", "cs"],
    "ix_kinship_b_cs": ["model_b_id", "cs"],
    "ix_kinship_a_ed": ["model_a_id", "ed"],
    "ix_kinship_b_ed": ["model_b_id", "ed"],
    "ix_kinship_base": ["base_id"],
}
_JOB_INDEXES = {
    "ix_kinship_job_priority": ["status", "priority"],
    "ix_kinship_job_model_a": ["model_a"],
    "ix_kinship_job_model_b": ["model_b"],
    "ix_kinship_job_base": ["base"],
}

_model = sa.table(
    "model",
    sa.column("id", sa.Integer),
    sa.column("repo_id", sa.String),
    sa.column("status", sa.String),
    sa.column("tags", sa.JSON),
    sa.column("architectures", sa.JSON),
    sa.column("private", sa.Boolean),
    sa.column("first_seen", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    _model_text()
    _kinship()
    _kinship_job()


def _model_text() -> None:
    op.create_table(
        "model_text",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("card_text", sa.Text(), nullable=True),
        sa.Column("config_name", sa.String(length=200), nullable=True),
        sa.Column("config_text", sa.Text(), nullable=True),
        sa.Column("parser_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id"),
    )
    with op.batch_alter_table("recipe", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parser_version", sa.Integer(), server_default="0", nullable=False)
        )


# --- kinship -------------------------------------------------------------------------


def _kinship() -> None:
    with op.batch_alter_table("kinship", schema=None) as batch_op:
        for name in ("model_a_id", "model_b_id", "base_id"):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_kinship_{name}", "model", [name], ["id"], ondelete="SET NULL"
            )
        batch_op.add_column(sa.Column("seed", sa.Integer(), nullable=True))
        for name in _SCALAR:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=True))

    _move_kinship_values()

    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.alter_column("extra", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("metrics")
        for name, cols in _KINSHIP_INDEXES.items():
            batch_op.create_index(name, cols, unique=False)


def _move_kinship_values() -> None:
    conn = op.get_bind()
    kinship = sa.table(
        "kinship",
        sa.column("id", sa.Integer),
        sa.column("model_a", sa.String),
        sa.column("model_b", sa.String),
        sa.column("base", sa.String),
        sa.column("metrics", sa.JSON),
        sa.column("extra", sa.JSON),
        sa.column("model_a_id", sa.Integer),
        sa.column("model_b_id", sa.Integer),
        sa.column("base_id", sa.Integer),
        *(sa.column(n, sa.Float) for n in _SCALAR),
    )
    rows = conn.execute(
        sa.select(kinship.c.id, kinship.c.model_a, kinship.c.model_b, kinship.c.base)
        .add_columns(kinship.c.metrics)
        .order_by(kinship.c.id)
    ).all()
    ids: dict[str, int | None] = {}
    for row in rows:
        values: dict[str, Any] = {"extra": {}}
        for name, value in (row.metrics or {}).items():
            if name in _SCALAR and _finite_number(value):
                values[name] = float(value)
            else:  # non-scalar, unknown, or a NaN stored as null: kept in extra
                values["extra"][name] = value
        for col, ref in (("model_a_id", row.model_a), ("model_b_id", row.model_b)):
            values[col] = _model_id(conn, ref, ids)
        values["base_id"] = _model_id(conn, row.base, ids)
        conn.execute(sa.update(kinship).where(kinship.c.id == row.id).values(**values))
    logger.info("kinship: %d stored measurements moved to metric columns", len(rows))


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _model_id(conn: sa.Connection, ref: str, cache: dict[str, int | None]) -> int | None:
    """The model row of a Hub reference (created 'pending' if new); None for a folder."""
    from kinhub.db.ids import is_repo_id

    repo_id = ref.partition("@")[0]
    if not is_repo_id(repo_id):
        return None
    if repo_id not in cache:
        found = conn.execute(sa.select(_model.c.id).where(_model.c.repo_id == repo_id)).scalar()
        if found is None:
            now = datetime.now(UTC)
            found = conn.execute(
                sa.insert(_model)
                .values(
                    repo_id=repo_id,
                    status="pending",
                    tags=[],
                    architectures=[],
                    private=False,
                    first_seen=now,
                    updated_at=now,
                )
                .returning(_model.c.id)
            ).scalar_one()
        cache[repo_id] = found
    return cache[repo_id]


# --- kinship_job ---------------------------------------------------------------------


def _kinship_job() -> None:
    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        batch_op.drop_constraint("uq_kinship_job", type_="unique")
        batch_op.add_column(sa.Column("job_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=10), nullable=True))
        for name in ("revision_a", "revision_b", "revision_base"):
            batch_op.add_column(sa.Column(name, sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("mode", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("kinship_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_kinship_job_kinship_id", "kinship", ["kinship_id"], ["id"], ondelete="SET NULL"
        )

    _key_existing_jobs()

    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        batch_op.alter_column("job_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("kind", existing_type=sa.String(length=10), nullable=False)
        batch_op.alter_column("priority", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_kinship_job_key", ["job_key"])
        for name, cols in _JOB_INDEXES.items():
            batch_op.create_index(name, cols, unique=False)


def _pair_key_0002(model_a: str, model_b: str, base: str) -> str:
    """The job key of a pair job without revisions, as ``kinhub.db.jobs.keys.job_key``
    computed it when this migration was written (frozen here: a migration must not
    change with later code; ``tests/db/test_migrations.py`` checks they still agree)."""
    doc = ["pair", model_a, model_b, base, None, None, None]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def _key_existing_jobs() -> None:
    """Old rows become 'pair' jobs in canonical order, keyed; a duplicate that only
    differed by the order of A and B is folded into the first row (logged)."""
    conn = op.get_bind()
    job = sa.table(
        "kinship_job",
        sa.column("id", sa.Integer),
        sa.column("model_a", sa.String),
        sa.column("model_b", sa.String),
        sa.column("base", sa.String),
        sa.column("job_key", sa.String),
        sa.column("kind", sa.String),
        sa.column("priority", sa.Integer),
    )
    rows = conn.execute(
        sa.select(job.c.id, job.c.model_a, job.c.model_b, job.c.base).order_by(job.c.id)
    ).all()
    seen: set[str] = set()
    for row in rows:
        model_a, model_b = sorted((row.model_a, row.model_b))
        key = _pair_key_0002(model_a, model_b, row.base)
        if key in seen:
            logger.warning("kinship_job %d duplicates an earlier job with A and B swapped", row.id)
            conn.execute(sa.delete(job).where(job.c.id == row.id))
            continue
        seen.add(key)
        conn.execute(
            sa.update(job)
            .where(job.c.id == row.id)
            .values(
                model_a=model_a,
                model_b=model_b,
                job_key=key,
                kind="pair",
                priority=0,
            )
        )


def downgrade() -> None:
    """Back to the 0001 shape: metric columns and ``extra`` fold into ``metrics`` JSON.

    Lost: the model links, ``seed``, and the job columns 0001 has no place for; a job
    that only differed from another by kind or revisions is dropped (0001's key is
    (model_a, model_b, base)).  Model rows created for links stay.
    """
    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        batch_op.drop_constraint("fk_kinship_job_kinship_id", type_="foreignkey")
        batch_op.drop_constraint("uq_kinship_job_key", type_="unique")
        for name in _JOB_INDEXES:
            batch_op.drop_index(name)
    _drop_job_duplicates()
    with op.batch_alter_table("kinship_job", schema=None) as batch_op:
        for name in (
            "job_key",
            "kind",
            "revision_a",
            "revision_b",
            "revision_base",
            "priority",
            "next_attempt_at",
            "mode",
            "kinship_id",
            "finished_at",
        ):
            batch_op.drop_column(name)
        batch_op.create_unique_constraint("uq_kinship_job", ["model_a", "model_b", "base"])

    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metrics", sa.JSON(), nullable=True))
    _fold_kinship_values()
    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.alter_column("metrics", existing_type=sa.JSON(), nullable=False)
        for name in _KINSHIP_INDEXES:
            batch_op.drop_index(name)
        for name in ("model_a_id", "model_b_id", "base_id"):
            batch_op.drop_constraint(f"fk_kinship_{name}", type_="foreignkey")
        for name in ("model_a_id", "model_b_id", "base_id", "seed", *_SCALAR, "extra"):
            batch_op.drop_column(name)

    with op.batch_alter_table("recipe", schema=None) as batch_op:
        batch_op.drop_column("parser_version")
    op.drop_table("model_text")


def _drop_job_duplicates() -> None:
    conn = op.get_bind()
    job = sa.table(
        "kinship_job",
        sa.column("id", sa.Integer),
        sa.column("model_a", sa.String),
        sa.column("model_b", sa.String),
        sa.column("base", sa.String),
    )
    seen: set[tuple[str, str, str]] = set()
    for row in conn.execute(
        sa.select(job.c.id, job.c.model_a, job.c.model_b, job.c.base).order_by(job.c.id)
    ):
        triple = (row.model_a, row.model_b, row.base)
        if triple in seen:
            logger.warning("kinship_job %d: same pair and base as an earlier job; dropped", row.id)
            conn.execute(sa.delete(job).where(job.c.id == row.id))
        seen.add(triple)


def _fold_kinship_values() -> None:
    conn = op.get_bind()
    kinship = sa.table(
        "kinship",
        sa.column("id", sa.Integer),
        sa.column("metrics", sa.JSON),
        sa.column("extra", sa.JSON),
        *(sa.column(n, sa.Float) for n in _SCALAR),
    )
    rows = conn.execute(
        sa.select(kinship.c.id, kinship.c.extra, *(kinship.c[n] for n in _SCALAR))
    ).all()
    for row in rows:
        metrics = dict(row.extra or {})
        for name in _SCALAR:
            if getattr(row, name) is not None:
                metrics[name] = getattr(row, name)
        conn.execute(sa.update(kinship).where(kinship.c.id == row.id).values(metrics=metrics))
