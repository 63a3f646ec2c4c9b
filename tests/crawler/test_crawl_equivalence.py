"""A crawl through the emulator stores what reading the same folders directly stores.

What legitimately differs, and why:

* ``hub_tag`` edges exist only on the Hub (derived from ``base_model`` tags);
  they are checked separately against the cards' ``base_model`` parents.
* Gated repos: the crawl cannot read their files, so it keeps the listing's
  facts and Hub-tag edges with status ``gated``; the folder read sees the card.
* Missing parents: the crawl asked the Hub (``not_found``); a folder read only
  knows they were referenced (``pending``).
* Dates, downloads, likes and the Hub's extra tags exist only on the Hub; the
  Hub's ``config`` carries architectures and model type, not layer sizes; the
  sha is the Hub's commit, not the folder fingerprint.

Everything else — model set, edges, recipes, evaluations, licenses,
architectures — must match exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database, open_database
from kinhub.db.ids import is_repo_id
from kinhub.db.models import Edge, Evaluation, Model, Recipe
from kinhub.sandbox.hub import HubManifest
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import ingest_folders, run_crawl

N_MODELS = 300


@pytest.fixture(scope="module")
def snapshot(synthetic_hub: Callable[..., HubManifest]) -> HubManifest:
    return synthetic_hub(n_models=N_MODELS, seed=11)


def _genealogy(database: Database) -> dict[str, Any]:
    with database.session() as session:
        models = {m.repo_id: m for m in session.exec(select(Model))}
        name = {m.id: m.repo_id for m in models.values()}
        edges = {
            (
                name[e.child_id],
                name[e.parent_id],
                e.relation,
                e.role,
                e.source,
                json.dumps(e.parameters, sort_keys=True),
                e.revision,
                e.lora,
                e.stage,
            )
            for e in session.exec(select(Edge))
        }
        recipes = {
            (
                name[r.model_id],
                r.source,
                r.merge_method,
                r.base_model,
                r.dtype,
                r.tokenizer_source,
                json.dumps(r.stages, sort_keys=True),
                r.raw_text,
                json.dumps(r.warnings),
            )
            for r in session.exec(select(Recipe))
        }
        evaluations = {
            (name[v.model_id], v.task, v.dataset, v.metric, v.value, v.source_name)
            for v in session.exec(select(Evaluation))
        }
    return {"models": models, "edges": edges, "recipes": recipes, "evaluations": evaluations}


def test_crawl_equals_direct_ingest_and_recrawl_is_free(
    database: Database, snapshot: HubManifest, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    gated = {r.id for r in snapshot.repos.values() if r.gated}
    assert len(snapshot.repos) >= 300 and gated
    with hub_emulator(snapshot.root, latency_ms=0) as emu:
        first = run_crawl(database, emu.url, tmp_path / "cache1", scope="full", page_size=100)
        assert first.complete and first.status == "ok"
        assert first.counts["listing_pages"] == -(-len(snapshot.repos) // 100)

        # Nothing changed: one listing call per listing, no file (a fresh cache, so
        # only the stored shas can explain the absence of downloads).
        emu.reset_stats()
        second = run_crawl(database, emu.url, tmp_path / "cache2", scope="full", page_size=100)
        stats = emu.stats()
    assert stats["requests"] == {"api": len(Scope.parse("full").listings()), "resolve": 0}
    assert second.counts["files_downloaded"] == 0
    assert (second.counts["new"], second.counts["changed"]) == (0, 0)
    assert second.counts["edges_added"] == 0

    reference = open_database(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        ingest_folders(reference, snapshot.root, snapshot.ids())
        want = _genealogy(reference)
    finally:
        reference.dispose()
    got = _genealogy(database)

    # The same nodes, with the statuses each side can know.
    assert set(got["models"]) == set(want["models"])
    for repo_id, expected in want["models"].items():
        status = got["models"][repo_id].status
        if repo_id in gated:
            assert (expected.status, status) == ("ok", "gated"), repo_id
        elif expected.status == "pending":
            assert status == "not_found", repo_id
        else:
            assert status == expected.status, repo_id
    assert {r for r, m in got["models"].items() if m.status == "gated"} == gated
    assert {r for r, m in want["models"].items() if m.status == "pending"} == {
        p for r in snapshot.repos.values() for p in r.missing_parents
    }

    # Edges, recipes, evaluations: exact for every child whose files were readable.
    def readable(rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        return {row for row in rows if row[0] not in gated}

    assert readable({e for e in got["edges"] if e[4] != "hub_tag"}) == readable(want["edges"])
    assert readable(got["recipes"]) == readable(want["recipes"])
    assert readable(got["evaluations"]) == readable(want["evaluations"])
    assert not [e for e in got["edges"] if e[0] in gated and e[4] != "hub_tag"]
    assert not [r for r in got["recipes"] if r[0] in gated]

    # Hub-tag edges name exactly the card's declared (valid-id) base models, except
    # where the front matter is broken: the Hub derives no tags from it, while the
    # card parser still reads what it can.
    broken = {r.id for r in snapshot.repos.values() if r.card in ("unclosed", "bad-yaml")}
    tag_parents: dict[str, set[str]] = {}
    for e in got["edges"]:
        if e[4] == "hub_tag":
            tag_parents.setdefault(e[0], set()).add(e[1])
    assert broken and not broken & set(tag_parents)
    card_parents: dict[str, set[str]] = {}
    for e in want["edges"]:
        if e[4] == "card_metadata" and is_repo_id(e[1]) and e[0] not in broken:
            card_parents.setdefault(e[0], set()).add(e[1])
    assert tag_parents == card_parents

    # Model facts both sides read from the same files.
    for repo_id, expected in want["models"].items():
        if expected.status != "ok" or repo_id in gated:
            continue
        crawled = got["models"][repo_id]
        assert crawled.sha is not None
        assert crawled.last_modified is not None and crawled.created_at is not None
        assert crawled.license == expected.license, repo_id
        assert crawled.architectures == expected.architectures, repo_id
        assert crawled.model_type == expected.model_type, repo_id
        assert crawled.num_parameters == expected.num_parameters, repo_id
        assert set(expected.tags) <= set(crawled.tags), repo_id
        for fact in ("library_name", "pipeline_tag"):
            if getattr(expected, fact) is not None:
                assert getattr(crawled, fact) == getattr(expected, fact), (repo_id, fact)
