"""The revisions a kinship job names: stored ones only.

A job is planned from the revisions stored for its models (a pinned full commit
sha in the recipe wins for an input).  A model not fetched yet (``pending``), or
one without a sha whose fetch failed (``error``: a crawl that failed midway),
defers the job until it is read; a model that cannot be read without a change on
the Hub (gated, not found, private) and has no sha makes the job a ``failed``
record with the reason, never a pending job without a revision.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class ModelRow(NamedTuple):
    """The columns of a model row the planner reads (no ORM objects: plans touch many)."""

    id: int
    repo_id: str
    sha: str | None
    status: str
    downloads: int | None


# Statuses of models whose files were never read and never will be without a change
# on the Hub: without a stored revision their jobs are recorded as failed, with why.
NEVER_READ = frozenset({"gated", "not_found", "private"})
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


class Deferred(Exception):
    """A model of the job has not been fetched yet."""


class Unreadable(Exception):
    """A model of the job has no stored revision and none will come without a change
    on the Hub (gated, not found, private): the job is recorded as failed, with why."""


def job_revision(row: ModelRow, pinned: str | None = None) -> str:
    """The revision a job names for ``row``: jobs are planned only from stored
    revisions, never with a missing one (a crawl that failed midway leaves models in
    ``error`` without a sha: their jobs wait until they are read)."""
    if row.status == "pending":
        raise Deferred(row.repo_id)
    if pinned and COMMIT_SHA.match(pinned):
        return pinned
    if row.sha is None:
        if row.status in NEVER_READ:
            raise Unreadable(f"{row.repo_id} is {row.status}: no revision to measure")
        raise Deferred(row.repo_id)
    return row.sha


def known_revision(row: ModelRow, pinned: str | None) -> str | None:
    """:func:`job_revision`, or None when the model has none to name."""
    try:
        return job_revision(row, pinned)
    except (Deferred, Unreadable):
        return None


__all__ = [
    "COMMIT_SHA",
    "NEVER_READ",
    "Deferred",
    "ModelRow",
    "Unreadable",
    "job_revision",
    "known_revision",
]
