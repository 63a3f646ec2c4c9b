"""Shared fixtures: real databases on both backends, a clean Hub environment."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.db.engine import Database, open_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("KINHUB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _hub_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's HF cache or token, or phones home."""
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("KINHUB_DB", raising=False)
    monkeypatch.setenv("KINHUB_HOME", str(home / "kinhub"))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the local PostgreSQL; fails (not skips) when CI=true."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


def _fresh_postgres(admin_url: str) -> Iterator[str]:
    name = f"kinhub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kinhub.db'}"
        return
    admin = request.getfixturevalue("postgres_server")
    yield from _fresh_postgres(admin)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    try:
        yield db
    finally:
        db.dispose()
