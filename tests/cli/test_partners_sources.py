"""`kinhub partners` says where each kinship comes from (measured, estimated,
missing) and answers the same database the same way twice (issue 17), both backends."""

from __future__ import annotations

import json

from kinhub.cli.app import app
from typer.testing import CliRunner

from tests.cli.test_partners_cmd import hub_root, url  # noqa: F401  (fixtures)

runner = CliRunner()
SOURCES = {"exact": "measured", "sampled": "estimated", "pending": "missing", "failed": "missing"}


def _run(db: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", db, "partners", "fam/ft-a", "--top", "8", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_sources_marked_and_two_runs_identical(url: str) -> None:  # noqa: F811
    # Nothing measured yet: every kinship is missing, and queueing twice changes nothing.
    first = json.loads(_run(url, "--compute", "none", "--format", "json"))
    assert first["candidates"]
    assert {c["kinship_source"] for c in first["candidates"]} == {"missing"}
    assert json.loads(_run(url, "--compute", "none", "--format", "json")) == first
    table = " ".join(_run(url, "--compute", "none").split())  # wrapped at 80 columns
    assert "? pending" in table and "? missing" in table
    # Measured now (sampled), then answered from the database: the same answer.
    measured = json.loads(_run(url, "--format", "json"))
    for c in measured["candidates"]:
        assert c["kinship_source"] == SOURCES[c["kinship"]["mode"]]
    sources = {c["kinship_source"] for c in measured["candidates"]}
    assert "estimated" in sources and "missing" in sources  # the gated one stays pending
    ranks = [c["kinship_source"] == "missing" for c in measured["candidates"]]
    assert ranks == sorted(ranks)  # missing ones last
    assert json.loads(_run(url, "--format", "json")) == measured
    assert _run(url) == _run(url)
    shown = " ".join(_run(url).split())
    assert "≈ 0." in shown and "≈ estimated" in shown
    assert "None" not in shown
