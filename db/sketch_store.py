"""Stored sketches: the plans (coordinates shared by an architecture) and each model
revision's values at them.  See ``kinhub.kinship.sketch`` for what a sketch is.

Values are float32 little-endian bytes in plan order, so a 65,536-value sketch is
256 KiB whatever the model's size.  Functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kinhub.db.ids import is_repo_id
from kinhub.db.models import ArchSignature, Model, ModelSketch, SketchPlan
from kinhub.db.timeutil import utcnow
from sqlmodel import Session, col, select


@dataclass(frozen=True)
class StoredSketch:
    """One model revision's sketch as stored."""

    model_id: int
    revision: str
    plan_key: str
    data: bytes
    bytes_read: int
    resolver_requests: int
    cdn_requests: int
    seconds: float


def _stored(row: ModelSketch) -> StoredSketch:
    return StoredSketch(
        model_id=row.model_id,
        revision=row.revision,
        plan_key=row.plan_key,
        data=bytes(row.data),
        bytes_read=row.bytes_read,
        resolver_requests=row.resolver_requests,
        cdn_requests=row.cdn_requests,
        seconds=row.seconds,
    )


def model_row(session: Session, repo_id: str) -> Model:
    """The model row of ``repo_id``, created ``pending`` when no crawl has met it.

    Raises: ValueError for an id that is not a Hub repo id.
    """
    if not is_repo_id(repo_id):
        raise ValueError(f"not a Hub repo id: {repo_id!r}")
    row = session.exec(select(Model).where(Model.repo_id == repo_id)).first()
    if row is None:
        row = Model(repo_id=repo_id, status="pending")
        session.add(row)
        session.flush()
    return row


def find_model(session: Session, repo_id: str) -> Model | None:
    return session.exec(select(Model).where(Model.repo_id == repo_id)).first()


def save_plan(
    session: Session,
    *,
    key: str,
    size: int,
    block: int,
    seed: int,
    num_params: int,
    layout: Sequence[Any],
) -> None:
    """Store a plan once (a plan's key names its content: an existing row is kept)."""
    if session.get(SketchPlan, key) is not None:
        return
    session.add(
        SketchPlan(
            key=key, size=size, block=block, seed=seed, num_params=num_params, layout=list(layout)
        )
    )
    session.flush()


def load_plan(session: Session, key: str) -> SketchPlan | None:
    return session.get(SketchPlan, key)


def save_sketch(
    session: Session,
    *,
    model_id: int,
    revision: str,
    plan_key: str,
    data: bytes,
    bytes_read: int,
    resolver_requests: int,
    cdn_requests: int,
    seconds: float,
) -> None:
    """Insert or replace the sketch of ``model_id`` at ``revision``."""
    row = session.exec(
        select(ModelSketch)
        .where(ModelSketch.model_id == model_id)
        .where(ModelSketch.revision == revision)
    ).first()
    if row is None:
        row = ModelSketch(model_id=model_id, revision=revision, plan_key=plan_key, data=data)
    row.plan_key = plan_key
    row.data = data
    row.bytes_read = bytes_read
    row.resolver_requests = resolver_requests
    row.cdn_requests = cdn_requests
    row.seconds = seconds
    row.computed_at = utcnow()
    session.add(row)
    session.flush()


def load_sketch(session: Session, model_id: int, sha: str | None) -> StoredSketch | None:
    """The sketch of ``model_id`` at revision ``sha``; with ``sha`` None, its latest."""
    query = select(ModelSketch).where(ModelSketch.model_id == model_id)
    if sha is not None:
        query = query.where(ModelSketch.revision == sha)
    row = session.exec(query.order_by(col(ModelSketch.computed_at).desc())).first()
    return _stored(row) if row is not None else None


def unsketched_models(session: Session, *, limit: int | None = None) -> list[str]:
    """Repo ids of models with weights (a stored sha and parameter count or signature)
    and no sketch of their current sha, by repo id."""
    has_sketch = (
        select(ModelSketch.id)
        .where(ModelSketch.model_id == Model.id)
        .where(ModelSketch.revision == Model.sha)
        .exists()
    )
    has_weights = (
        select(ArchSignature.id)
        .where(ArchSignature.model_id == Model.id)
        .where(ArchSignature.num_tensors > 0)
        .exists()
    )
    query = (
        select(Model.repo_id)
        .where(col(Model.sha).is_not(None))
        .where(Model.status == "ok")
        .where((col(Model.num_parameters) > 0) | has_weights)
        .where(~has_sketch)
        .order_by(col(Model.repo_id))
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
