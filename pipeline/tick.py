"""The nightly tick — what happens at 3 a.m.: under the ``kinhub-schedule`` lock, crawl
(which queues kinship jobs for what changed), then run the kinship worker within a time
budget, recorded as one run.

:func:`run_tick` reads in that order:

1. take the database lock, or record a ``skipped: locked`` run and return;
2. open the run record (a CrawlRun of kind ``schedule``);
3. crawl, as ``kinhub crawl`` does (:func:`kinhub.pipeline.crawl.run_crawl`);
4. compute the queued jobs with the worker until none is due or the budget is spent
   (:func:`kinhub.pipeline.worker.drain`);
5. close the run record with the crawl's and the worker's counts, and release the lock.

Every run record ends ``ok``, ``failed`` or ``skipped`` — never left ``running`` —
whatever the tick raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kinhub.crawler.scope import Scope
from kinhub.db.crawl_state import finish_run, mark_interrupted, record_run, start_run
from kinhub.db.engine import Database
from kinhub.db.errors import KinhubError, LockHeldError
from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS
from kinhub.db.locks import acquire
from kinhub.hub.ratelimit import Plan
from kinhub.pipeline.crawl import CrawlSettings, run_crawl
from kinhub.pipeline.names import DEFAULT_CRON
from kinhub.pipeline.worker import drain

logger = logging.getLogger(__name__)

LOCK_NAME = "kinhub-schedule"
_MAX_ERROR_CHARS = 1000

AfterCrawl = Callable[[Database, float], dict[str, Any]]
"""A stand-in for the worker step, ``(database, budget_s) -> counts`` (tests use one to
hold a tick inside its lock, or to fail it); its result is recorded under ``kinship``."""


@dataclass(frozen=True)
class TickSettings:
    """What each scheduled tick runs."""

    scope: Scope = field(default_factory=Scope)
    plan: Plan = Plan.anonymous
    endpoint: str | None = None
    concurrency: int = 8
    page_size: int = 1000
    retry_base_delay: float = 1.0
    kinship_budget_s: float = 3600.0
    max_pair_jobs: int = DEFAULT_MAX_PAIR_JOBS

    def crawl_settings(self) -> CrawlSettings:
        return CrawlSettings(
            max_pair_jobs=self.max_pair_jobs,
            scope=self.scope,
            plan=self.plan,
            endpoint=self.endpoint,
            concurrency=self.concurrency,
            page_size=self.page_size,
            retry_base_delay=self.retry_base_delay,
        )


def run_tick(
    database: Database,
    settings: TickSettings,
    *,
    after_crawl: AfterCrawl | None = None,
) -> dict[str, Any]:
    """One scheduled run, recorded in the ``crawl_run`` table.

    ``after_crawl`` replaces the kinship worker (None: the worker, on the crawl's Hub
    and account tier, for ``settings.kinship_budget_s`` seconds).

    Returns the run's summary: ``run_id``, ``status`` (ok | failed | skipped),
    ``crawl`` (the crawl report), ``kinship`` (the worker's counts), ``seconds``, and
    ``error`` when it failed.  A kinhub error fails the run and is returned, not raised.

    Raises:
        Exception: anything that is not a kinhub error (a bug, an interrupt) is
            re-raised after the run has been recorded as ``failed`` with it.
    """
    started = time.monotonic()
    try:
        lock = acquire(database, LOCK_NAME)
    except LockHeldError as exc:
        logger.warning("another scheduled run holds the lock; skipping")
        return _record_skipped(database, settings, holder=exc.owner)
    try:
        with database.session() as session:
            # Holding the lock: a ``running`` tick on record was killed (SIGKILL).
            mark_interrupted(session, kind="schedule")
            run_id = start_run(session, kind="schedule", scope=settings.scope.label)
        summary: dict[str, Any] = {"run_id": run_id, "status": "ok"}
        unexpected: BaseException | None = None
        try:
            report = run_crawl(database, settings=settings.crawl_settings())
            summary["crawl"] = report.to_dict()
            if after_crawl is None:
                summary["kinship"] = drain(
                    database,
                    budget_s=settings.kinship_budget_s,
                    endpoint=settings.endpoint,
                    plan=settings.plan,
                )
            else:
                summary["kinship"] = after_crawl(database, settings.kinship_budget_s)
        except KinhubError as exc:
            logger.error("scheduled run failed: %s", exc)
            summary["status"], summary["error"] = "failed", str(exc)[:_MAX_ERROR_CHARS]
        except BaseException as exc:
            # Recorded before it propagates, so the run never stays "running".
            logger.exception("scheduled run failed unexpectedly")
            summary["status"] = "failed"
            summary["error"] = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
            unexpected = exc
        summary["seconds"] = round(time.monotonic() - started, 3)
        with database.session() as session:
            finish_run(
                session,
                run_id,
                status=summary["status"],
                counts={k: v for k, v in summary.items() if k not in ("run_id", "status", "error")},
                error=summary.get("error"),
            )
        if unexpected is not None:
            raise unexpected
        return summary
    finally:
        lock.release()


def _record_skipped(
    database: Database, settings: TickSettings, *, holder: str | None
) -> dict[str, Any]:
    """The run record of a tick that found the lock taken, and its summary."""
    with database.session() as session:
        run_id = record_run(
            session,
            kind="schedule",
            scope=settings.scope.label,
            status="skipped",
            counts={"reason": "locked"},
            error="skipped: locked",
        )
    return {"run_id": run_id, "status": "skipped", "reason": "locked", "holder": holder}


__all__ = ["DEFAULT_CRON", "LOCK_NAME", "AfterCrawl", "TickSettings", "run_tick"]
