"""`kinhub ingest` and `kinhub lineage` on a generated multi-generation genealogy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.sandbox.hub import HubManifest, generate_hub
from sqlalchemy import text
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> HubManifest:
    return generate_hub(tmp_path_factory.mktemp("hub"), n_models=40, seed=3)


def _kinhub(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _ingest_all(url: str, hub: HubManifest) -> list[str]:
    outcomes = []
    for repo_id in hub.ids():
        folder = hub.root / repo_id
        if not folder.is_dir():  # parents that exist only as names
            continue
        out = _kinhub(url, "ingest", str(folder), "--repo-id", repo_id, "--format", "json")
        outcomes.append(json.loads(out)["outcome"])
    return outcomes


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    database = open_database(url)
    tables = ("model", "edge", "recipe", "evaluation")
    with database.engine.connect() as conn:
        dump = {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in tables
        }
    database.dispose()
    return dump


def test_ingest_twice_changes_nothing(database_url: str, hub: HubManifest) -> None:
    first = _ingest_all(database_url, hub)
    assert first and set(first) == {"new"}
    before = _dump(database_url)
    second = _ingest_all(database_url, hub)
    assert set(second) == {"unchanged"}
    assert _dump(database_url) == before
    assert len(before["edge"]) > len(first)


def test_lineage_of_a_third_generation_merge(database_url: str, hub: HubManifest) -> None:
    _ingest_all(database_url, hub)
    merges = {r.id: r for r in hub.repos.values() if r.kind == "merge"}

    def chain(repo_id: str, generation: int) -> bool:
        repo = merges.get(repo_id)
        if repo is None or repo.generation != generation:
            return False
        return generation == 1 or any(chain(p, generation - 1) for p in repo.parents)

    # A third-generation merge made from a second-generation one made from a first.
    merge3 = next(merges[m] for m in merges if chain(m, 3))

    data = json.loads(_kinhub(database_url, "lineage", merge3.id, "--format", "json"))
    assert data["root"] == merge3.id
    node_ids = {n["id"] for n in data["nodes"]}
    assert set(merge3.parents) <= node_ids
    # The walk reaches the foundations through three generations.
    assert {"found-a/base-7b", "found-b/base-7b"} & node_ids
    reached = {merges[n["id"]].generation for n in data["nodes"] if n["id"] in merges}
    assert reached == {1, 2, 3}
    first_hop = {e["parent"] for e in data["edges"] if e["child"] == merge3.id}
    assert first_hop == set(merge3.parents)
    for edge in data["edges"]:
        assert edge["relation"] and edge["role"] and edge["sources"]
        if edge["relation"] == "merge":
            assert edge["method"]

    shallow = json.loads(
        _kinhub(database_url, "lineage", merge3.id, "--depth", "1", "--format", "json")
    )
    assert {n["id"] for n in shallow["nodes"]} == {merge3.id, *merge3.parents}

    tree = _kinhub(database_url, "lineage", merge3.id)
    assert merge3.id in tree and all(p in tree for p in merge3.parents)

    down = json.loads(
        _kinhub(database_url, "lineage", "found-a/base-7b", "--down", "--format", "json")
    )
    assert merge3.id in {n["id"] for n in down["nodes"]} or "found-b/base-7b" in set(merge3.parents)


def test_lineage_engines_agree_via_cli(database_url: str, hub: HubManifest) -> None:
    _ingest_all(database_url, hub)
    for repo_id in hub.ids()[:12]:
        outs = [
            json.loads(
                _kinhub(
                    database_url, "lineage", repo_id, "--both", "--format", "json", "--engine", e
                )
            )
            for e in ("sql", "networkx")
        ]
        assert outs[0] == outs[1]


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path}/k.db", "lineage", "no/such-model"])
    assert result.exit_code == 1
    assert "not in the database" in result.output
