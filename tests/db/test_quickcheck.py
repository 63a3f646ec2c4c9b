"""The quick "already at head?" check agrees with Alembic and never guesses."""

from __future__ import annotations

from pathlib import Path

from kinhub.db.engine import Database, create_db_engine, head_revision
from kinhub.db.quickcheck import at_head, shipped_head
from sqlalchemy import text


def test_shipped_head_is_alembics_head() -> None:
    assert shipped_head() is not None
    assert shipped_head() == head_revision()


def test_migrated_database_is_at_head(database: Database) -> None:
    assert at_head(database.engine) == head_revision()


def test_older_revision_is_not_at_head(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert at_head(database.engine) is None


def test_empty_database_is_unknown(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert at_head(engine) is None
    finally:
        engine.dispose()


def _script(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(body + "\n\ndef upgrade() -> None:\n    pass\n", encoding="utf-8")


def test_scripts_it_cannot_read_mean_unknown(tmp_path: Path) -> None:
    _script(tmp_path, "a.py", 'revision = "a"\ndown_revision = None')
    _script(tmp_path, "b.py", 'revision: str = "b"\ndown_revision: str | None = "a"')
    assert shipped_head(tmp_path) == "b"
    # A revision computed at import time cannot be read without running the script.
    _script(tmp_path, "c.py", 'revision = "c".upper()\ndown_revision = "b"')
    assert shipped_head(tmp_path) is None
    (tmp_path / "c.py").unlink()
    # Two heads (a branch): Alembic decides.
    _script(tmp_path, "d.py", 'revision = "d"\ndown_revision = "a"')
    assert shipped_head(tmp_path) is None
    # A merge point joins them again.
    _script(tmp_path, "e.py", 'revision = "e"\ndown_revision = ("b", "d")')
    assert shipped_head(tmp_path) == "e"
