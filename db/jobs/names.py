"""The kinship job queue's kinds and statuses, defined once for the queue and the CLI.

Standard library only: ``kinhub jobs --help`` offers them as choices without
importing the ORM that :mod:`kinhub.db.jobs.keys` (which re-exports them) needs.
"""

from __future__ import annotations

from enum import StrEnum

DEFAULT_MAX_PAIR_JOBS = 100
"""Pair jobs planned per merge at most (``--max-pair-jobs``; the rule that picks them:
:func:`kinhub.db.jobs.pairs.ranked_pairs`)."""


class JobKind(StrEnum):
    pair = "pair"  # two ingredients of a merge against its anchor (or common ancestor)
    edge = "edge"  # a merge child against one of its ingredients


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
