"""Idempotent writes of crawled/ingested facts, keyed by (repo id, sha).

``upsert_model`` is the single way a model's facts enter the database: writing
the same record twice changes nothing; a new sha replaces the model's edges,
recipes and evaluations in the caller's transaction (so a crawl checkpoint can
be committed with them).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, fields
from enum import StrEnum
from typing import Any

from kinhub.db.errors import ModelNotFoundError
from kinhub.db.ids import is_repo_id, validate_repo_id
from kinhub.db.models import Edge, Evaluation, Model, Recipe
from kinhub.db.records import EdgeRecord, ModelRecord
from kinhub.db.timeutil import to_utc, utcnow
from sqlalchemy import delete
from sqlmodel import Session, col, select

logger = logging.getLogger(__name__)

MAX_REF_LENGTH = 300

# ModelRecord fields copied verbatim onto the Model row.
_FACT_FIELDS = tuple(
    f.name for f in fields(ModelRecord) if f.name not in {"edges", "recipes", "evaluations"}
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
    if row is None:
        status = "pending" if resolved and is_repo_id(ref) else "unresolved"
        row = Model(repo_id=ref, status=status)
        session.add(row)
        session.flush()
    return row


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
    """Write ``record`` and its edges, recipes and evaluations; idempotent.

    A model already stored at the same sha with the same facts is left untouched
    (no write at all).  Otherwise its facts are updated and its outgoing edges,
    recipes and evaluations replaced.  Does not commit.

    Raises:
        InvalidRepoIdError: ``record.repo_id`` is not a valid Hub id.
    """
    validate_repo_id(record.repo_id)
    values = _row_values(record)
    row = get_model(session, record.repo_id)
    if row is not None and row.sha is not None and _same_facts(row, values):
        return UpsertOutcome.unchanged
    outcome = UpsertOutcome.new if row is None or row.status == "pending" else UpsertOutcome.changed
    if row is None:
        row = Model(**values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    session.flush()
    assert row.id is not None
    _replace_children(session, row.id, record)
    return outcome


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
        session.add(Recipe(model_id=model_id, **asdict(recipe)))
    evaluations = {(e.task, e.dataset, e.metric): e for e in record.evaluations}
    for evaluation in evaluations.values():
        session.add(Evaluation(model_id=model_id, **asdict(evaluation)))
    session.flush()


def set_status(session: Session, repo_id: str, status: str, error: str | None = None) -> None:
    """Record a crawl status (not_found, gated, error, …) without touching facts."""
    row = get_model(session, repo_id)
    if row is None:
        row = Model(repo_id=validate_repo_id(repo_id), status=status, last_error=error)
        session.add(row)
    elif row.status != status or row.last_error != error:
        row.status = status
        row.last_error = error
        row.updated_at = utcnow()
    session.flush()


def pending_references(session: Session, *, limit: int | None = None) -> list[str]:
    """Hub ids that edges point at but that were never fetched."""
    query = select(Model.repo_id).where(Model.status == "pending").order_by(col(Model.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
