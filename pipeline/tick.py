"""The scheduled tick: crawl, then a post-crawl step (the kinship worker), as one
recorded run under the ``kinhub-schedule`` lock.

One *tick* takes the database lock (or records ``skipped: locked`` and returns),
crawls, then runs ``after_crawl`` within a time budget, and records the whole
run as a CrawlRun of kind ``schedule``.  The post-crawl step is injected:
``crawler`` may not import ``kinship``, so the CLI hands in the kinship worker's
entry point.  Every run record ends ``ok``, ``failed`` or ``skipped`` — never
left ``running`` — whatever the tick raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kinhub.crawler.crawl import Scope
from kinhub.db.crawl_state import finish_run, record_run, start_run
from kinhub.db.engine import Database
from kinhub.db.errors import KinhubError, LockHeldError
from kinhub.db.locks import acquire
from kinhub.hub.ratelimit import Plan
from kinhub.pipeline.crawl import CrawlSettings, run_crawl
from kinhub.pipeline.names import DEFAULT_CRON

logger = logging.getLogger(__name__)

LOCK_NAME = "kinhub-schedule"
_MAX_ERROR_CHARS = 1000

AfterCrawl = Callable[[Database, float], dict[str, Any]]
"""The post-crawl step: ``(database, budget_s) -> counts``.  The CLI wires the
kinship worker here; its result is recorded under the run's ``kinship`` key."""


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

    def crawl_settings(self) -> CrawlSettings:
        return CrawlSettings(
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

    Returns the run's summary: ``run_id``, ``status`` (ok | failed | skipped),
    ``crawl`` (the crawl report), ``kinship`` (what ``after_crawl`` returned, or
    ``{"status": "not available"}`` without one), ``seconds``, and ``error`` when
    it failed.  A kinhub error fails the run and is returned, not raised.

    Raises:
        Exception: anything that is not a kinhub error (a bug, an interrupt) is
            re-raised after the run has been recorded as ``failed`` with it.
    """
    started = time.monotonic()
    try:
        lock = acquire(database, LOCK_NAME)
    except LockHeldError as exc:
        logger.warning("another scheduled run holds the lock; skipping")
        with database.session() as session:
            run_id = record_run(
                session,
                kind="schedule",
                scope=settings.scope.label,
                status="skipped",
                counts={"reason": "locked"},
                error="skipped: locked",
            )
        return {"run_id": run_id, "status": "skipped", "reason": "locked", "holder": exc.owner}
    try:
        with database.session() as session:
            run_id = start_run(session, kind="schedule", scope=settings.scope.label)
        summary: dict[str, Any] = {"run_id": run_id, "status": "ok"}
        unexpected: BaseException | None = None
        try:
            report = run_crawl(database, settings=settings.crawl_settings())
            summary["crawl"] = report.to_dict()
            if after_crawl is None:
                summary["kinship"] = {"status": "not available"}
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


__all__ = ["DEFAULT_CRON", "LOCK_NAME", "AfterCrawl", "TickSettings", "run_tick"]
