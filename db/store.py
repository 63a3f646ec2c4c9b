"""Idempotent writes of crawled/ingested facts, keyed by (repo id, sha).

``upsert_model`` is the single way a model's facts enter the database (crawl,
ingest and re-parse alike): writing the same record twice changes nothing; a new
sha, or a new parse of the same sha that reads differently, replaces the model's
edges, recipes and evaluations in the caller's transaction (so a crawl
checkpoint can be committed with them).  The texts the parser read are kept in
``model_text`` with the parser version, for ``kinhub db reparse``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from datetime import timedelta
from enum import StrEnum
from typing import Any

from kinhub.db.errors import ModelNotFoundError
from kinhub.db.ids import is_repo_id, validate_repo_id
from kinhub.db.models import Edge, Evaluation, Model, ModelText, Recipe
from kinhub.db.records import EdgeRecord, EvaluationRecord, ModelRecord, RecipeRecord
from kinhub.db.timeutil import to_utc, utcnow
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

logger = logging.getLogger(__name__)

MAX_REF_LENGTH = 300

# ModelRecord fields copied verbatim onto the Model row.
_FACT_FIELDS = tuple(
    f.name
    for f in fields(ModelRecord)
    if f.name not in {"edges", "recipes", "evaluations", "texts", "parser_version"}
)


class UpsertOutcome(StrEnum):
    new = "new"
    changed = "changed"
    unchanged = "unchanged"


def get_model(session: Session, repo_id: str) -> Model | None:
    return session.exec(select(Model).where(Model.repo_id == repo_id)).first()


def require_model(session: Session, repo_id: str) -> Model:
    """The model row for ``repo_id``.

    Raises:
        ModelNotFoundError: when it is not in the database.
    """
    model = get_model(session, repo_id)
    if model is None:
        raise ModelNotFoundError(repo_id)
    return model


def _reference_row(session: Session, ref: str, *, resolved: bool) -> Model:
    """The row a parent reference points at, created as a placeholder if new."""
    ref = ref[:MAX_REF_LENGTH]
    row = get_model(session, ref)
    followed = resolved and is_repo_id(ref)
    if row is None:
        row = Model(repo_id=ref, status="pending" if followed else "unresolved")
        session.add(row)
        session.flush()
    elif followed and row.status == "unresolved" and row.sha is None:
        # Left unresolved by a model that named too many parents: another model
        # names it as a reference to follow.
        row.status = "pending"
        session.flush()
    return row


def stored_record(row: Model) -> ModelRecord:
    """The facts stored on ``row`` as a record (no edges, recipes, evaluations or texts)."""
    values = {name: getattr(row, name) for name in _FACT_FIELDS}
    return ModelRecord(**values)


def _row_values(record: ModelRecord) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in _FACT_FIELDS}
    values["created_at"] = to_utc(record.created_at)
    values["last_modified"] = to_utc(record.last_modified)
    return values


def _same_facts(row: Model, values: dict[str, Any]) -> bool:
    return all(getattr(row, key) == value for key, value in values.items())


def _unique_edges(edges: list[EdgeRecord]) -> list[EdgeRecord]:
    seen: dict[tuple[str, str, str, str], EdgeRecord] = {}
    for edge in edges:
        key = (edge.parent[:MAX_REF_LENGTH], edge.relation, edge.role, edge.source)
        seen.setdefault(key, edge)
    return list(seen.values())


def upsert_model(session: Session, record: ModelRecord) -> UpsertOutcome:
    """Write ``record`` and its edges, recipes, evaluations and source texts; idempotent.

    A model already stored at the same sha with the same facts and the same
    edges, recipes and evaluations is ``unchanged``: nothing is written except,
    when they differ, its source texts and the parser version they were read
    with (so a re-parse that finds nothing new is not repeated).  Otherwise its
    facts are updated and its outgoing edges, recipes and evaluations replaced.
    Does not commit.

    Raises:
        InvalidRepoIdError: ``record.repo_id`` is not a valid Hub id.
    """
    validate_repo_id(record.repo_id)
    values = _row_values(record)
    row = get_model(session, record.repo_id)
    if row is not None and row.sha is not None and _same_facts(row, values):
        assert row.id is not None
        if _stored_children(session, row.id) == _record_children(record):
            _store_texts(session, row.id, record)
            _stamp_recipes(session, row.id, record.parser_version)
            return UpsertOutcome.unchanged
    outcome = UpsertOutcome.new if row is None or row.status == "pending" else UpsertOutcome.changed
    if row is None:
        row = Model(**values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    row.error_count = 0  # read: any backoff of earlier failures ends
    row.retry_after = None
    session.flush()
    assert row.id is not None
    _replace_children(session, row.id, record)
    _store_texts(session, row.id, record)
    return outcome


def _evaluation_values(values: dict[str, Any]) -> dict[str, Any]:
    # A score written as 61 reads back from a float column as 61.0.
    if values.get("value") is not None:
        values["value"] = float(values["value"])
    return values


def _canonical(value: Any) -> str:
    """A comparable form of a row's values, as they read back from JSON columns."""
    return json.dumps(value, sort_keys=True, default=str)


_Children = tuple[list[str], list[str], list[str]]


def _record_children(record: ModelRecord) -> _Children:
    """The edges, recipes and evaluations ``record`` would store, comparable."""
    edges = [
        _canonical(
            [
                e.parent[:MAX_REF_LENGTH],
                e.relation,
                e.role,
                e.source,
                e.parameters,
                e.revision,
                e.lora,
                e.stage,
            ]
        )
        for e in _unique_edges(record.edges)
    ]
    recipes = {r.source: r for r in record.recipes}
    evaluations = {(e.task, e.dataset, e.metric): e for e in record.evaluations}
    return (
        sorted(edges),
        sorted(_canonical(asdict(r)) for r in recipes.values()),
        sorted(_canonical(_evaluation_values(asdict(e))) for e in evaluations.values()),
    )


def _stored_children(session: Session, model_id: int) -> _Children:
    """The edges, recipes and evaluations stored for ``model_id``, comparable."""
    edge_rows = session.exec(
        select(Edge, Model.repo_id)
        .join(Model, col(Model.id) == col(Edge.parent_id))
        .where(col(Edge.child_id) == model_id)
    )
    edges = [
        _canonical(
            [parent, e.relation, e.role, e.source, e.parameters, e.revision, e.lora, e.stage]
        )
        for e, parent in edge_rows
    ]
    recipe_fields = [f.name for f in fields(RecipeRecord)]
    recipes = [
        _canonical({name: getattr(r, name) for name in recipe_fields})
        for r in session.exec(select(Recipe).where(col(Recipe.model_id) == model_id))
    ]
    evaluation_fields = [f.name for f in fields(EvaluationRecord)]
    evaluations = [
        _canonical(_evaluation_values({name: getattr(e, name) for name in evaluation_fields}))
        for e in session.exec(select(Evaluation).where(col(Evaluation.model_id) == model_id))
    ]
    return sorted(edges), sorted(recipes), sorted(evaluations)


def _store_texts(session: Session, model_id: int, record: ModelRecord) -> None:
    """Keep the texts the record was parsed from (writes only what differs).

    A record without texts leaves the stored ones alone when they belong to the
    same sha, and drops them when they belong to another (they would be stale).
    """
    row = session.get(ModelText, model_id)
    texts = record.texts
    if texts is None:
        if row is not None and row.sha != record.sha:
            session.delete(row)
            session.flush()
        return
    values: dict[str, Any] = {
        "sha": record.sha,
        "card_text": _storable(texts.card_text),
        "config_name": texts.config_name,
        "config_text": _storable(texts.config_text),
        "files": list(texts.files) if texts.files is not None else None,
        "parser_version": record.parser_version,
    }
    if row is None:
        session.add(ModelText(model_id=model_id, **values))
    elif any(getattr(row, key) != value for key, value in values.items()):
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    else:
        return
    session.flush()


def _storable(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; no parser rule depends on it.
    return text.replace("\x00", "") if text else text


def _stamp_recipes(session: Session, model_id: int, parser_version: int) -> None:
    session.execute(
        update(Recipe)
        .where(col(Recipe.model_id) == model_id, col(Recipe.parser_version) != parser_version)
        .values(parser_version=parser_version)
    )


def _replace_children(session: Session, model_id: int, record: ModelRecord) -> None:
    session.execute(delete(Edge).where(col(Edge.child_id) == model_id))
    session.execute(delete(Recipe).where(col(Recipe.model_id) == model_id))
    session.execute(delete(Evaluation).where(col(Evaluation.model_id) == model_id))
    for edge in _unique_edges(record.edges):
        parent = _reference_row(session, edge.parent, resolved=edge.parent_resolved)
        session.add(
            Edge(
                child_id=model_id,
                parent_id=parent.id,  # type: ignore[arg-type]
                relation=edge.relation,
                role=edge.role,
                source=edge.source,
                parameters=edge.parameters,
                revision=edge.revision,
                lora=edge.lora,
                stage=edge.stage,
            )
        )
    recipes = {recipe.source: recipe for recipe in record.recipes}
    for recipe in recipes.values():
        session.add(
            Recipe(model_id=model_id, parser_version=record.parser_version, **asdict(recipe))
        )
    evaluations = {(e.task, e.dataset, e.metric): e for e in record.evaluations}
    for evaluation in evaluations.values():
        session.add(Evaluation(model_id=model_id, **asdict(evaluation)))
    session.flush()


# Backoff of a model that keeps failing: the first failure is retried by the next
# crawl; from the second on, the wait doubles from 12 hours up to 30 days.
RETRY_BASE = timedelta(hours=12)
RETRY_MAX = timedelta(days=30)


def retry_delay(failures: int) -> timedelta:
    """How long a model that failed ``failures`` times in a row waits to be retried."""
    if failures <= 1:
        return timedelta(0)
    return min(RETRY_MAX, RETRY_BASE * 2 ** min(failures - 2, 16))


def set_status(session: Session, repo_id: str, status: str, error: str | None = None) -> None:
    """Record a crawl status (not_found, gated, error, …) without touching facts.

    ``error`` counts as one more consecutive failure of the model and sets when it
    may be retried (:func:`retry_delay`); any other status clears that count."""
    row = get_model(session, repo_id)
    if row is None:
        row = Model(repo_id=validate_repo_id(repo_id), status=status, last_error=error)
        session.add(row)
    elif row.status != status or row.last_error != error or status == "error":
        row.status = status
        row.last_error = error
        row.updated_at = utcnow()
    if status == "error":
        row.error_count = (row.error_count or 0) + 1
        row.retry_after = utcnow() + retry_delay(row.error_count)
    else:
        row.error_count = 0
        row.retry_after = None
    session.flush()


def pending_references(session: Session, *, limit: int | None = None) -> list[str]:
    """Hub ids that edges point at but that were never fetched."""
    query = select(Model.repo_id).where(Model.status == "pending").order_by(col(Model.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
