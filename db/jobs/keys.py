"""The kinship job queue's schema-level vocabulary: the job key (kinds and statuses come
from :mod:`kinhub.db.jobs.names` and are re-exported here).

A job names one measurement to make: a *pair* of ingredients (or a child and one
*edge* ingredient) against a base, at given revisions.  The pair is stored in
canonical order (``model_a < model_b``) so (A, B) and (B, A) are one job, and the
job is found by ``job_key``, a hash over everything that identifies it: NULL
revisions are never equal inside a PostgreSQL unique constraint, so the columns
themselves cannot be the key.  The worker (claiming, leases, retries) builds on this.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kinhub.db.jobs.names import JobKind, JobStatus
from kinhub.db.models import KinshipJob
from kinhub.db.timeutil import utcnow
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select


@dataclass(frozen=True)
class JobTarget:
    """What a job computes, in canonical order (``model_a < model_b``).

    ``child`` (the merge child the job was planned for) and ``priority`` travel with
    the target into the queue row but are not part of its key.
    """

    kind: str
    model_a: str
    model_b: str
    base: str
    revision_a: str | None = None
    revision_b: str | None = None
    revision_base: str | None = None
    child: str | None = None
    priority: int | None = None

    @classmethod
    def canonical(
        cls,
        *,
        kind: str,
        model_a: str,
        model_b: str,
        base: str,
        revision_a: str | None = None,
        revision_b: str | None = None,
        revision_base: str | None = None,
        child: str | None = None,
        priority: int | None = None,
    ) -> JobTarget:
        """The target with A and B (and their revisions) swapped into canonical order."""
        if (model_b, revision_b or "") < (model_a, revision_a or ""):
            model_a, model_b = model_b, model_a
            revision_a, revision_b = revision_b, revision_a
        return cls(
            kind=JobKind(kind).value,
            model_a=model_a,
            model_b=model_b,
            base=base,
            revision_a=revision_a,
            revision_b=revision_b,
            revision_base=revision_base,
            child=child,
            priority=priority,
        )

    @property
    def key(self) -> str:
        return job_key(
            kind=self.kind,
            model_a=self.model_a,
            model_b=self.model_b,
            base=self.base,
            revision_a=self.revision_a,
            revision_b=self.revision_b,
            revision_base=self.revision_base,
        )


def job_key(
    *,
    kind: str,
    model_a: str,
    model_b: str,
    base: str,
    revision_a: str | None = None,
    revision_b: str | None = None,
    revision_base: str | None = None,
) -> str:
    """Stable 64-hex key of a job; (A, B) and (B, A) give the same key.

    Raises:
        ValueError: ``kind`` is not a ``JobKind``.
    """
    t = JobTarget.canonical(
        kind=kind,
        model_a=model_a,
        model_b=model_b,
        base=base,
        revision_a=revision_a,
        revision_b=revision_b,
        revision_base=revision_base,
    )
    doc = [t.kind, t.model_a, t.model_b, t.base, t.revision_a, t.revision_b, t.revision_base]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def find_job(session: Session, *, key: str) -> KinshipJob | None:
    """The job with this key, or None."""
    return session.exec(select(KinshipJob).where(KinshipJob.job_key == key)).first()


@dataclass(frozen=True)
class EnqueueCount:
    """What :func:`enqueue` did: rows inserted, and targets whose key was already queued."""

    inserted: int = 0
    existing: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.existing


# Rows per INSERT statement (16 columns each: far under SQLite's bound-parameter limit).
_ENQUEUE_CHUNK = 500


def enqueue(
    session: Session, targets: Iterable[JobTarget], *, priority: int | None = None
) -> EnqueueCount:
    """Queue ``targets`` as pending jobs, skipping any whose ``job_key`` exists.

    Idempotent and safe under concurrency on both backends: one
    ``INSERT … ON CONFLICT (job_key) DO NOTHING`` per chunk, so two processes
    queueing the same target insert one row and neither fails.  Targets are put in
    canonical order first.  ``priority`` overrides each target's own priority
    (which defaults to 0).  Runs in the caller's transaction; the caller commits.
    """
    rows: dict[str, dict[str, Any]] = {}
    for raw in targets:
        row = job_row(raw, priority=priority)
        rows.setdefault(row["job_key"], row)
    inserted = insert_job_rows(session, list(rows.values()))
    return EnqueueCount(inserted=inserted, existing=len(rows) - inserted)


def job_row(
    target: JobTarget,
    *,
    priority: int | None = None,
    status: JobStatus = JobStatus.pending,
    last_error: str | None = None,
) -> dict[str, Any]:
    """The ``kinship_job`` row (column → value) that queues ``target`` in canonical order;
    ``priority`` overrides the target's own (default 0)."""
    t = JobTarget.canonical(
        kind=target.kind,
        model_a=target.model_a,
        model_b=target.model_b,
        base=target.base,
        revision_a=target.revision_a,
        revision_b=target.revision_b,
        revision_base=target.revision_base,
        child=target.child,
        priority=target.priority,
    )
    now = utcnow()
    return {
        "job_key": t.key,
        "kind": t.kind,
        "model_a": t.model_a,
        "model_b": t.model_b,
        "base": t.base,
        "revision_a": t.revision_a,
        "revision_b": t.revision_b,
        "revision_base": t.revision_base,
        "child": t.child,
        "priority": priority if priority is not None else (t.priority or 0),
        "status": JobStatus(status).value,
        "attempts": 0,
        "last_error": last_error,
        "created_at": now,
        "updated_at": now,
        "finished_at": now if status in (JobStatus.done, JobStatus.failed) else None,
    }


def insert_job_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert ``kinship_job`` rows (column → value, ``job_key`` set), skipping any key
    already stored; returns how many were inserted.  Does not commit."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = KinshipJob.__table__  # type: ignore[attr-defined]
    # One statement for every row: compiled once (and cached), then run by SQLAlchemy's
    # "insertmanyvalues" in batches, each returning the ids of the rows it inserted.
    stmt = insert(table).on_conflict_do_nothing(index_elements=["job_key"]).returning(table.c.id)
    inserted = 0
    for start in range(0, len(rows), _ENQUEUE_CHUNK):
        chunk = rows[start : start + _ENQUEUE_CHUNK]
        inserted += len(session.execute(stmt, chunk).all())
    return inserted
