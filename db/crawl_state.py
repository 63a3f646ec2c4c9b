"""Crawl checkpoints and run records: the queries the crawler needs, nothing else.

Every function takes the caller's session and never commits: a listing page's
rows and its cursor are written in one transaction by the caller, so a crash
neither skips nor repeats work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kinhub.db.models import CrawlRun, CrawlState, Edge, Model
from kinhub.db.timeutil import to_utc, utcnow
from sqlalchemy import func, or_
from sqlmodel import Session, col, select


@dataclass(frozen=True)
class Checkpoint:
    """A listing's saved position.

    ``cursor`` is the link of the next page to fetch (None: start from the top);
    ``high_water`` the newest ``lastModified`` of the last *finished* listing;
    ``data`` the in-progress listing's own values (``candidate`` high-water mark,
    ``stop_at``) until it finishes.
    """

    key: str
    cursor: str | None = None
    high_water: datetime | None = None
    data: dict[str, Any] | None = None


def load_checkpoint(session: Session, key: str) -> Checkpoint:
    """The saved checkpoint for ``key`` (an empty one when none was saved)."""
    row = session.get(CrawlState, key)
    if row is None:
        return Checkpoint(key=key)
    return Checkpoint(
        key=key, cursor=row.cursor, high_water=to_utc(row.high_water), data=dict(row.data or {})
    )


def save_checkpoint(
    session: Session,
    key: str,
    *,
    cursor: str | None,
    high_water: datetime | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Store ``key``'s checkpoint in the caller's transaction (flushes, no commit)."""
    row = session.get(CrawlState, key)
    if row is None:
        row = CrawlState(key=key)
        session.add(row)
    row.cursor = cursor
    row.high_water = to_utc(high_water)
    row.data = dict(data or {})
    row.updated_at = utcnow()
    session.flush()


def stored_shas(session: Session, repo_ids: Iterable[str]) -> dict[str, tuple[str | None, str]]:
    """``repo_id → (sha, status)`` for the ids already in the database."""
    ids = list(dict.fromkeys(repo_ids))
    out: dict[str, tuple[str | None, str]] = {}
    # Chunked: SQLite caps the number of bound parameters.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(Model.repo_id, Model.sha, Model.status).where(col(Model.repo_id).in_(chunk))
        )
        for repo_id, sha, status in rows:
            out[repo_id] = (sha, status)
    return out


def referenced_with_status(
    session: Session, statuses: Iterable[str], *, limit: int | None = None
) -> list[str]:
    """Models in one of ``statuses`` that some edge points at, oldest row first.

    The crawler retries parents whose fetch failed (``error``) this way.
    """
    parent_ids = select(Edge.parent_id).distinct()
    query = (
        select(Model.repo_id)
        .where(col(Model.status).in_(list(statuses)))
        .where(col(Model.id).in_(parent_ids))
        .order_by(col(Model.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def models_with_status(session: Session, status: str) -> list[str]:
    """Ids of the models whose crawl status is ``status``, oldest row first."""
    query = select(Model.repo_id).where(Model.status == status).order_by(col(Model.id))
    return list(session.exec(query))


def errors_due(session: Session) -> list[str]:
    """Ids of the models in ``error`` whose backoff is over (or never set), oldest
    row first: the crawl tries these again."""
    now = utcnow()
    query = (
        select(Model.repo_id)
        .where(Model.status == "error")
        .where(or_(col(Model.retry_after).is_(None), col(Model.retry_after) <= now))
        .order_by(col(Model.id))
    )
    return list(session.exec(query))


def backing_off(session: Session, repo_ids: Iterable[str]) -> set[str]:
    """Those of ``repo_ids`` in ``error`` that must not be tried before their
    ``retry_after`` (a poison model is not re-read every night)."""
    ids = list(dict.fromkeys(repo_ids))
    now = utcnow()
    out: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Model.repo_id).where(
            col(Model.repo_id).in_(chunk),
            Model.status == "error",
            col(Model.retry_after) > now,
        )
        out.update(session.exec(query))
    return out


def mark_interrupted(session: Session, *, kind: str) -> int:
    """Close every run of ``kind`` still recorded as ``running`` as ``interrupted``.

    Call it holding the lock that runs of ``kind`` hold: no live process can then be
    running one, so such a row is left by a process that was killed (SIGKILL, power
    loss).  Returns how many were closed (flushed, not committed)."""
    rows = list(
        session.exec(select(CrawlRun).where(CrawlRun.kind == kind, CrawlRun.status == "running"))
    )
    for run in rows:
        run.status = "interrupted"
        run.error = "interrupted: the process ended without closing the run"
        run.finished_at = utcnow()
    session.flush()
    return len(rows)


def edge_count(session: Session) -> int:
    """How many edges the database holds (a crawl reports how many it added)."""
    return int(session.exec(select(func.count(col(Edge.id)))).one())


def start_run(session: Session, *, kind: str, scope: str) -> int:
    """Record a run as ``running``; returns its id (flushed, not committed)."""
    run = CrawlRun(kind=kind, scope=scope[:300], status="running", started_at=utcnow())
    session.add(run)
    session.flush()
    assert run.id is not None
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    counts: dict[str, Any],
    error: str | None = None,
) -> None:
    """Close a run with its final status and counts (flushed, not committed)."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        return
    run.status = status
    run.counts = counts
    run.error = error
    run.finished_at = utcnow()
    session.flush()


def record_run(
    session: Session,
    *,
    kind: str,
    scope: str,
    status: str,
    counts: dict[str, Any],
    error: str | None = None,
) -> int:
    """A finished run in one go (e.g. a scheduled tick skipped because of the lock)."""
    run_id = start_run(session, kind=kind, scope=scope)
    finish_run(session, run_id, status=status, counts=counts, error=error)
    return run_id


def recent_runs(session: Session, *, kind: str | None = None, limit: int = 20) -> list[CrawlRun]:
    """The newest runs first."""
    query = select(CrawlRun).order_by(col(CrawlRun.id).desc()).limit(limit)
    if kind is not None:
        query = query.where(CrawlRun.kind == kind)
    return list(session.exec(query))
