"""A 1,000-deep genealogy and an absurd ``--depth`` (issue 16): ``lineage`` answers
in every format and on both engines, without RecursionError or OverflowError, and the
tree stays within 80 columns. Real SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.records import EdgeRecord, ModelRecord
from kinhub.db.store import upsert_model
from typer.testing import CliRunner

runner = CliRunner()
DEPTH = 1000


def chain_id(i: int) -> str:
    return f"chain/m{i:04d}"


@pytest.fixture
def chain(database: Database, database_url: str) -> str:
    """chain/m1000 → chain/m0999 → … → chain/m0000, each a fine-tune of the next."""
    with database.session() as s:
        for i in range(DEPTH + 1):
            edges = [EdgeRecord(chain_id(i - 1), "finetune", "parent", "card_metadata")]
            upsert_model(s, ModelRecord(repo_id=chain_id(i), sha=f"{i:040x}", edges=edges[: i > 0]))
    return database_url


def _lineage(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", url, "lineage", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_thousand_deep_tree_renders(chain: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for engine in ("sql", "networkx"):
        up = _lineage(chain, chain_id(DEPTH), "--engine", engine)
        lines = up.splitlines()
        # One line per model: deep lines show their depth, not 4,000 columns of guides.
        assert len(lines) == DEPTH + 1
        assert max(len(line) for line in lines) <= 80
        assert lines[-1].startswith(f"‹{DEPTH}› ") and chain_id(0) in lines[-1]
        down = _lineage(chain, chain_id(0), "--down", "--engine", engine)
        assert [chain_id(i) in line for i, line in enumerate(down.splitlines())] == [True] * (
            DEPTH + 1
        )


def test_huge_depth_means_all(chain: str) -> None:
    for engine in ("sql", "networkx"):
        for depth in (str(10**20), str(2**63), str(2**31)):
            doc = json.loads(
                _lineage(
                    chain, chain_id(DEPTH), "--depth", depth, "--engine", engine, "--format", "json"
                )
            )
            assert len(doc["nodes"]) == DEPTH + 1
            assert max(n["depth"] for n in doc["nodes"]) == DEPTH
        tree = _lineage(chain, chain_id(500), "--both", "--depth", str(10**20), "--engine", engine)
        assert chain_id(0) in tree and chain_id(DEPTH) in tree
