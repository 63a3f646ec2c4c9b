"""Opening databases: one-line errors, folder rules, and a real SQLite write lock."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from kinhub.db.config import default_sqlite_path
from kinhub.db.crawl_state import record_run
from kinhub.db.engine import Database, current_revision, head_revision, open_database
from kinhub.db.errors import DatabaseError
from kinhub.db.models import CrawlRun
from sqlalchemy import func
from sqlmodel import col, select

NO_SUCH_DB = "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/no_such_db_xyz"
CLOSED_PORT = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/kinhub"


def _runs(session: Any, kind: str) -> int:
    query = select(func.count(col(CrawlRun.id))).where(CrawlRun.kind == kind)
    return int(session.exec(query).one())


# -- connection failures -------------------------------------------------------------------


@pytest.mark.parametrize("url", [NO_SUCH_DB, CLOSED_PORT], ids=["no-database", "closed-port"])
@pytest.mark.parametrize("migrate", [True, False])
def test_unreachable_postgres_is_one_line(postgres_server: str, url: str, migrate: bool) -> None:
    with pytest.raises(DatabaseError) as caught:
        open_database(url, migrate=migrate)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot open database postgresql+psycopg://postgres:***@")
    assert "s3cret" not in message


def test_current_revision_raises_database_error(postgres_server: str) -> None:
    from kinhub.db.engine import create_db_engine

    engine = create_db_engine(NO_SUCH_DB)
    with pytest.raises(DatabaseError, match="no_such_db_xyz"):
        current_revision(engine)
    engine.dispose()


def test_sqlite_unable_to_open(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(DatabaseError, match="unable to open"):
        open_database(f"sqlite:///{folder}")  # a directory, not a file


# -- folders ---------------------------------------------------------------------------


def test_explicit_sqlite_path_needs_its_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(DatabaseError, match=f"folder {missing} does not exist"):
        open_database(f"sqlite:///{missing / 'x.db'}")
    assert not (tmp_path / "no").exists()


def test_default_location_gets_its_folders() -> None:
    path = default_sqlite_path()
    assert not path.parent.exists()  # KINHUB_HOME points into a fresh tmp dir
    database = open_database()
    database.dispose()
    assert path.is_file()


# -- write transactions --------------------------------------------------------------------


def test_write_transaction_commits_and_rolls_back(database: Database) -> None:
    with database.write_transaction() as session:
        record_run(session, kind="kept", scope="", status="ok", counts={})
    with pytest.raises(RuntimeError), database.write_transaction() as session:
        record_run(session, kind="dropped", scope="", status="ok", counts={})
        raise RuntimeError("boom")
    with database.session() as session:
        assert _runs(session, "kept") == 1
        assert _runs(session, "dropped") == 0


def test_readers_are_not_blocked_by_a_write_transaction(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with database.write_transaction() as writer:
            record_run(writer, kind="pending", scope="", status="ok", counts={})
            with database.session() as reader:  # WAL: reads the last committed state
                assert _runs(reader, "pending") == 0
        with database.session() as reader:
            assert _runs(reader, "pending") == 1
    finally:
        database.dispose()


def _holder(url: str, holding: Any, trying: Any, out: Any) -> None:
    """Process 1: take the write transaction, write, wait until 2 tries, commit."""
    database = open_database(url)
    with database.write_transaction() as session:
        record_run(session, kind="first", scope="", status="ok", counts={})
        session.flush()
        holding.set()
        trying.wait(60)
        time.sleep(0.5)  # let process 2 reach BEGIN IMMEDIATE
        out.put(("committing", time.time()))
    database.dispose()


def _waiter(url: str, holding: Any, trying: Any, out: Any) -> None:
    """Process 2: once 1 holds the lock, open a write transaction and look around."""
    database = open_database(url)
    holding.wait(60)
    out.put(("trying", time.time()))
    trying.set()
    with database.write_transaction() as session:
        out.put(("entered", time.time()))
        out.put(("seen", _runs(session, "first")))
        record_run(session, kind="second", scope="", status="ok", counts={})
    database.dispose()


def test_sqlite_write_transactions_do_not_interleave(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    open_database(url).dispose()  # migrated before either process starts
    ctx = multiprocessing.get_context("spawn")
    holding, trying, out = ctx.Event(), ctx.Event(), ctx.Queue()
    first = ctx.Process(target=_holder, args=(url, holding, trying, out))
    second = ctx.Process(target=_waiter, args=(url, holding, trying, out))
    first.start()
    second.start()
    first.join(120)
    second.join(120)
    assert first.exitcode == 0 and second.exitcode == 0
    events = dict(out.get(timeout=10) for _ in range(4))
    # Process 2 asked for the lock while 1 held it, and got in only after 1
    # committed: its transaction saw 1's row from its very first read.
    assert events["trying"] < events["committing"] <= events["entered"]
    assert events["seen"] == 1
    database = open_database(url)
    with database.session() as session:
        order = list(session.exec(select(CrawlRun.kind).order_by(col(CrawlRun.id))))
    database.dispose()
    assert order == ["first", "second"]


def _open_and_report(url: str, start: Any, out: Any) -> None:
    start.wait(60)
    database = open_database(url)
    out.put(current_revision(database.engine))
    database.dispose()


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    openers = [ctx.Process(target=_open_and_report, args=(url, start, out)) for _ in range(3)]
    for process in openers:
        process.start()
    start.set()
    for process in openers:
        process.join(120)
    assert [p.exitcode for p in openers] == [0, 0, 0]
    assert {out.get(timeout=10) for _ in openers} == {head_revision()}
