"""The kinship job queue's queries: claim under a lease, renew, complete, fail, release,
requeue, and the listings ``kinhub jobs`` shows.

Claiming is one transaction that picks and updates a row.  Run it inside
:meth:`Database.write_transaction`: on PostgreSQL the ``SELECT … FOR UPDATE SKIP
LOCKED`` makes concurrent workers skip each other's candidate rows; on SQLite the
transaction already holds the database's write lock (``BEGIN IMMEDIATE``), so two
workers are serialised and never see the same pending row (``FOR UPDATE`` compiles to
nothing there).

A job is claimable when it is ``pending`` and due (``next_attempt_at`` passed or
unset), or ``running`` under a lease that has expired — its worker died or lost the
database.  Every claim counts an attempt; a released job (clean shutdown) gives its
attempt back.  Every function that writes takes the worker's ``owner`` and changes a
running job only while that owner holds it, so a worker that lost its lease cannot
overwrite the job's new holder.  None of these functions commits.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kinhub.db.errors import KinhubError
from kinhub.db.jobs.keys import JobStatus
from kinhub.db.models import KinshipJob
from kinhub.db.timeutil import to_utc, utcnow
from sqlalchemy import and_, case, func, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

logger = logging.getLogger(__name__)

# A failure's text is kept in the job row; keep it a readable size.
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker holds: what to compute and the lease it holds it under."""

    id: int
    job_key: str
    kind: str
    model_a: str
    model_b: str
    base: str
    revision_a: str | None
    revision_b: str | None
    revision_base: str | None
    child: str | None
    priority: int
    attempts: int
    owner: str
    lease_until: datetime

    @classmethod
    def from_row(cls, row: KinshipJob) -> ClaimedJob:
        assert row.id is not None and row.lease_owner is not None and row.lease_until
        return cls(
            id=row.id,
            job_key=row.job_key,
            kind=row.kind,
            model_a=row.model_a,
            model_b=row.model_b,
            base=row.base,
            revision_a=row.revision_a,
            revision_b=row.revision_b,
            revision_base=row.revision_base,
            child=row.child,
            priority=row.priority,
            attempts=row.attempts,
            owner=row.lease_owner,
            lease_until=to_utc(row.lease_until) or row.lease_until,
        )

    @property
    def refs(self) -> tuple[str, str, str]:
        """A, B and base as ``org/name[@revision]`` (what the kinship service takes)."""
        return (
            _ref(self.model_a, self.revision_a),
            _ref(self.model_b, self.revision_b),
            _ref(self.base, self.revision_base),
        )

    @property
    def repos(self) -> tuple[str, str, str]:
        return (self.model_a, self.model_b, self.base)


def _ref(repo: str, revision: str | None) -> str:
    return f"{repo}@{revision}" if revision else repo


def _claimable(now: datetime) -> ColumnElement[bool]:
    due = or_(col(KinshipJob.next_attempt_at).is_(None), col(KinshipJob.next_attempt_at) <= now)
    pending = and_(col(KinshipJob.status) == JobStatus.pending.value, due)
    expired = and_(
        col(KinshipJob.status) == JobStatus.running.value,
        or_(col(KinshipJob.lease_until).is_(None), col(KinshipJob.lease_until) < now),
    )
    # base "": a pair the planner found unmeasurable (db.job_plan), a record, not work.
    return and_(or_(pending, expired), col(KinshipJob.base) != "")


def claim_job(
    session: Session,
    *,
    owner: str,
    lease_s: float,
    max_attempts: int,
    prefer: Collection[str] = (),
    kinds: Sequence[str] = (),
    now: datetime | None = None,
) -> ClaimedJob | None:
    """Take the best claimable job for ``owner`` under a lease of ``lease_s`` seconds.

    Order: jobs with the most of their three repos in ``prefer`` (the repos whose
    weights are already cached here), then higher ``priority``, then the oldest.  A job
    whose lease expired after ``max_attempts`` attempts is marked ``failed`` (its
    workers keep dying on it) and the next one is taken.  Returns None when nothing is
    claimable.  Run inside ``Database.write_transaction``.
    """
    now = now or utcnow()
    cached = sorted(set(prefer))[:500]  # the IN lists stay a reasonable size
    score: Any = 0
    if cached:
        score = sum(
            case((col(c).in_(cached), 1), else_=0)
            for c in (KinshipJob.base, KinshipJob.model_a, KinshipJob.model_b)
        )
    while True:
        query = select(KinshipJob).where(_claimable(now))
        if kinds:
            query = query.where(col(KinshipJob.kind).in_(list(kinds)))
        order: list[Any] = [col(KinshipJob.priority).desc(), col(KinshipJob.id)]
        if cached:
            order.insert(0, score.desc())
        query = query.order_by(*order).limit(1).with_for_update(skip_locked=True)
        row = session.exec(query).first()
        if row is None:
            return None
        if row.status == JobStatus.running.value and row.attempts >= max_attempts:
            row.status = JobStatus.failed.value
            row.last_error = (
                f"lease expired {row.attempts} times (held by {row.lease_owner}); "
                "its workers died or lost the database while computing it"
            )
            row.lease_owner = row.lease_until = None
            row.finished_at = row.updated_at = now
            session.add(row)
            session.flush()
            logger.warning("job %s failed: %s", row.id, row.last_error)
            continue
        if row.status == JobStatus.running.value:
            logger.info("job %s: lease of %s expired; taking it over", row.id, row.lease_owner)
        row.status = JobStatus.running.value
        row.lease_owner = owner
        row.lease_until = now + timedelta(seconds=lease_s)
        row.attempts += 1
        row.updated_at = now
        session.add(row)
        session.flush()
        return ClaimedJob.from_row(row)


def _held(job_id: int, owner: str) -> ColumnElement[bool]:
    return and_(
        col(KinshipJob.id) == job_id,
        col(KinshipJob.lease_owner) == owner,
        col(KinshipJob.status) == JobStatus.running.value,
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def renew_lease(session: Session, *, job_id: int, owner: str, lease_s: float) -> bool:
    """Push the lease forward; False when ``owner`` no longer holds the job."""
    now = utcnow()
    result = session.execute(
        update(KinshipJob)
        .where(_held(job_id, owner))
        .values(lease_until=now + timedelta(seconds=lease_s), updated_at=now)
    )
    return _rowcount(result) == 1


def complete_job(
    session: Session, *, job_id: int, owner: str, kinship_id: int | None, mode: str | None
) -> bool:
    """Mark the job done with its result (call in the transaction that stored it).

    A job another worker already finished stays as it is; a job whose lease another
    worker took over is finished all the same (the result is the same measurement,
    stored once under its key), and that worker's completion then changes nothing.
    Returns whether this call marked it done.
    """
    now = utcnow()
    result = session.execute(
        update(KinshipJob)
        .where(col(KinshipJob.id) == job_id, col(KinshipJob.status) != JobStatus.done.value)
        .values(
            status=JobStatus.done.value,
            kinship_id=kinship_id,
            mode=mode,
            lease_owner=None,
            lease_until=None,
            next_attempt_at=None,
            last_error=None,
            finished_at=now,
            updated_at=now,
        )
    )
    done = _rowcount(result) == 1
    if not done:
        logger.info("job %s was already done (lease lost to %s?)", job_id, owner)
    return done


def fail_job(
    session: Session,
    *,
    job_id: int,
    owner: str,
    error: str,
    retry_at: datetime | None,
    mode: str | None = None,
) -> str | None:
    """Record a failed attempt: back to ``pending`` until ``retry_at``, or ``failed``
    for good when ``retry_at`` is None.  Returns the new status, or None when ``owner``
    no longer held the job (nothing changed)."""
    now = utcnow()
    status = JobStatus.pending if retry_at is not None else JobStatus.failed
    result = session.execute(
        update(KinshipJob)
        .where(_held(job_id, owner))
        .values(
            status=status.value,
            last_error=error[:MAX_ERROR_CHARS],
            next_attempt_at=retry_at,
            lease_owner=None,
            lease_until=None,
            mode=mode,
            finished_at=now if retry_at is None else None,
            updated_at=now,
        )
    )
    return status.value if _rowcount(result) == 1 else None


def release_job(session: Session, *, job_id: int, owner: str) -> bool:
    """Give an unfinished job back (clean shutdown): ``pending`` now, the attempt
    not counted.  False when ``owner`` no longer held it."""
    result = session.execute(
        update(KinshipJob)
        .where(_held(job_id, owner))
        .values(
            status=JobStatus.pending.value,
            attempts=case((col(KinshipJob.attempts) > 0, col(KinshipJob.attempts) - 1), else_=0),
            lease_owner=None,
            lease_until=None,
            next_attempt_at=None,
            updated_at=utcnow(),
        )
    )
    return _rowcount(result) == 1


class JobNotFoundError(KinhubError, LookupError):
    """Job ids that are not in the queue."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = tuple(ids)
        listed = ", ".join(map(str, self.ids))
        super().__init__(f"no such job: {listed}" if len(ids) == 1 else f"no such jobs: {listed}")


def requeue_jobs(session: Session, *, ids: Sequence[int] = (), failed: bool = False) -> list[int]:
    """Make jobs due again: the ``ids`` given (any status but running), and with
    ``failed`` every failed job.  Attempts start over.  Returns the ids requeued.

    Raises:
        JobNotFoundError: an id in ``ids`` names no job (nothing is requeued).
    """
    conditions: list[ColumnElement[bool]] = []
    if ids:
        known = set(session.exec(select(KinshipJob.id).where(col(KinshipJob.id).in_(list(ids)))))
        missing = sorted({i for i in ids if i not in known})
        if missing:
            raise JobNotFoundError(missing)
        conditions.append(col(KinshipJob.id).in_(list(ids)))
    if failed:
        conditions.append(col(KinshipJob.status) == JobStatus.failed.value)
    if not conditions:
        return []
    query = select(KinshipJob).where(
        or_(*conditions),
        col(KinshipJob.status) != JobStatus.running.value,
        col(KinshipJob.base) != "",  # unmeasurable pairs: re-planned, never retried
    )
    now = utcnow()
    out: list[int] = []
    for row in session.exec(query.order_by(col(KinshipJob.id))):
        row.status = JobStatus.pending.value
        row.attempts = 0
        row.next_attempt_at = None
        row.last_error = None
        row.finished_at = None
        row.updated_at = now
        session.add(row)
        assert row.id is not None
        out.append(row.id)
    session.flush()
    return out


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    ids: Sequence[int] = (),
    limit: int | None = None,
) -> list[KinshipJob]:
    """Jobs by id, filtered by status and kind."""
    query = select(KinshipJob)
    if status:
        query = query.where(col(KinshipJob.status) == JobStatus(status).value)
    if kind:
        query = query.where(col(KinshipJob.kind) == kind)
    if ids:
        query = query.where(col(KinshipJob.id).in_(list(ids)))
    query = query.order_by(col(KinshipJob.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def job_counts(session: Session) -> dict[str, int]:
    """Jobs per status (every status present, zero when none)."""
    out = {s.value: 0 for s in JobStatus}
    query = select(KinshipJob.status, func.count()).group_by(col(KinshipJob.status))
    for status, n in session.exec(query):
        out[status] = int(n)
    return out


def next_due(session: Session, *, now: datetime | None = None) -> datetime | None:
    """When the next pending job that is waiting out a retry backoff becomes due."""
    now = now or utcnow()
    query = select(func.min(KinshipJob.next_attempt_at)).where(
        col(KinshipJob.status) == JobStatus.pending.value,
        col(KinshipJob.next_attempt_at) > now,
    )
    return to_utc(session.exec(query).first())


@dataclass(frozen=True)
class LeaseHolder:
    """A worker holding leases now."""

    owner: str
    jobs: tuple[int, ...]
    lease_until: datetime | None
    expired: bool


def lease_holders(session: Session, *, now: datetime | None = None) -> list[LeaseHolder]:
    """The workers holding running jobs, with their jobs and latest lease deadline."""
    now = now or utcnow()
    query = (
        select(KinshipJob)
        .where(col(KinshipJob.status) == JobStatus.running.value)
        .order_by(col(KinshipJob.lease_owner), col(KinshipJob.id))
    )
    by_owner: dict[str, list[KinshipJob]] = {}
    for row in session.exec(query):
        by_owner.setdefault(row.lease_owner or "?", []).append(row)
    out: list[LeaseHolder] = []
    for owner, rows in by_owner.items():
        deadlines = [d for d in (to_utc(r.lease_until) for r in rows) if d is not None]
        until = max(deadlines, default=None)
        out.append(
            LeaseHolder(
                owner=owner,
                jobs=tuple(r.id for r in rows if r.id is not None),
                lease_until=until,
                expired=until is None or until < now,
            )
        )
    return out


def repos_in_use(session: Session, *, now: datetime | None = None) -> set[str]:
    """Repos of jobs running under a live lease anywhere (their cached weights stay)."""
    now = now or utcnow()
    query = select(KinshipJob.model_a, KinshipJob.model_b, KinshipJob.base).where(
        col(KinshipJob.status) == JobStatus.running.value,
        col(KinshipJob.lease_until) >= now,
    )
    return {repo for row in session.exec(query) for repo in row}
