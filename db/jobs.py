"""The kinship job queue's schema-level vocabulary: kinds, statuses and the job key.

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
from dataclasses import dataclass
from enum import StrEnum

from kinhub.db.models import KinshipJob
from sqlmodel import Session, select


class JobKind(StrEnum):
    pair = "pair"  # two ingredients of a merge against its anchor (or common ancestor)
    edge = "edge"  # a merge child against one of its ingredients


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


@dataclass(frozen=True)
class JobTarget:
    """What a job computes, in canonical order (``model_a < model_b``)."""

    kind: str
    model_a: str
    model_b: str
    base: str
    revision_a: str | None = None
    revision_b: str | None = None
    revision_base: str | None = None

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
