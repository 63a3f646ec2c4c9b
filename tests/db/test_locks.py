"""Run locks on both backends: one holder at a time; an expired lock, or one held by a
process of this host that has exited, is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from kinhub.db.engine import Database
from kinhub.db.errors import LockHeldError
from kinhub.db.locks import acquire, is_locked, run_lock
from kinhub.db.models import RunLock
from kinhub.db.timeutil import utcnow


def test_lock_excludes_a_second_holder(database: Database) -> None:
    with run_lock(database, "job") as held:
        assert is_locked(database, "job")
        with pytest.raises(LockHeldError):
            acquire(database, "job")
        # Other names are independent.
        with run_lock(database, "other"):
            pass
        held.refresh(ttl_s=60)
    assert not is_locked(database, "job")
    acquire(database, "job").release()


def test_expired_sqlite_lock_is_taken_over(tmp_path: Path) -> None:
    from kinhub.db.engine import open_database

    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with database.session() as session:
            session.add(
                RunLock(name="job", owner="crashed:1", expires_at=utcnow() - timedelta(seconds=1))
            )
        lock = acquire(database, "job", owner="me")
        with database.session() as session:
            assert session.get(RunLock, "job").owner == "me"  # type: ignore[union-attr]
        lock.release()
        with database.session() as session:
            assert session.get(RunLock, "job") is None
    finally:
        database.dispose()


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    from kinhub.db.engine import open_database

    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True)  # fmt: skip
        owner = f"{socket.gethostname()}:{dead.stdout.strip()}:abc"
        with database.session() as session:
            session.add(RunLock(name="job", owner=owner, expires_at=utcnow() + timedelta(hours=1)))
        acquire(database, "job", owner="me").release()
        # A live owner keeps it.
        live = f"{socket.gethostname()}:{os.getpid()}:x"
        with run_lock(database, "job", owner=live), pytest.raises(LockHeldError):
            acquire(database, "job")
    finally:
        database.dispose()
