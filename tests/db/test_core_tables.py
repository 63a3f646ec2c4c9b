"""The Core views of db.core_tables agree with the SQLModel tables they mirror."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kinhub.db import core_tables
from kinhub.db.answers.edge_kinship import DONE, EDGE_JOB
from kinhub.db.engine import Database
from kinhub.db.errors import ModelNotFoundError
from kinhub.db.jobs.keys import JobKind, JobStatus
from kinhub.db.models import Edge, Kinship, KinshipJob, Model, Recipe
from sqlalchemy import select
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

MIRRORS = {
    core_tables.model: Model,
    core_tables.edge: Edge,
    core_tables.recipe: Recipe,
    core_tables.kinship: Kinship,
    core_tables.kinship_job: KinshipJob,
}


def _kind(sql_type: TypeEngine[Any]) -> type:
    """The generic type under any decorator (AutoString → String, …)."""
    return type(sql_type.impl if isinstance(sql_type, TypeDecorator) else sql_type)


@pytest.mark.parametrize("view", list(MIRRORS), ids=lambda t: t.name)
def test_every_column_exists_with_the_same_type(view: object) -> None:
    orm: type[SQLModel] = MIRRORS[view]  # type: ignore[index]
    orm_table = orm.__table__  # type: ignore[attr-defined]
    assert view.name == orm_table.name  # type: ignore[attr-defined]
    for column in view.c:  # type: ignore[attr-defined]
        assert column.name in orm_table.c, f"{view.name}.{column.name}"  # type: ignore[attr-defined]
        stored = orm_table.c[column.name].type
        # (a BIGINT column reads as the same ints as INTEGER)
        assert issubclass(_kind(stored), _kind(column.type)), column.name
        if isinstance(stored, UTCDateTime):
            assert isinstance(column.type, core_tables.UTCDateTime), column.name


def test_job_constants_match_the_enums() -> None:
    assert JobKind.edge.value == EDGE_JOB
    assert JobStatus.done.value == DONE


def test_core_rows_read_like_orm_rows(database: Database) -> None:
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    with database.session() as session:
        session.add(Model(repo_id="o/m", last_modified=stamp, architectures=["LlamaForCausalLM"]))
    with database.session() as session:
        orm_row = session.scalars(select(Model).where(Model.repo_id == "o/m")).one()
    with database.connection() as conn:
        core_row = conn.execute(
            select(core_tables.model).where(core_tables.model.c.repo_id == "o/m")
        ).one()
        assert core_tables.require_model_id(conn, "o/m") == orm_row.id
        with pytest.raises(ModelNotFoundError):
            core_tables.require_model_id(conn, "o/missing")
    for column in core_tables.model.c:
        assert getattr(core_row, column.name) == getattr(orm_row, column.name), column.name
    assert core_row.last_modified == stamp and core_row.last_modified.tzinfo is not None
    assert core_row.architectures == ["LlamaForCausalLM"]
