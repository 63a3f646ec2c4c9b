"""``kinhub ingest`` reads only regular files inside the folder: a README linking to a
key file and a config linking to ``/etc/passwd`` are skipped with a warning and stored
nowhere; links inside the folder and a Hugging Face cache snapshot still work."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

runner = CliRunner()

SECRET = "hf_SECRETKEYdonotstore0123456789"
RECIPE = "merge_method: slerp\nbase_model: org/base\nmodels:\n  - model: org/a\n  - model: org/b\n"


def _everything_stored(url: str) -> str:
    """Every value of every table, as one string."""
    database = open_database(url)
    try:
        meta = MetaData()
        meta.reflect(database.engine)
        with database.engine.connect() as conn:
            return "\n".join(
                repr(tuple(row))
                for table in meta.sorted_tables
                for row in conn.execute(select(table))
            )
    finally:
        database.dispose()


def _ingest(url: str, folder: Path, repo_id: str) -> tuple[dict, str]:
    result = runner.invoke(
        app, ["--db", url, "ingest", str(folder), "--repo-id", repo_id, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_links_out_of_the_folder_are_skipped(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "secrets" / "token"
    key.parent.mkdir()
    key.write_text(f"---\nbase_model: org/leaked\n---\n{SECRET}\n")
    outside_recipe = tmp_path / "elsewhere.yml"
    outside_recipe.write_text(RECIPE.replace("org/a", "org/outside"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").symlink_to(key)
    (model / "mergekit_config.yml").symlink_to("/etc/passwd")
    (model / "config.json").symlink_to(outside_recipe)
    (model / "weights.safetensors").symlink_to(key)
    os.mkfifo(model / "mergekit_moe_config.yml")  # not a regular file: never opened

    with caplog.at_level(logging.WARNING, logger="kinhub.crawler.ingest"):
        report, _ = _ingest(database_url, model, "org/linked")
    warned = {Path(r.getMessage().split(":")[0]).name: r.getMessage() for r in caplog.records}
    for name in ("README.md", "mergekit_config.yml", "config.json"):
        assert "links out of the folder" in warned[name]
    assert "not a regular file" in warned["mergekit_moe_config.yml"]
    assert report["parents"] == [] and report["edges"] == 0
    stored = _everything_stored(database_url)
    assert SECRET not in stored and "org/leaked" not in stored
    assert "root:" not in stored and "org/outside" not in stored


def test_links_inside_the_folder_and_a_cache_snapshot_are_read(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "model"
    (model / "docs").mkdir(parents=True)
    (model / "docs" / "recipe.yml").write_text(RECIPE)
    (model / "mergekit_config.yml").symlink_to("docs/recipe.yml")  # inside: fine
    report, _ = _ingest(database_url, model, "org/inside")
    assert set(report["parents"]) == {"org/base", "org/a", "org/b"}

    cache = tmp_path / "hub" / "models--org--cached"
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / "abc123").write_text(RECIPE.replace("org/a", "org/c"))
    snapshot = cache / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "mergekit_config.yml").symlink_to("../../blobs/abc123")
    with caplog.at_level(logging.WARNING, logger="kinhub.crawler.ingest"):
        report, _ = _ingest(database_url, snapshot, "org/cached")
    assert set(report["parents"]) == {"org/base", "org/c", "org/b"}
    assert not caplog.records
