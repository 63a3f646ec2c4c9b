"""Stored sketch summaries: per model, a few numbers projected from its latest sketch
(``kinhub.kinship.relatives`` computes them), read a whole plan at a time to pick the
candidates of ``kinhub relatives`` before their full sketches are compared.

Functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from kinhub.db.models import Edge, Model, ModelSketch, SketchSummary, SketchSummaryPage
from kinhub.db.timeutil import utcnow
from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

PAGE_SIZE = 10_000


@dataclass(frozen=True)
class PlanSummaries:
    """Summaries of one plan as blocks (a page each, then the rows not in a page):
    per block the model ids (int64) and their summaries' bytes in the same order."""

    blocks: list[tuple[np.ndarray, bytes]]
    unpacked: int = 0  # models read from rows not in a page yet

    @property
    def count(self) -> int:
        return sum(ids.size for ids, _ in self.blocks)

    def model_ids(self) -> np.ndarray:
        if not self.blocks:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([ids for ids, _ in self.blocks])


@dataclass(frozen=True)
class FullSketches:
    """Full sketches read together: model ids and their bytes concatenated."""

    model_ids: list[int]
    data: bytes


def save_summary(
    session: Session, *, model_id: int, revision: str, plan_key: str, data: bytes
) -> None:
    """Insert or replace the summary of ``model_id`` (its latest sketch's)."""
    row = session.get(SketchSummary, model_id)
    if row is None:
        row = SketchSummary(model_id=model_id, revision=revision, plan_key=plan_key, data=data)
    row.revision, row.plan_key, row.data, row.packed = revision, plan_key, data, False
    session.add(row)
    session.flush()


def save_summaries(session: Session, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """Insert many new summaries ``(model_id, revision, plan_key, data)`` at once (the
    backfill and the benchmark; an existing row is an error)."""
    if rows:
        session.execute(
            SketchSummary.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"model_id": m, "revision": r, "plan_key": p, "data": d, "packed": False}
                for m, r, p, d in rows
            ],
        )


def load_summaries(session: Session, plan_key: str) -> PlanSummaries:
    """The summaries of ``plan_key``: its pages, then the rows not packed yet (which
    replace a page's copy of the same model).

    This is the read of ``kinhub relatives`` that grows with the plan, so it reads
    pages of 10,000 summaries (:func:`repack`) rather than a row per model, through
    the driver's cursor (binary transfer on PostgreSQL, no row objects)."""
    pages = [
        (np.frombuffer(ids, dtype="<i8"), bytes(data))
        for ids, data in _raw_rows(
            session,
            "SELECT model_ids, data FROM sketch_summary_page WHERE plan_key = {mark} ORDER BY page",
            [plan_key],
        )
    ]
    tail = session.execute(
        select(SketchSummary.model_id, SketchSummary.data)
        .where(SketchSummary.plan_key == plan_key)
        .where(col(SketchSummary.packed).is_(False))
    ).all()
    if not tail:
        return PlanSummaries(blocks=pages)
    tail_ids = np.asarray([t[0] for t in tail], dtype=np.int64)
    blocks = []
    for ids, data in pages:
        keep = ~np.isin(ids, tail_ids)
        if not keep.all():
            width = len(data) // ids.size
            data = np.frombuffer(data, dtype=np.uint8).reshape(ids.size, width)[keep].tobytes()
            ids = ids[keep]
        blocks.append((ids, data))
    blocks.append((tail_ids, b"".join(t[1] for t in tail)))
    return PlanSummaries(blocks=blocks, unpacked=len(tail))


def count_unpacked(session: Session, plan_key: str, *, limit: int | None = None) -> int:
    """Summaries of ``plan_key`` not in a page yet, counted up to ``limit`` (an index
    range; the bound keeps a plan of 100,000 unpacked rows from being counted whole)."""
    inner = (
        select(SketchSummary.model_id)
        .where(SketchSummary.plan_key == plan_key)
        .where(col(SketchSummary.packed).is_(False))
    )
    if limit is not None:
        inner = inner.limit(limit)
    return session.execute(select(func.count()).select_from(inner.subquery())).scalar_one()


def repack(session: Session, plan_key: str, *, page_size: int | None = None) -> int:
    """Rewrite the pages of ``plan_key`` from its summaries and mark them packed;
    returns how many summaries the pages hold.  Takes the write lock of the table on
    PostgreSQL (SQLite: the caller's write transaction holds it), so no summary
    stored meanwhile is marked packed without being in a page."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE sketch_summary IN SHARE ROW EXCLUSIVE MODE"))
    rows = session.execute(
        select(SketchSummary.model_id, SketchSummary.data)
        .where(SketchSummary.plan_key == plan_key)
        .order_by(col(SketchSummary.model_id))
    ).all()
    session.execute(delete(SketchSummaryPage).where(col(SketchSummaryPage.plan_key) == plan_key))
    page_size = page_size or PAGE_SIZE
    for page, start in enumerate(range(0, len(rows), page_size)):
        chunk = rows[start : start + page_size]
        session.add(
            SketchSummaryPage(
                plan_key=plan_key,
                page=page,
                model_ids=np.asarray([r[0] for r in chunk], dtype="<i8").tobytes(),
                data=b"".join(r[1] for r in chunk),
            )
        )
    session.execute(
        update(SketchSummary)
        .where(col(SketchSummary.plan_key) == plan_key)
        .where(col(SketchSummary.packed).is_(False))
        .values(packed=True)
    )
    session.flush()
    return len(rows)


def unsummarized(session: Session) -> list[int]:
    """Models with a sketch and no summary (sketches stored before summaries existed,
    :func:`kinhub.kinship.relatives.backfill`), by id."""
    has_summary = select(SketchSummary.model_id).where(
        SketchSummary.model_id == ModelSketch.model_id
    )
    query = (
        select(ModelSketch.model_id)
        .where(~has_summary.exists())
        .distinct()
        .order_by(col(ModelSketch.model_id))
    )
    return list(session.exec(query))


def latest_of_models(session: Session, model_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Each model's latest sketch of any plan: ``model_id → (revision, plan_key)``."""
    out: dict[int, tuple[str, str]] = {}
    ids = list(dict.fromkeys(model_ids))
    for start in range(0, len(ids), 500):
        query = (
            select(ModelSketch.model_id, ModelSketch.revision, ModelSketch.plan_key)
            .where(col(ModelSketch.model_id).in_(ids[start : start + 500]))
            .order_by(col(ModelSketch.computed_at), col(ModelSketch.id))
        )
        for model_id, revision, plan_key in session.execute(query):
            out[model_id] = (revision, plan_key)  # later rows win: the latest
    return out


def sketch_data(session: Session, wanted: Iterable[tuple[int, str]]) -> dict[int, bytes]:
    """The sketches at ``(model_id, revision)``: ``model_id → data``."""
    pairs = dict(wanted)
    out: dict[int, bytes] = {}
    ids = list(pairs)
    for start in range(0, len(ids), 200):
        query = select(ModelSketch.model_id, ModelSketch.revision, ModelSketch.data).where(
            col(ModelSketch.model_id).in_(ids[start : start + 200])
        )
        for model_id, revision, data in session.execute(query):
            if pairs[model_id] == revision:
                out[model_id] = bytes(data)
    return out


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


def summarized_sketches(
    session: Session, model_ids: Iterable[int], plan_key: str
) -> dict[int, tuple[str, bytes]]:
    """The sketches the summaries of ``model_ids`` were made from:
    ``model_id → (revision, data)`` (the rerank of a shortlist: 100 sketches of up to
    256 KiB, read through the driver's cursor, in binary on PostgreSQL)."""
    ids = list(dict.fromkeys(int(i) for i in model_ids))
    out: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = _raw_rows(
            session,
            "SELECT m.model_id, m.revision, m.data FROM sketch_summary s"
            " JOIN model_sketch m ON m.model_id = s.model_id AND m.revision = s.revision"
            " WHERE m.plan_key = {mark} AND s.model_id IN ({marks})",
            [plan_key, *chunk],
            marks=len(chunk),
        )
        out.update((model_id, (revision, bytes(data))) for model_id, revision, data in rows)
    return out


def _raw_rows(session: Session, sql: str, params: list[Any], *, marks: int = 0) -> list[Any]:
    """Rows of ``sql`` (``{mark}``: one placeholder; ``{marks}``: ``marks`` of them)
    through the driver's own cursor: no row objects, bytea in binary on PostgreSQL."""
    connection = session.connection()
    raw = connection.connection.driver_connection
    assert raw is not None
    pg = connection.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    cursor = raw.cursor(binary=True) if pg else raw.cursor()
    try:
        cursor.execute(sql.format(mark=mark, marks=", ".join([mark] * marks)), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def plan_sketches(session: Session, plan_key: str, *, limit: int | None = None) -> FullSketches:
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
    return FullSketches(model_ids=[r[0] for r in rows], data=b"".join(r[2] for r in rows))


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


# -- bulk loading (benchmarks): many rows per statement --------------------------------


def insert_models(session: Session, repo_ids: Sequence[str], *, sha: str) -> dict[str, int]:
    """Insert new ``ok`` models at ``sha`` in one statement; returns their ids."""
    now = utcnow()
    session.execute(
        Model.__table__.insert(),  # type: ignore[attr-defined]
        [
            {"repo_id": r, "sha": sha, "status": "ok", "tags": [], "architectures": [],
             "private": False, "error_count": 0, "first_seen": now, "updated_at": now}
            for r in repo_ids
        ],
    )  # fmt: skip
    found: dict[str, int] = {}
    for start in range(0, len(repo_ids), 500):
        chunk = list(repo_ids[start : start + 500])
        query = select(Model.id, Model.repo_id).where(col(Model.repo_id).in_(chunk))
        found.update((r, i) for i, r in session.execute(query) if i is not None)
    return found


def insert_sketches(
    session: Session, rows: Sequence[tuple[int, str, str, bytes]], *, seconds: float = 0.0
) -> None:
    """Insert new sketches ``(model_id, revision, plan_key, data)`` in one statement."""
    now = utcnow()
    session.execute(
        ModelSketch.__table__.insert(),  # type: ignore[attr-defined]
        [
            {"model_id": m, "revision": r, "plan_key": p, "data": d, "bytes_read": 0,
             "resolver_requests": 0, "cdn_requests": 0, "seconds": seconds, "computed_at": now}
            for m, r, p, d in rows
        ],
    )  # fmt: skip


def insert_edges(session: Session, rows: Sequence[tuple[int, int, str, str, str]]) -> None:
    """Insert new edges ``(child_id, parent_id, relation, role, source)`` at once."""
    if rows:
        session.execute(
            Edge.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"child_id": c, "parent_id": p, "relation": rel, "role": role, "source": src,
                 "parameters": {}}
                for c, p, rel, role, src in rows
            ],
        )  # fmt: skip
