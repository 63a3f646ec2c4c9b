"""64-bit counts; model_text.files (the file names the parser saw)

* Counts that outgrow 32 bits become BIGINT on PostgreSQL: ``model.num_parameters``
  (a 7B model has 7.2e9), ``model.downloads``, ``kinship.params_compared``,
  ``kinship.bytes_read`` (a 70B pair reads ~1.5e11 bytes), ``kinship.seed`` (any
  integer a user gives), ``kinship_job.priority`` (a child's downloads) and
  ``arch_signature.num_parameters``.  ``ALTER COLUMN … TYPE BIGINT`` keeps the rows.
  SQLite is left as it is: its INTEGER already stores 64 bits, and a batch rebuild
  of ``model`` would drop the table, which with foreign keys on cascades into every
  edge, recipe and text (the models declare INTEGER there; see ``BIG_INTEGER``).
* ``model_text.files`` (JSON, nullable): the repo's file names, so ``kinhub db
  reparse`` tells an adapter from full weights as the crawl did.  Rows stored
  before stay NULL (not known), which reads as before.

Downgrade on PostgreSQL fails if a stored count no longer fits 32 bits.

Revision ID: 0007_wide_counts_and_files
Revises: 0006_hub_object
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_wide_counts_and_files"
down_revision = "0006_hub_object"
branch_labels = None
depends_on = None

# table → [(column, nullable)]
_WIDE = {
    "model": [("num_parameters", True), ("downloads", True)],
    "kinship": [("seed", True), ("params_compared", False), ("bytes_read", False)],
    "kinship_job": [("priority", False)],
    "arch_signature": [("num_parameters", False)],
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in _WIDE.items():
        for column, nullable in columns:
            op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)


def upgrade() -> None:
    if _postgresql():
        _retype(sa.Integer(), sa.BigInteger())
    op.add_column("model_text", sa.Column("files", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_text", schema=None) as batch_op:
        batch_op.drop_column("files")
    if _postgresql():
        _retype(sa.BigInteger(), sa.Integer())
