"""Crawl-then-queue: one crawl of a database (under the crawl lock, through a Hub
client built from plain settings) that queues the kinship jobs of every model it
writes, in the transaction that writes it.

The ``crawl`` command, the scheduled tick and the demo all call :func:`run_crawl`,
so a crawl is set up the same way wherever it starts.  The crawler knows nothing of
kinship jobs: it calls the ``on_written`` hook this module hands it, which
queues them.  Nothing here prints: a caller that wants a live progress line passes
a ``progress`` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kinhub.crawler.crawl import CrawlOptions, CrawlProgress, CrawlReport, crawl
from kinhub.crawler.scope import Scope
from kinhub.crawler.written import OnWritten
from kinhub.db.crawl_state import mark_interrupted
from kinhub.db.engine import Database
from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.locks import run_lock
from kinhub.db.settings import remember_hub
from kinhub.hub.client import HubClient
from kinhub.hub.ratelimit import Plan, RateLimits
from kinhub.hub.retry import RetryPolicy
from sqlmodel import Session

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
    max_pair_jobs: int = DEFAULT_MAX_PAIR_JOBS


def hub_client(settings: CrawlSettings) -> HubClient:
    """The Hub client a crawl with ``settings`` uses (rate limits of its plan)."""
    return HubClient(
        endpoint=settings.endpoint,
        limits=RateLimits.for_hub(settings.endpoint, settings.plan),
        retry=RetryPolicy(base_delay_s=settings.retry_base_delay),
        cache_dir=settings.cache_dir,
    )


def _remember_hub(database: Database, endpoint: str, plan: Plan) -> None:
    """Store the crawl's Hub (URL and plan, never a token) so a worker reads the
    weights of the models queued here from the same Hub (``kinhub.db.settings``)."""
    try:
        with database.write_transaction() as session:
            remember_hub(session, endpoint=endpoint, plan=plan.value)
    except ValueError as exc:
        logger.warning("not storing the crawl's Hub endpoint: %s", exc)


def _job_queuer(max_pair_jobs: int) -> OnWritten:
    """The crawler's ``on_written`` hook: queue the kinship jobs that writing
    ``repo_ids`` calls for (at most ``max_pair_jobs`` pair jobs per merge), in the
    writing transaction (a crash never leaves edges without their jobs); the number
    of jobs inserted."""

    def queue(session: Session, repo_ids: list[str]) -> int:
        return enqueue_for_models(session, repo_ids, max_pair_jobs=max_pair_jobs).inserted

    return queue


def crawl_then_queue(
    database: Database,
    hub: HubClient,
    options: CrawlOptions,
    *,
    progress: Callable[[CrawlProgress], None] | None = None,
    max_pair_jobs: int = DEFAULT_MAX_PAIR_JOBS,
) -> CrawlReport:
    """One crawl through ``hub`` that queues the kinship jobs of what it writes
    (no lock: :func:`run_crawl` is the guarded entry point; benchmarks and tests
    bring their own client).

    Raises:
        CrawlerError, HubError, DatabaseError: the crawl could not run.
    """
    return crawl(database, hub, options, progress=progress, on_written=_job_queuer(max_pair_jobs))


def run_crawl(
    database: Database,
    *,
    settings: CrawlSettings,
    progress: ProgressWithCalls | None = None,
) -> CrawlReport:
    """One crawl of ``settings.scope`` into ``database`` under the ``kinhub-crawl`` lock,
    queueing the kinship jobs of every model it writes.

    Raises:
        LockHeldError: another crawl is running against this database.
        CrawlerError, HubError, DatabaseError: the crawl could not run.
    """
    with run_lock(database, CRAWL_LOCK):
        with database.session() as session:
            # No live crawl can hold the lock we hold: a ``running`` crawl on record
            # belongs to a process that was killed (SIGKILL, power loss).
            closed = mark_interrupted(session, kind="crawl")
        if closed:
            logger.warning("%d crawl run(s) left running by a killed process: interrupted", closed)
        hub = hub_client(settings)
        _remember_hub(database, hub.endpoint, settings.plan)
        options = CrawlOptions(
            scope=settings.scope,
            limit=settings.limit,
            since=settings.since,
            concurrency=settings.concurrency,
            page_size=settings.page_size,
        )
        logger.info("crawl %s via %s", settings.scope.label, settings.endpoint or "default Hub")
        cap = settings.max_pair_jobs
        if progress is None:
            return crawl_then_queue(database, hub, options, max_pair_jobs=cap)

        def report(event: CrawlProgress) -> None:
            progress(event, dict(hub.stats()["calls"]))

        return crawl_then_queue(database, hub, options, progress=report, max_pair_jobs=cap)


__all__ = [
    "CRAWL_LOCK",
    "CrawlSettings",
    "ProgressWithCalls",
    "crawl_then_queue",
    "hub_client",
    "run_crawl",
]
