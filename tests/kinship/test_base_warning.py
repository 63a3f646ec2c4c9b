"""`kinhub kinship A B --base Z` warns, and records, when Z is not a common ancestor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.kinship_store import stored_metrics, stored_warnings
from kinhub.db.models import Kinship
from kinhub.sandbox.families import MergeFamily
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

runner = CliRunner()


@pytest.fixture(scope="module")
def family(merge_family: MergeFamily) -> MergeFamily:
    return merge_family  # shared by the session (tests/conftest.py): read only


def test_wrong_base_is_warned_and_recorded(
    database: Database,
    database_url: str,
    family: MergeFamily,
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    def kinship(a: str, b: str, base: str) -> tuple[dict[str, object], str]:
        args = ["--db", database_url, "kinship", a, b, "--base", base, "--format", "json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout), result.stderr

    with hub_emulator(family.root, set_endpoint=True) as emu:
        # Before the crawl the genealogy knows nothing: no warning.
        unknown, err = kinship("fam/ft-a", "fam/ft-b", "other/base")
        assert unknown["warnings"] == [] and "warning" not in err
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        wrong, err = kinship("fam/ft-a", "fam/ft-c", "other/base")
        right, right_err = kinship("fam/ft-a", "fam/ft-c", "fam/base")
        # Asked again: answered from the database, still warned.
        cached, cached_err = kinship("fam/ft-a", "fam/ft-c", "other/base")
        # A model cannot be the base of itself.
        itself, _ = kinship("m1/ties", "fam/ft-a", "m1/ties")
    expected = (
        "other/base is not a common ancestor of fam/ft-a and fam/ft-c in the stored "
        "genealogy; measured against an unrelated base the numbers mean little"
    )
    assert wrong["warnings"] == [expected]
    assert "warning:" in err and "other/base is not a common ancestor" in err
    assert right["warnings"] == [] and "warning" not in right_err
    assert cached["cached"] is True and cached["warnings"] == [expected]
    assert "not a common ancestor" in cached_err
    assert itself["warnings"] and "m1/ties is not a common ancestor" in itself["warnings"][0]
    with database.session() as session:
        rows = {(r.model_a, r.model_b, r.base): r for r in session.exec(select(Kinship))}
    stored = rows[("fam/ft-a", "fam/ft-c", "other/base")]
    assert stored_warnings(stored) == [expected]
    assert "warnings" not in stored_metrics(stored)  # not a metric
    assert stored_warnings(rows[("fam/ft-a", "fam/ft-c", "fam/base")]) == []
    assert stored_warnings(rows[("fam/ft-a", "fam/ft-b", "other/base")]) == []
