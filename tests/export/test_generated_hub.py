"""The whole-genealogy export of a generated hub agrees with the lineage walk, edge by edge.

The streaming export groups evidence itself (it never builds the lineage); this keeps the
two views of one edge the same on a three-generation hub with every kind of relation.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from kinhub.db.answers.export_graph import Selection
from kinhub.db.answers.lineage import lineage_sql
from kinhub.db.engine import Database
from kinhub.export.service import ExportFormat, export_genealogy
from kinhub.sandbox.hub import HubManifest, generate_hub

from tests.crawler.crawl_support import ingest_folders


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> HubManifest:
    return generate_hub(tmp_path_factory.mktemp("hub"), n_models=60, seed=11, weights=False)


def test_whole_export_edges_match_the_lineage_of_every_model(
    database: Database, hub: HubManifest
) -> None:
    folders = [r for r in hub.ids() if (hub.root / r).is_dir()]
    ingest_folders(database, hub.root, folders)
    out = io.StringIO()
    with database.session() as session:
        export_genealogy(session, selection=Selection(), fmt=ExportFormat.json, out=out)
        data = json.loads(out.getvalue())
        exported = {
            (e["source"], e["target"], e["relation"], e["role"]): (
                e.get("method"),
                e["sources"],
                json.loads(e.get("parameters", "{}")),
            )
            for e in data["edges"]
        }
        walked = {}
        for repo_id in folders:
            for e in lineage_sql(session, repo_id, direction="up", depth=1).edges:
                walked[(e.child, e.parent, e.relation, e.role)] = (
                    e.method,
                    ", ".join(e.sources),
                    e.parameters,
                )
    assert len(exported) == len(data["edges"])  # one edge per (child, parent, relation, role)
    assert exported == walked
    assert {r for _c, _p, r, _role in exported} == {
        "merge",
        "moe",
        "finetune",
        "adapter",
        "quantized",
    }
    assert {n["id"] for n in data["nodes"]} >= set(folders)


def test_manifest_parents_are_exported(
    database: Database, hub: HubManifest, tmp_path: Path
) -> None:
    folders = [r for r in hub.ids() if (hub.root / r).is_dir()]
    ingest_folders(database, hub.root, folders)
    merge = next(r for r in hub.repos.values() if r.kind == "merge" and r.generation == 3)
    out = io.StringIO()
    with database.session() as session:
        export_genealogy(
            session,
            selection=Selection(model=merge.id, depth=1),
            fmt=ExportFormat.json,
            out=out,
        )
    data = json.loads(out.getvalue())
    assert {e["target"] for e in data["edges"]} == set(merge.parents)
    assert {n["id"] for n in data["nodes"]} == {merge.id, *merge.parents}
