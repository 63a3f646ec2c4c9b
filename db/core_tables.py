"""SQLAlchemy Core views of the tables that fast read paths use, without the ORM.

``kinhub lineage`` is a short command whose start-up used to be dominated by
importing SQLModel, pydantic and ``sqlalchemy.orm`` for :mod:`kinhub.db.models`.
The read paths that must start fast (:mod:`kinhub.db.answers.lineage`,
:mod:`kinhub.db.answers.edge_kinship`) query these lightweight ``table()`` clauses
instead: only the columns they read, typed so that results come back exactly
as the ORM returns them (JSON decoded, datetimes aware UTC).  They work on a
Core ``Connection`` and on an ORM ``Session`` alike.

:mod:`kinhub.db.models` stays the schema's one definition; a test checks that
every column named here exists there with the same kind of type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kinhub.db.errors import ModelNotFoundError
from sqlalchemy import JSON, DateTime, Float, Integer, String, column, select, table
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.orm import Session

    Reader = Connection | Session
    """Anything that executes Core statements: a connection or an ORM session."""


class UTCDateTime(TypeDecorator[datetime]):
    """Read-side twin of SQLModel's ``UTCDateTime``: results are aware UTC datetimes
    (SQLite stores them without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


model = table(
    "model",
    column("id", Integer),
    column("repo_id", String),
    column("sha", String),
    column("status", String),
    column("model_type", String),
    column("architectures", JSON),
    column("num_parameters", Integer),
    column("license", String),
    column("downloads", Integer),
    column("likes", Integer),
    column("gated", String),
    column("last_modified", UTCDateTime()),
)

edge = table(
    "edge",
    column("id", Integer),
    column("child_id", Integer),
    column("parent_id", Integer),
    column("relation", String),
    column("role", String),
    column("source", String),
    column("parameters", JSON),
    column("revision", String),
)

recipe = table(
    "recipe",
    column("model_id", Integer),
    column("source", String),
    column("merge_method", String),
)

kinship = table(
    "kinship",
    column("id", Integer),
    column("model_a_id", Integer),
    column("model_b_id", Integer),
    column("base_id", Integer),
    column("base", String),
    column("mode", String),
    column("convention", String),
    column("cs", Float),
    column("pcc", Float),
    column("ed", Float),
    column("computed_at", UTCDateTime()),
)

weight_check = table(
    "weight_check",
    column("child_id", Integer),
    column("parent_id", Integer),
    column("verdict", String),
    column("rule", String),
    column("score", Float),
    column("threshold", Float),
    column("base", String),
    column("evidence", JSON),
    column("checked_at", UTCDateTime()),
)

kinship_job = table(
    "kinship_job",
    column("kinship_id", Integer),
    column("kind", String),
    column("status", String),
)


def require_model_id(reader: Reader, repo_id: str) -> int:
    """The id of the model row for ``repo_id`` (Core twin of ``store.require_model``).

    Raises:
        ModelNotFoundError: when it is not in the database.
    """
    found: Any = reader.execute(
        select(model.c.id).where(model.c.repo_id == repo_id)
    ).scalar_one_or_none()
    if found is None:
        raise ModelNotFoundError(repo_id)
    return int(found)


__all__ = ["UTCDateTime", "edge", "kinship", "kinship_job", "model", "recipe", "require_model_id"]
