"""Named run locks so two scheduled runs never overlap.

PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection
held for the whole run; the server drops it when that connection dies, so a
killed process never leaves it behind.  SQLite: a ``run_lock`` row with an
expiry; a row whose expiry has passed, or whose owner was a process of this
host that no longer exists (killed), may be taken over.
Both are released in ``finally`` by :func:`run_lock`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from kinhub.db.engine import Database
from kinhub.db.errors import LockHeldError
from kinhub.db.models import RunLock
from kinhub.db.timeutil import utcnow
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 6 * 3600.0


def default_owner() -> str:
    """``host:pid:random`` — unique per acquisition, readable in the lock row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.sha256(f"kinhub-lock:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class HeldLock:
    """A lock this process holds; :meth:`release` is idempotent."""

    def __init__(
        self, database: Database, name: str, owner: str, connection: Connection | None
    ) -> None:
        self.database = database
        self.name = name
        self.owner = owner
        self._connection = connection
        self.released = False

    def refresh(self, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        """Push a SQLite lock's expiry forward (long runs); no-op on PostgreSQL."""
        if self._connection is not None or self.released:
            return
        with self.database.session() as session:
            session.execute(
                update(RunLock)
                .where(col(RunLock.name) == self.name, col(RunLock.owner) == self.owner)
                .values(expires_at=utcnow() + timedelta(seconds=ttl_s))
            )

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(self.name)}
                )
                self._connection.commit()
            finally:
                self._connection.close()
            return
        with self.database.session() as session:
            session.execute(
                delete(RunLock).where(
                    col(RunLock.name) == self.name, col(RunLock.owner) == self.owner
                )
            )


def _acquire_postgres(database: Database, name: str, owner: str) -> HeldLock:
    connection = database.engine.connect()
    try:
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(name)}
        ).scalar()
        # End the implicit transaction; the session-level lock outlives it.
        connection.commit()
    except BaseException:
        connection.close()
        raise
    if not got:
        connection.close()
        raise LockHeldError(name)
    return HeldLock(database, name, owner, connection)


def _owner_is_dead(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:…``) names a process of this host that has exited."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _acquire_sqlite(database: Database, name: str, owner: str, ttl_s: float) -> HeldLock:
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    try:
        with database.session() as session:
            session.add(RunLock(name=name, owner=owner, acquired_at=now, expires_at=expires))
        return HeldLock(database, name, owner, None)
    except IntegrityError:
        pass
    # The row exists: take it over only if its owner let it expire or died (a
    # killed run on this host), comparing-and-swapping on the old owner.
    with database.session() as session:
        holder = _sqlite_holder(session, name)
    stale = holder is not None and _owner_is_dead(holder)
    with database.session() as session:
        condition = col(RunLock.owner) == holder if stale else col(RunLock.expires_at) < now
        result = session.execute(
            update(RunLock)
            .where(col(RunLock.name) == name, condition)
            .values(owner=owner, acquired_at=now, expires_at=expires)
        )
        taken = getattr(result, "rowcount", 0) == 1
    if not taken:
        raise LockHeldError(name, holder)
    logger.warning("took over the lock %r from %s (expired or exited)", name, holder)
    return HeldLock(database, name, owner, None)


def _sqlite_holder(session: Session, name: str) -> str | None:
    row = session.get(RunLock, name)
    return row.owner if row is not None else None


def acquire(
    database: Database, name: str, *, owner: str | None = None, ttl_s: float = DEFAULT_TTL_S
) -> HeldLock:
    """Take the lock ``name`` without waiting.

    Raises:
        LockHeldError: another run holds it.
    """
    owner = owner or default_owner()
    if database.dialect == "postgresql":
        return _acquire_postgres(database, name, owner)
    return _acquire_sqlite(database, name, owner, ttl_s)


@contextmanager
def run_lock(
    database: Database, name: str, *, owner: str | None = None, ttl_s: float = DEFAULT_TTL_S
) -> Iterator[HeldLock]:
    """Hold ``name`` for the ``with`` block; released in ``finally``.

    Raises:
        LockHeldError: another run holds it (raised before the block runs).
    """
    lock = acquire(database, name, owner=owner, ttl_s=ttl_s)
    try:
        yield lock
    finally:
        lock.release()


def is_locked(database: Database, name: str) -> bool:
    """Whether some run holds ``name`` right now (a probe; takes nothing)."""
    if database.dialect == "postgresql":
        try:
            probe = _acquire_postgres(database, name, "probe")
        except LockHeldError:
            return True
        probe.release()
        return False
    with database.session() as session:
        row = session.get(RunLock, name)
        if row is None:
            return False
        expires = row.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=utcnow().tzinfo)
        return expires > utcnow()
