"""Opening a database: URL resolution, SQLite pragmas, and automatic migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from kinhub.db.config import default_database_url
from kinhub.db.errors import DatabaseError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_lock key that serialises concurrent migrations ("kinhub" in ASCII).
_MIGRATION_LOCK_KEY = 0x6B696E687562


@dataclass
class Database:
    """An open kinhub database: an engine plus a session factory."""

    url: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` with kinhub's settings (SQLite: WAL, foreign keys).

    Raises:
        DatabaseError: the URL is malformed or names an unsupported backend.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise DatabaseError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest migration this code ships."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str | None:
    """Apply pending migrations; safe to call from several processes at once.

    Returns the revision the database is at afterwards.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return head
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            # Take the write lock first so a concurrent opener waits, then re-checks.
            conn.exec_driver_sql("BEGIN IMMEDIATE") if not conn.in_transaction() else None
        if MigrationContext.configure(conn).get_current_revision() != head:
            logger.info("migrating database to %s", head)
            command.upgrade(_alembic_config(conn), "head")
    return head


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Open (and by default migrate) the database at ``url``.

    ``None`` means ``$KINHUB_DB`` or the SQLite file in the user's data directory.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """
    resolved = url or default_database_url()
    engine = create_db_engine(resolved)
    try:
        if migrate:
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise DatabaseError(
            f"cannot open database {make_url(resolved).render_as_string(hide_password=True)}: "
            f"{exc.orig}"
        ) from exc
    return Database(url=resolved, engine=engine)
