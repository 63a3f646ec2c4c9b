"""`kinhub analyze gain` on both backends: the r numpy computes, the plot, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from typer.testing import CliRunner

from tests.kinship.gain_data import (
    add_merge_edges,
    add_model,
    add_scores,
    build_planted,
    expected_gain,
)

runner = CliRunner()


def test_gain_json_and_plot(database: Database, database_url: str, tmp_path: Path) -> None:
    planted = build_planted(database, n=30, slope=5.0, noise=0.6)
    plot = tmp_path / "gain.png"
    argv = ["--db", database_url, "analyze", "gain", "--format", "json", "--plot", str(plot)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["metrics"] == ["cs", "pcc", "ed"] and doc["sample_size"] == 30
    assert doc["plot"] == str(plot)
    gains = np.array([expected_gain(p) for p in planted])
    for metric in ("cs", "pcc", "ed"):
        xs = np.array([getattr(p, metric) for p in planted])
        got = doc["correlations"][metric]
        assert got["gain"]["r"] == pytest.approx(np.corrcoef(xs, gains)[0, 1], abs=1e-9)
        assert got["abs_gain"]["r"] == pytest.approx(np.corrcoef(xs, np.abs(gains))[0, 1], abs=1e-9)
        assert got["gain"]["n"] == 30 and 0.0 <= got["gain"]["p_value"] <= 1.0
    assert doc["correlations"]["pcc"]["gain"]["r"] > 0.8  # the planted positive slope
    merge = next(m for m in doc["merges"] if m["child"] == "merges/m-07")
    assert merge["gain"] == pytest.approx(expected_gain(planted[7]))
    assert merge["ingredients"] == ["org/a-07", "org/b-07"] and merge["base"] == "fam1/base"
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


def test_gain_one_metric_and_table(database: Database, database_url: str) -> None:
    build_planted(database, n=8)
    result = runner.invoke(
        app, ["--db", database_url, "analyze", "gain", "--metric", "ed", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["metrics"] == ["ed"] and list(doc["correlations"]) == ["ed"]
    assert doc["plot"] is None
    table = runner.invoke(app, ["--db", database_url, "analyze", "gain"])
    assert table.exit_code == 0, table.output
    assert "8 merges" in table.stdout and "pcc" in table.stdout


def test_gain_empty_database(database: Database, database_url: str) -> None:
    result = runner.invoke(app, ["--db", database_url, "analyze", "gain", "--format", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no merge to analyse"), result.stderr
    assert "found 0 merges" in lines[0]


def test_gain_merges_without_evaluations(database: Database, database_url: str) -> None:
    with database.session() as session:
        ids = [add_model(session, name) for name in ("x/base", "x/a", "x/b", "x/m")]
        add_merge_edges(session, ids[3], ids[1:3], ids[0])
        add_scores(session, ids[1], {"arc": 50.0})  # an ingredient's only
    result = runner.invoke(app, ["--db", database_url, "analyze", "gain", "--format", "json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "found 1 merges with two or more ingredients, 0 with evaluations" in result.stderr


def test_gain_unknown_metric(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    result = runner.invoke(app, ["--db", url, "analyze", "gain", "--metric", "kl"])
    assert result.exit_code == 2
    assert "'kl' is not one of" in result.stderr and "pcc" in result.stderr


def test_gain_plot_to_a_folder_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    result = runner.invoke(app, ["--db", url, "analyze", "gain", "--plot", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in " ".join(result.stderr.replace("│", " ").split())
