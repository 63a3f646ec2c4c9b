"""Idempotent upserts, placeholders for parents, statuses — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kinhub.db.engine import Database, open_database
from kinhub.db.errors import InvalidRepoIdError
from kinhub.db.models import Edge, Evaluation, Model, Recipe
from kinhub.db.records import EdgeRecord, EvaluationRecord, ModelRecord, RecipeRecord
from kinhub.db.store import UpsertOutcome, get_model, pending_references, set_status, upsert_model
from sqlalchemy import func, select
from sqlmodel import col


def _merge_record(sha: str = "a" * 40, weight: float = 0.5) -> ModelRecord:
    return ModelRecord(
        repo_id="me/merged-7b",
        sha=sha,
        last_modified=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        tags=["merge", "mergekit"],
        architectures=["LlamaForCausalLM"],
        edges=[
            EdgeRecord("org/base", "merge", "base", "mergekit_config"),
            EdgeRecord(
                "org/a", "merge", "ingredient", "mergekit_config", parameters={"weight": weight}
            ),
            EdgeRecord("org/b", "merge", "ingredient", "mergekit_config", revision="v1"),
            EdgeRecord("org/a", "merge", "parent", "card_metadata"),
            EdgeRecord(
                "./local/x", "merge", "ingredient", "mergekit_config", parent_resolved=False
            ),
        ],
        recipes=[
            RecipeRecord(
                "mergekit_config", "dare_ties", "org/base", raw_text="merge_method: dare_ties"
            )
        ],
        evaluations=[EvaluationRecord("text-generation", "ARC", "acc", 61.5)],
    )


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[arg-type]
            for t in (Model, Edge, Recipe, Evaluation)
        }


def _snapshot(db: Database) -> list[tuple[object, ...]]:
    with db.session() as s:
        models = [
            tuple(m.model_dump().values())
            for m in s.exec(select(Model).order_by(col(Model.id))).scalars()
        ]  # type: ignore[call-overload]
        edges = [
            tuple(e.model_dump().values())
            for e in s.exec(select(Edge).order_by(col(Edge.id))).scalars()
        ]  # type: ignore[call-overload]
    return models + edges


def test_upsert_is_idempotent(database: Database) -> None:
    with database.session() as s:
        assert upsert_model(s, _merge_record()) is UpsertOutcome.new
    before = _snapshot(database)
    with database.session() as s:
        assert upsert_model(s, _merge_record()) is UpsertOutcome.unchanged
    assert _snapshot(database) == before
    assert _counts(database) == {"model": 5, "edge": 5, "recipe": 1, "evaluation": 1}


def test_new_sha_replaces_edges(database: Database) -> None:
    with database.session() as s:
        upsert_model(s, _merge_record())
    with database.session() as s:
        assert upsert_model(s, _merge_record(sha="b" * 40, weight=0.7)) is UpsertOutcome.changed
    with database.session() as s:
        weights = [
            e.parameters.get("weight")
            for e in s.exec(select(Edge)).scalars()  # type: ignore[call-overload]
            if e.parameters
        ]
    assert weights == [0.7]
    assert _counts(database)["edge"] == 5


def test_parent_placeholders_and_statuses(database: Database) -> None:
    with database.session() as s:
        upsert_model(s, _merge_record())
        assert sorted(pending_references(s)) == ["org/a", "org/b", "org/base"]
        local = get_model(s, "./local/x")
        assert local is not None and local.status == "unresolved"
        set_status(s, "org/b", "gated", "GatedRepo")
        assert sorted(pending_references(s)) == ["org/a", "org/base"]
    with database.session() as s:
        # A placeholder that gets crawled counts as new, not changed.
        outcome = upsert_model(s, ModelRecord(repo_id="org/a", sha="c" * 40))
        assert outcome is UpsertOutcome.new
        row = get_model(s, "me/merged-7b")
        assert row is not None and row.last_modified == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs/path", "a/b/c", "", "org/..", "org/-x"])
def test_invalid_ids_are_refused(database: Database, bad: str) -> None:
    with database.session() as s, pytest.raises(InvalidRepoIdError):
        upsert_model(s, ModelRecord(repo_id=bad))


def test_reopening_does_not_remigrate(database_url: str) -> None:
    first = open_database(database_url)
    with first.session() as s:
        upsert_model(s, _merge_record())
    first.dispose()
    second = open_database(database_url)
    assert _counts(second)["model"] == 5
    second.dispose()
