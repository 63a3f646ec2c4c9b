"""Reparse-then-queue: re-read the stored texts with the current parser (no Hub
access) and queue the kinship jobs that rewritten edges call for, in the transaction
of each rewritten batch.

``kinhub db reparse`` calls :func:`run_reparse`; the re-parse itself is
:func:`kinhub.crawler.reparse.reparse`, which knows nothing of kinship jobs and
calls the ``on_written`` hook handed to it here.
"""

from __future__ import annotations

from collections.abc import Callable

from kinhub.crawler.reparse import ReparseProgress, ReparseReport, reparse
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import enqueue_for_models
from sqlmodel import Session


def _queue_kinship_jobs(session: Session, repo_ids: list[str]) -> int:
    # New roles mean new jobs: queued with the edges they follow from.
    return enqueue_for_models(session, repo_ids).inserted


def run_reparse(
    database: Database,
    *,
    all_models: bool = False,
    batch_size: int = 200,
    progress: Callable[[ReparseProgress], None] | None = None,
) -> ReparseReport:
    """Re-parse every model whose texts were read by an older parser (every model with
    stored texts when ``all_models``), rewrite its edges, recipes and evaluations where
    they differ, and queue the kinship jobs of the rewritten models (the report's
    ``jobs_queued``).

    Raises:
        DatabaseError: the database cannot be reached.
    """
    return reparse(
        database,
        all_models=all_models,
        batch_size=batch_size,
        progress=progress,
        on_written=_queue_kinship_jobs,
    )


__all__ = ["run_reparse"]
