"""Opening a database: URL resolution, SQLite pragmas, write locks and migrations.

Every way a database can fail to open — a malformed URL, a server that does not
answer, a database that does not exist, a SQLite folder that is not there —
becomes one :class:`DatabaseError` with a one-line message (password hidden).

SQLite and write locks: the ``sqlite3`` driver's legacy transaction mode begins
a transaction only at the first INSERT/UPDATE/DELETE, so a "read, then decide,
then write" sequence is not atomic, and ``BEGIN IMMEDIATE`` cannot be issued
through SQLAlchemy's ``begin()``.  Ordinary sessions keep that mode (it is the
one least prone to "database is locked" between a reader and a writer);
:meth:`Database.write_transaction` runs on a second engine that takes over
transaction control (SQLAlchemy's documented pysqlite recipe: driver
``isolation_level=None``, ``BEGIN IMMEDIATE`` emitted on the ``begin`` event),
so the write lock is held from the first statement to the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinhub.db.config import default_database_url, default_sqlite_path
from kinhub.db.errors import DatabaseError
from kinhub.db.quickcheck import at_head
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

if TYPE_CHECKING:
    # Imported where sessions are made: the ORM (SQLModel, pydantic) costs a few
    # hundred milliseconds of start-up that Core-only commands need not pay.
    from sqlmodel import Session

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_lock key that serialises concurrent migrations ("kinhub" in ASCII).
_MIGRATION_LOCK_KEY = 0x6B696E687562
# How long a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30


def safe_url(url: str | URL) -> str:
    """``url`` with its password hidden (for messages and output)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<invalid database URL>"
    return parsed.render_as_string(hide_password=True)


def _driver_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the database cannot be used", unwrapped ones included."""
    import sqlite3

    errors: list[type[BaseException]] = [DBAPIError, sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # PostgreSQL support is optional
        pass
    return tuple(errors)


def connection_error(
    url: str | URL, exc: BaseException, *, doing: str = "cannot open database"
) -> DatabaseError:
    """One-line :class:`DatabaseError` for a failure to reach or use ``url``."""
    orig = getattr(exc, "orig", None) or exc
    message = " ".join(str(orig).split()) or type(orig).__name__
    password = None
    with suppress(ArgumentError):
        password = (make_url(url) if isinstance(url, str) else url).password
    if password:
        message = message.replace(str(password), "***")
    return DatabaseError(f"{doing} {safe_url(url)}: {message}")


@contextmanager
def _reported(url: str | URL) -> Iterator[None]:
    """Turn driver errors raised inside the block into one-line DatabaseErrors."""
    try:
        yield
    except _driver_errors() as exc:
        raise connection_error(url, exc) from exc


@dataclass
class Database:
    """An open kinhub database: an engine plus session factories."""

    url: str
    engine: Engine
    _writer: Engine | None = field(default=None, repr=False)
    _writer_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection (no ORM imported) whose transaction commits on success
        and rolls back on error."""
        with self.engine.begin() as conn:
            yield conn

    def write_engine(self) -> Engine:
        """The engine whose transactions take the write lock first (SQLite); the
        ordinary engine on PostgreSQL, where row locks do that job."""
        if self.dialect != "sqlite":
            return self.engine
        with self._writer_lock:
            if self._writer is None:
                self._writer = _sqlite_write_engine(self.engine.url)
            return self._writer

    @contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """A session whose whole transaction is serialised against other writers.

        SQLite: ``BEGIN IMMEDIATE`` runs before the block starts, so this
        process holds the database's write lock from its first read to the
        commit; another process's ``write_transaction`` (or any write) waits
        for it (up to the busy timeout).  PostgreSQL: an ordinary transaction —
        lock the rows you claim with ``SELECT … FOR UPDATE SKIP LOCKED``.
        Commits on success, rolls back on error.

        Raises:
            DatabaseError: the lock could not be taken within the busy timeout,
                or the database cannot be reached.
        """
        from sqlmodel import Session

        with Session(self.write_engine(), expire_on_commit=False) as session:
            try:
                try:
                    session.connection()  # begins now: on SQLite, takes the write lock
                except _driver_errors() as exc:
                    doing = "cannot take the write lock of"
                    raise connection_error(self.url, exc, doing=doing) from exc
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
        with self._writer_lock:
            if self._writer is not None:
                self._writer.dispose()
                self._writer = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_writer_connect(dbapi_connection: Any, record: Any) -> None:
    # The driver must not issue BEGIN itself; ``_sqlite_begin_immediate`` does.
    dbapi_connection.isolation_level = None
    _sqlite_pragmas(dbapi_connection, record)


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_write_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_writer_connect)
    event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_folder(database: str) -> None:
    """Create the default database's folder; refuse any other missing folder."""
    path = Path(database).expanduser()
    folder = path.parent
    if folder.is_dir():
        return
    if path.absolute() == default_sqlite_path().expanduser().absolute():
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise DatabaseError(
        f"cannot open database sqlite:///{database}: folder {folder} does not exist"
    )


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` with kinhub's settings (SQLite: WAL, foreign keys).

    Only the default SQLite location gets its folders created; an explicit path
    whose folder is missing is refused (a typo must not create an empty database).

    Raises:
        DatabaseError: the URL is malformed, names an unsupported backend, or a
            SQLite folder that does not exist.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if (
            parsed.database
            and parsed.database != ":memory:"
            and not parsed.database.startswith("file:")
        ):
            _sqlite_folder(parsed.database)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ImportError as exc:
            raise DatabaseError(f"PostgreSQL driver not installed: {exc}") from exc
    raise DatabaseError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at (None: never migrated).

    Raises:
        DatabaseError: the database cannot be reached.
    """
    with _reported(engine.url), engine.connect() as conn:
        return _revision(conn)


def upgrade(engine: Engine) -> str | None:
    """Apply pending migrations; safe to call from several processes at once.

    The migration runs in one transaction that holds the write lock from the
    start (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory transaction lock),
    so a concurrent opener waits, then finds the database migrated.

    Returns the revision the database is at afterwards.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """
    if (known := at_head(engine)) is not None:
        return known  # the usual case, answered without importing Alembic
    head = head_revision()
    if current_revision(engine) == head:
        return head
    sqlite = engine.dialect.name == "sqlite"
    writer = _sqlite_write_engine(engine.url) if sqlite else engine
    try:
        with _reported(engine.url), writer.begin() as conn:
            if not sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            if _revision(conn) != head:
                from alembic import command

                logger.info("migrating database to %s", head)
                command.upgrade(_alembic_config(conn), "head")
    finally:
        if sqlite:
            writer.dispose()
    return head


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Open (and by default migrate) the database at ``url``; checks it answers.

    ``None`` means ``$KINHUB_DB`` or the SQLite file in the user's data directory.

    Raises:
        DatabaseError: the database cannot be reached or migrated (one line).
    """
    resolved = url or default_database_url()
    engine = create_db_engine(resolved)
    try:
        if migrate:
            upgrade(engine)
        else:
            current_revision(engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(url=resolved, engine=engine)
