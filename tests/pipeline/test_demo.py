"""`kinhub demo` runs the whole pipeline offline, and a second run is incremental."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.answers.lineage import lineage_networkx
from kinhub.db.engine import open_database
from typer.testing import CliRunner


def test_demo_end_to_end_then_incremental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's Hugging Face cache: the demo must leave it alone.
    user_hf_home = tmp_path / "user-hf-home"
    user_hf_home.mkdir()
    monkeypatch.setenv("HF_HOME", str(user_hf_home))
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    url = f"sqlite:///{tmp_path / 'kinhub.db'}"
    args = [
        "--db",
        url,
        "demo",
        "--models",
        "60",
        "--hub-dir",
        str(tmp_path / "hub"),
        "--format",
        "json",
    ]
    runner = CliRunner()

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["crawl"]["new"] > 30 and data["crawl"]["edges_added"] > 100
    # The database the user named is the one used, and the one the next commands name.
    assert data["database"] == url
    assert [c.split()[:2] for c in data["next_commands"]][-2:] == [
        [f"KINHUB_DB={url}", "kinhub"],
        [f"KINHUB_DB={url}", "kinhub"],
    ]
    lineage = data["lineage"]
    assert len(lineage["nodes"]) >= 4 and any(e["role"] == "base" for e in lineage["edges"])
    kinship = data["kinship"]
    assert set(kinship["metrics"]) == {"cs", "pcc", "ed"} and kinship["params_compared"] > 0
    # Two ingredients of a merge against its base: a pair job the worker already
    # measured, so the hand-run kinship is answered from its stored row.
    assert kinship["cached"] is True and kinship["bytes_read"] == 0
    # The worker computed what the crawl queued; the lineage's merge edges show it.
    worker = data["worker"]
    assert worker["done"] == data["crawl"]["jobs_queued"] - worker["failed"] > 50
    merge_edges = [e for e in lineage["edges"] if e["relation"] == "merge"]
    measured = [e for e in merge_edges if e.get("kinship")]
    assert measured and {"cs", "pcc", "ed", "base", "mode"} <= set(measured[0]["kinship"])

    # Everything stayed in the demo's directory, which the output names.
    assert sorted(user_hf_home.iterdir()) == []
    assert os.environ["HF_HOME"] == str(user_hf_home)
    assert os.environ["HF_TOKEN"] == "hf_not_a_real_token"
    demo_dir = (tmp_path / "hub").resolve()
    assert data["directory"] == str(demo_dir) and data["hf_home"] == str(demo_dir / "hf_home")
    downloaded = [p for p in Path(data["hf_home"]).rglob("*") if p.is_file()]
    # The crawl reads cards without the cache; the kinship step's weights land here.
    assert any(p.suffix == ".safetensors" for p in downloaded)

    # The stored genealogy answers the same lineage from the database.
    database = open_database(url)
    with database.session() as session:
        again = lineage_networkx(session, lineage["root"], direction="up")
    database.dispose()
    assert {n.id for n in again.nodes} == {n["id"] for n in lineage["nodes"]}

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    rerun = json.loads(second.stdout)
    assert rerun["crawl"]["new"] == 0 and rerun["crawl"]["files_downloaded"] == 0
    assert rerun["crawl"]["jobs_queued"] == 0 and rerun["worker"]["claimed"] == 0
    assert rerun["kinship"]["cached"] is True
    assert rerun["kinship"]["metrics"] == kinship["metrics"]
