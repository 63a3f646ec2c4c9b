"""`reparse`: stored texts re-read by a newer parser, idempotently, without the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kinhub.crawler import facts as parser_facts
from kinhub.crawler import version
from kinhub.crawler.facts import CardFacts
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Model, ModelText, Recipe
from kinhub.db.records import ModelRecord
from kinhub.db.store import upsert_model
from kinhub.pipeline.reparse import run_reparse
from kinhub.sandbox.hub import HubManifest, generate_hub
from sqlalchemy import text
from sqlmodel import SQLModel, col, select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import ingest_folders, run_crawl


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> HubManifest:
    return generate_hub(tmp_path_factory.mktemp("hub"), n_models=40, seed=3, weights=False)


def _folders(hub: HubManifest) -> list[str]:
    return [r for r in hub.ids() if (hub.root / r).is_dir()]


def _dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, write times included."""
    with database.engine.connect() as conn:
        return {
            table.name: [
                tuple(r) for r in conn.execute(text(f"SELECT * FROM {table.name} ORDER BY 1"))
            ]
            for table in SQLModel.metadata.sorted_tables
        }


def _edges(database: Database) -> set[tuple[str, str, str, str, str]]:
    with database.session() as session:
        name = {m.id: m.repo_id for m in session.exec(select(Model))}
        return {
            (name[e.child_id], name[e.parent_id], e.relation, e.role, e.source)
            for e in session.exec(select(Edge))
        }


def _versions(database: Database) -> tuple[set[int], set[int]]:
    with database.session() as session:
        texts = set(session.exec(select(ModelText.parser_version)))
        recipes = set(session.exec(select(Recipe.parser_version)))
    return texts, recipes


def _bases_become_ingredients(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new parser rule (anchors read as plain ingredients) and its version bump."""
    original = parser_facts.model_facts

    def new_rule(**kwargs: Any) -> CardFacts:
        facts = original(**kwargs)
        edges = [
            e if e.role != "base" else type(e)(**{**e.__dict__, "role": "ingredient"})
            for e in facts.edges
        ]
        return CardFacts(**{**facts.__dict__, "edges": edges})

    monkeypatch.setattr(parser_facts, "model_facts", new_rule)
    monkeypatch.setattr(version, "PARSER_VERSION", version.PARSER_VERSION + 1)


def test_ingest_stores_texts_and_version(database: Database, hub: HubManifest) -> None:
    ingest_folders(database, hub.root, _folders(hub))
    with database.session() as session:
        texts = {
            model.repo_id: row
            for row, model in session.exec(
                select(ModelText, Model).join(Model, col(Model.id) == col(ModelText.model_id))
            )
        }
    assert set(texts) == set(_folders(hub))
    for repo_id, row in texts.items():
        card = hub.root / repo_id / "README.md"
        assert row.card_text == (card.read_text() if card.is_file() else None)
    assert any(row.config_text for row in texts.values())
    assert _versions(database) == ({version.PARSER_VERSION}, {version.PARSER_VERSION})


def test_reparse_with_the_same_parser_changes_nothing(database: Database, hub: HubManifest) -> None:
    ingest_folders(database, hub.root, _folders(hub))
    before = _dump(database)
    report = run_reparse(database)
    assert (report.examined, report.changed) == (0, 0)
    report = run_reparse(database, all_models=True)
    assert report.examined == len(_folders(hub))
    assert (report.changed, report.unchanged) == (0, report.examined)
    assert _dump(database) == before


def test_edges_follow_a_new_rule_and_a_second_run_changes_nothing(
    database: Database, hub: HubManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_folders(database, hub.root, _folders(hub))
    old = _edges(database)
    based = {child for child, _, _, role, _ in old if role == "base"}
    assert based  # the rule has something to change

    _bases_become_ingredients(monkeypatch)
    report = run_reparse(database)
    assert report.examined == len(_folders(hub))
    assert report.changed == len(based)
    assert set(report.changed_models) == based
    assert report.unchanged == report.examined - report.changed
    new = _edges(database)
    want = {(c, p, rel, "ingredient" if role == "base" else role, s) for c, p, rel, role, s in old}
    assert new == want
    assert _versions(database) == ({version.PARSER_VERSION}, {version.PARSER_VERSION})

    after = _dump(database)
    again = run_reparse(database)
    assert (again.examined, again.changed) == (0, 0)
    everything = run_reparse(database, all_models=True)
    assert everything.examined == report.examined
    assert everything.changed == 0
    assert _dump(database) == after


def test_models_without_texts_are_counted_not_touched(database: Database) -> None:
    with database.session() as session:
        upsert_model(session, ModelRecord(repo_id="old/model", sha="a" * 40))
    before = _dump(database)
    report = run_reparse(database, all_models=True)
    assert (report.examined, report.without_texts) == (0, 1)
    assert _dump(database) == before


def test_older_versions_are_reparsed(database: Database, hub: HubManifest) -> None:
    ingest_folders(database, hub.root, _folders(hub))
    with database.session() as session:
        session.execute(text("UPDATE model_text SET parser_version = 1"))
        session.execute(text("UPDATE recipe SET parser_version = 1"))
    report = run_reparse(database)
    assert report.examined == len(_folders(hub))
    assert report.changed == 0
    assert _versions(database) == ({version.PARSER_VERSION}, {version.PARSER_VERSION})


def test_crawl_stores_texts_and_reparse_follows(
    tmp_path: Path, hub: HubManifest, monkeypatch: pytest.MonkeyPatch, hub_emulator: HubEmulators
) -> None:
    from kinhub.db.engine import open_database

    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with hub_emulator(hub.root, latency_ms=0) as emu:
            run_crawl(database, emu.url, tmp_path / "cache", scope="full")
        with database.session() as session:
            ok = set(session.exec(select(Model.id).where(col(Model.status).in_(["ok", "gated"]))))
            stored = set(session.exec(select(ModelText.model_id)))
        assert ok and stored == ok
        before = _dump(database)
        assert run_reparse(database, all_models=True).changed == 0
        assert _dump(database) == before

        _bases_become_ingredients(monkeypatch)
        report = run_reparse(database)
        assert report.changed > 0
        assert not [e for e in _edges(database) if e[3] == "base"]
        after = _dump(database)
        assert run_reparse(database, all_models=True).changed == 0
        assert _dump(database) == after
    finally:
        database.dispose()
