"""The migrations produce exactly the schema the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from kinhub.db.engine import Database, current_revision, head_revision
from sqlmodel import SQLModel


def test_migrated_schema_matches_models(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_sqlite_uses_wal(tmp_path: object) -> None:
    from kinhub.db.engine import open_database

    db = open_database(f"sqlite:///{tmp_path}/x.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
