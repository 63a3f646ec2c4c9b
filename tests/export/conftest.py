"""Fixtures: the known family on both backends, and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database, open_database
from typer.testing import CliRunner

from tests.export.family import write_family


@pytest.fixture
def family_url(database_url: str) -> Iterator[str]:
    """A database (SQLite and PostgreSQL) holding the family of ``tests/export/family.py``."""
    database = open_database(database_url)
    try:
        write_family(database)
    finally:
        database.dispose()
    yield database_url


@pytest.fixture
def family_db(family_url: str) -> Iterator[Database]:
    database = open_database(family_url)
    try:
        yield database
    finally:
        database.dispose()


class Kinhub:
    """Runs ``kinhub --db URL …`` in-process and parses what it prints."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def run(self, *args: str) -> Any:
        return self.runner.invoke(app, ["--db", self.url, *args])

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args))

    def fails(self, *args: str) -> str:
        """The one-line error of a command that must fail with exit code 1."""
        result = self.run(*args)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        return lines[0]
