"""Crawler services: one crawl of a database (under the crawl lock, through a Hub
client built from plain settings), and the ingestion of one local model folder.

The ``crawl`` command, the scheduled tick and the demo all call :func:`run_crawl`,
so a crawl is set up the same way wherever it starts.  Nothing here prints: a
caller that wants a live progress line passes a ``progress`` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kinhub.crawler.crawl import CrawlOptions, CrawlProgress, CrawlReport, Scope, crawl
from kinhub.crawler.ingest import read_local_model
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.locks import run_lock
from kinhub.db.store import upsert_model
from kinhub.hub.client import HubClient
from kinhub.hub.ratelimit import Plan, RateLimits
from kinhub.hub.retry import RetryPolicy

logger = logging.getLogger(__name__)

CRAWL_LOCK = "kinhub-crawl"
"""One crawler per database (DESIGN.md): a second concurrent crawl is refused."""

ProgressWithCalls = Callable[[CrawlProgress, dict[str, Any]], None]
"""A progress callback that also receives the Hub requests made so far
(``{"api": n, "resolve": n}``)."""


@dataclass(frozen=True)
class CrawlSettings:
    """Everything one crawl needs besides the database.

    ``limit`` bounds the listed models processed this run (the next run resumes);
    ``since`` replaces the stored high-water mark as the date listings stop at;
    ``cache_dir`` is the Hugging Face cache for downloaded files (None: the
    client's default, i.e. ``HF_HOME``).
    """

    scope: Scope = field(default_factory=Scope)
    plan: Plan = Plan.anonymous
    endpoint: str | None = None
    limit: int | None = None
    since: datetime | None = None
    concurrency: int = 8
    page_size: int = 1000
    retry_base_delay: float = 1.0
    cache_dir: Path | None = None


def hub_client(settings: CrawlSettings) -> HubClient:
    """The Hub client a crawl with ``settings`` uses (rate limits of its plan)."""
    return HubClient(
        endpoint=settings.endpoint,
        limits=RateLimits.for_plan(settings.plan),
        retry=RetryPolicy(base_delay_s=settings.retry_base_delay),
        cache_dir=settings.cache_dir,
    )


def run_crawl(
    database: Database,
    *,
    settings: CrawlSettings,
    progress: ProgressWithCalls | None = None,
) -> CrawlReport:
    """One crawl of ``settings.scope`` into ``database`` under the ``kinhub-crawl`` lock.

    Raises:
        LockHeldError: another crawl is running against this database.
        CrawlerError, HubError, DatabaseError: the crawl could not run.
    """
    with run_lock(database, CRAWL_LOCK):
        hub = hub_client(settings)
        options = CrawlOptions(
            scope=settings.scope,
            limit=settings.limit,
            since=settings.since,
            concurrency=settings.concurrency,
            page_size=settings.page_size,
        )
        logger.info("crawl %s via %s", settings.scope.label, settings.endpoint or "default Hub")
        if progress is None:
            return crawl(database, hub, options)

        def report(event: CrawlProgress) -> None:
            progress(event, dict(hub.stats()["calls"]))

        return crawl(database, hub, options, progress=report)


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest_folder` stored; ``to_dict`` is the JSON summary."""

    repo_id: str
    sha: str | None
    outcome: str  # new | changed | unchanged
    edges: int
    parents: list[str]
    warnings: list[str]
    jobs_queued: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "sha": self.sha,
            "outcome": self.outcome,
            "edges": self.edges,
            "parents": self.parents,
            "warnings": self.warnings,
            "jobs_queued": self.jobs_queued,
        }


def ingest_folder(database: Database, *, folder: Path, repo_id: str) -> IngestReport:
    """Record a local model folder (a mergekit output) as ``repo_id`` with its edges;
    idempotent.

    Raises:
        LocalModelError: the folder cannot be read.
        InvalidRepoIdError: ``repo_id`` is not ``org/name``.
    """
    local = read_local_model(folder, repo_id=repo_id)
    record = local.record
    with database.session() as session:
        outcome = upsert_model(session, record)
        queued = (
            enqueue_for_models(session, [record.repo_id]) if outcome.value != "unchanged" else None
        )
    return IngestReport(
        repo_id=record.repo_id,
        sha=record.sha,
        outcome=outcome.value,
        edges=len(record.edges),
        parents=sorted({e.parent for e in record.edges}),
        warnings=list(local.warnings),
        jobs_queued=queued.inserted if queued else 0,
    )


__all__ = [
    "CRAWL_LOCK",
    "CrawlSettings",
    "IngestReport",
    "ProgressWithCalls",
    "hub_client",
    "ingest_folder",
    "run_crawl",
]
