"""Stored sketch summaries: per model, a few numbers projected from its latest sketch
(``kinhub.kinship.relatives`` computes them), read a whole plan at a time to pick the
candidates of ``kinhub relatives`` before their full sketches are compared.

Functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kinhub.db.models import Model, ModelSketch, SketchSummary
from sqlalchemy import func
from sqlmodel import Session, col, select


@dataclass(frozen=True)
class PlanSummaries:
    """Every summary of one plan: model ids and revisions, and the summaries' bytes
    concatenated in the same order (``len(data) // len(model_ids)`` bytes each)."""

    model_ids: list[int]
    revisions: list[str]
    data: bytes


def save_summary(
    session: Session, *, model_id: int, revision: str, plan_key: str, data: bytes
) -> None:
    """Insert or replace the summary of ``model_id`` (its latest sketch's)."""
    row = session.get(SketchSummary, model_id)
    if row is None:
        row = SketchSummary(model_id=model_id, revision=revision, plan_key=plan_key, data=data)
    row.revision, row.plan_key, row.data = revision, plan_key, data
    session.add(row)
    session.flush()


def save_summaries(session: Session, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """Insert many new summaries ``(model_id, revision, plan_key, data)`` at once (the
    backfill and the benchmark; an existing row is an error)."""
    if rows:
        session.execute(
            SketchSummary.__table__.insert(),  # type: ignore[attr-defined]
            [{"model_id": m, "revision": r, "plan_key": p, "data": d} for m, r, p, d in rows],
        )


def load_summaries(session: Session, plan_key: str) -> PlanSummaries:
    """The summaries of ``plan_key`` (one narrow SELECT, by model id)."""
    rows = session.execute(
        select(SketchSummary.model_id, SketchSummary.revision, SketchSummary.data)
        .where(SketchSummary.plan_key == plan_key)
        .order_by(col(SketchSummary.model_id))
    ).all()
    return PlanSummaries(
        model_ids=[r[0] for r in rows],
        revisions=[r[1] for r in rows],
        data=b"".join(r[2] for r in rows),
    )


def unsummarized(session: Session, plan_key: str) -> list[int]:
    """Models with a sketch of ``plan_key`` and no summary at all (sketches stored
    before summaries existed).  A count on the indexes first, so the usual answer
    (none) costs two index scans."""
    sketched = session.execute(
        select(func.count(func.distinct(ModelSketch.model_id))).where(
            ModelSketch.plan_key == plan_key
        )
    ).scalar_one()
    summarized = session.execute(
        select(func.count()).select_from(SketchSummary).where(SketchSummary.plan_key == plan_key)
    ).scalar_one()
    if sketched <= summarized:
        return []
    has_summary = select(SketchSummary.model_id).where(
        SketchSummary.model_id == ModelSketch.model_id
    )
    query = (
        select(ModelSketch.model_id)
        .where(ModelSketch.plan_key == plan_key)
        .where(~has_summary.exists())
        .distinct()
        .order_by(col(ModelSketch.model_id))
    )
    return list(session.exec(query))


def latest_sketches(
    session: Session, model_ids: Iterable[int], plan_key: str
) -> dict[int, tuple[str, bytes]]:
    """Each model's latest sketch of ``plan_key``: ``model_id → (revision, data)``."""
    out: dict[int, tuple[str, bytes]] = {}
    ids = list(dict.fromkeys(model_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(ModelSketch.model_id, ModelSketch.revision, ModelSketch.data)
            .where(col(ModelSketch.model_id).in_(chunk))
            .where(ModelSketch.plan_key == plan_key)
            .order_by(col(ModelSketch.computed_at), col(ModelSketch.id))
        )
        for model_id, revision, data in session.execute(query):
            out[model_id] = (revision, bytes(data))  # later rows win: the latest
    return out


def sketches_at(session: Session, wanted: Iterable[tuple[int, str]]) -> dict[int, bytes]:
    """The sketches of ``(model_id, revision)`` pairs: ``model_id → data`` (the rerank
    loads a shortlist's full sketches in one query per 500)."""
    pairs = dict(wanted)
    out: dict[int, bytes] = {}
    ids = list(pairs)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(ModelSketch.model_id, ModelSketch.revision, ModelSketch.data).where(
            col(ModelSketch.model_id).in_(chunk)
        )
        for model_id, revision, data in session.execute(query):
            if pairs[model_id] == revision:
                out[model_id] = bytes(data)
    return out


def plan_sketches(session: Session, plan_key: str, *, limit: int | None = None) -> PlanSummaries:
    """Full sketches of ``plan_key`` (every revision), by model id: the brute-force
    scan that the summaries replace (benchmark baseline)."""
    query = (
        select(ModelSketch.model_id, ModelSketch.revision, ModelSketch.data)
        .where(ModelSketch.plan_key == plan_key)
        .order_by(col(ModelSketch.model_id))
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    return PlanSummaries(
        model_ids=[r[0] for r in rows],
        revisions=[r[1] for r in rows],
        data=b"".join(r[2] for r in rows),
    )


def repo_ids(session: Session, model_ids: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ids = list(dict.fromkeys(model_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Model.id, Model.repo_id).where(col(Model.id).in_(chunk))
        out.update((i, r) for i, r in session.execute(query) if i is not None)
    return out


def summarized_among(session: Session, model_ids: Iterable[int], plan_key: str) -> set[int]:
    """Which of ``model_ids`` have a summary of ``plan_key`` (candidate bases)."""
    ids = list(dict.fromkeys(model_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(SketchSummary.model_id)
            .where(col(SketchSummary.model_id).in_(chunk))
            .where(SketchSummary.plan_key == plan_key)
        )
        found.update(session.exec(query))
    return found
