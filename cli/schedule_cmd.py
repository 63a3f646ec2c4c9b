"""``kinhub schedule``: the nightly crawl (then the kinship worker) under a run lock.

One *tick* = take the database lock ``kinhub-schedule`` (or record
"skipped: locked" and return), crawl, then drain the kinship queue within a time
budget, and record the whole run as a CrawlRun of kind ``schedule``.  The tick
lives in the CLI layer because it combines ``crawler`` and ``kinship``, which
must not import each other.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import typer
from kinhub.cli.common import OutputFormat, handle_errors, open_db, print_json, stderr, stdout
from kinhub.cli.crawl_cmd import ScopeOption, run_crawl
from kinhub.crawler.crawl import Scope
from kinhub.db.crawl_state import finish_run, record_run, start_run
from kinhub.db.engine import Database
from kinhub.db.errors import KinhubError, LockHeldError
from kinhub.db.locks import acquire
from kinhub.hub.ratelimit import Plan

logger = logging.getLogger(__name__)

LOCK_NAME = "kinhub-schedule"
DEFAULT_CRON = "0 3 * * *"

# The kinship worker's entry point, once kinship/worker.py exists:
#     drain(database: Database, *, budget_s: float) -> dict[str, Any]
# takes jobs until the queue is empty or the budget is spent and returns its counts.
KINSHIP_WORKER_MODULE = "kinhub.kinship.worker"
KINSHIP_WORKER_FUNCTION = "drain"
KinshipStep = Callable[..., dict[str, Any]]


def kinship_step() -> KinshipStep | None:
    """HOOK POINT for the kinship worker: its ``drain`` function, or None while the
    worker is not built yet (the tick then records ``kinship: not available``)."""
    try:
        module = importlib.import_module(KINSHIP_WORKER_MODULE)
    except ModuleNotFoundError:
        return None
    step = getattr(module, KINSHIP_WORKER_FUNCTION, None)
    return step if callable(step) else None


@dataclass
class TickSettings:
    """What each scheduled tick runs."""

    scope: Scope = field(default_factory=Scope)
    plan: Plan = Plan.anonymous
    endpoint: str | None = None
    concurrency: int = 8
    page_size: int = 1000
    retry_base_delay: float = 1.0
    kinship_budget_s: float = 3600.0
    show_progress: bool = False


def run_tick(
    database: Database,
    settings: TickSettings,
    *,
    kinship: KinshipStep | None = None,
    find_kinship: Callable[[], KinshipStep | None] = kinship_step,
) -> dict[str, Any]:
    """One scheduled run; never raises for a crawl failure (it is recorded instead).

    ``kinship`` overrides the worker hook (tests use it to hold the lock open).
    Returns the run's summary: ``status`` ok | failed | skipped, and the counts.
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
        error: str | None = None
        try:
            report = run_crawl(
                database,
                scope=settings.scope,
                plan=settings.plan,
                endpoint=settings.endpoint,
                limit=None,
                since=None,
                concurrency=settings.concurrency,
                page_size=settings.page_size,
                retry_base_delay=settings.retry_base_delay,
                cache_dir=None,
                show_progress=settings.show_progress,
            )
            summary["crawl"] = report.to_dict()
            step = kinship or find_kinship()
            if step is None:
                summary["kinship"] = {"status": "not available"}
            else:
                summary["kinship"] = step(database, budget_s=settings.kinship_budget_s)
        except KinhubError as exc:
            logger.error("scheduled run failed: %s", exc)
            summary["status"], error = "failed", str(exc)[:1000]
        summary["seconds"] = round(time.monotonic() - started, 3)
        with database.session() as session:
            finish_run(
                session,
                run_id,
                status=summary["status"],
                counts={k: v for k, v in summary.items() if k not in ("run_id", "status")},
                error=error,
            )
        return summary
    finally:
        lock.release()


def _print(summary: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(summary)
        return
    if summary["status"] == "skipped":
        stdout.print("skipped: locked (another scheduled run is in progress)", highlight=False)
        return
    crawl = summary.get("crawl", {})
    stdout.print(
        f"scheduled run {summary['run_id']}: {summary['status']}; crawl seen "
        f"{crawl.get('models_seen', 0)}, new {crawl.get('new', 0)}, changed "
        f"{crawl.get('changed', 0)}; kinship {summary.get('kinship', {}).get('status', 'done')}",
        highlight=False,
    )


SCHEDULE_HELP = """\
Run the crawl (then the kinship worker, once it exists) on a cron schedule,
in the foreground, with APScheduler.  A database lock makes sure two runs
never overlap: a run that finds the lock taken records "skipped: locked" and
ends cleanly.  Every run is recorded (kinhub db runs / the crawl_run table).
--once runs one tick now and exits.  See scripts/kinhub.cron and
scripts/kinhub.service + kinhub.timer for system schedulers instead.
"""


def schedule_command(
    ctx: typer.Context,
    cron: str = typer.Option(DEFAULT_CRON, "--cron", help="Crontab expression, in UTC."),
    once: bool = typer.Option(False, "--once", help="Run one tick now and exit."),
    scope: ScopeOption = typer.Option(ScopeOption.merges, "--scope", help="What to crawl."),
    model: str | None = typer.Option(None, "--model", help="The model for children-of."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL."),
    plan: Plan = typer.Option(Plan.anonymous, "--plan", help="Account tier (rate limits)."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=64, help="Downloads."),
    kinship_budget: float = typer.Option(
        3600.0, "--kinship-budget", min=0.0, help="Seconds the kinship worker may run per tick."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    with handle_errors():
        settings = TickSettings(
            scope=Scope.parse(scope.value, model),
            plan=plan,
            endpoint=endpoint,
            concurrency=concurrency,
            kinship_budget_s=kinship_budget,
        )
        database = open_db(ctx)
    try:
        if once:
            _print(run_tick(database, settings), fmt)
            return
        _run_forever(database, settings, cron, fmt)
    finally:
        database.dispose()


def _run_forever(database: Database, settings: TickSettings, cron: str, fmt: OutputFormat) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(cron, timezone=UTC)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cron") from exc
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        lambda: _print(run_tick(database, settings), fmt),
        trigger,
        id="kinhub-nightly",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    stderr.print(f"kinhub schedule: cron {cron!r} (UTC); Ctrl-C to stop", highlight=False)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


schedule_command.__doc__ = SCHEDULE_HELP


def register(app: typer.Typer) -> None:
    app.command("schedule", help=SCHEDULE_HELP)(schedule_command)
