"""``kinhub schedule``: the nightly crawl, then the kinship worker, on a cron schedule.

The tick itself — lock, crawl, kinship worker within its budget, run record — is
:func:`kinhub.pipeline.tick.run_tick`; this module reads the options, runs ticks on
a cron trigger (or one with ``--once``) and renders their summaries.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

import typer
from kinhub.cli.common import (
    Command,
    ConcurrencyOpt,
    EndpointOpt,
    FormatOpt,
    MaxPairJobsOpt,
    OutputFormat,
    PlanOpt,
    ScopeModelArg,
    ScopeOpt,
    database_of,
    flag,
    handle_errors,
    parse_scope,
    print_json,
    stderr,
    stdout,
)
from kinhub.cli.durations import DURATION_HELP, parse_duration
from kinhub.crawler.names import DEFAULT_SCOPE
from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS
from kinhub.hub.ratelimit import Plan
from kinhub.pipeline.names import DEFAULT_CRON

if TYPE_CHECKING:
    from kinhub.db.engine import Database
    from kinhub.pipeline.tick import TickSettings

logger = logging.getLogger(__name__)


def _print(summary: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(summary)
        return
    if summary["status"] == "skipped":
        stdout.print("skipped: locked (another scheduled run is in progress)", highlight=False)
        return
    crawl = summary.get("crawl", {})
    line = (
        f"scheduled run {summary['run_id']}: {summary['status']}; crawl seen "
        f"{crawl.get('models_seen', 0)}, new {crawl.get('new', 0)}, changed "
        f"{crawl.get('changed', 0)}; kinship {summary.get('kinship', {}).get('status', 'done')}"
    )
    if summary.get("error"):
        line += f"; error: {summary['error']}"
    stdout.print(line, highlight=False)


SCHEDULE_HELP = """\
Run the crawl, then the kinship worker, on a cron schedule (in the foreground,
with APScheduler).

A database lock makes sure two runs never overlap: a run that finds the lock
taken records "skipped: locked" and ends cleanly. Every run is recorded; list
them with `kinhub db runs`. `--once` runs one tick now and exits. For system
schedulers instead, see `scripts/kinhub.cron` and `scripts/kinhub.service` with
`kinhub.timer`.
"""


def schedule_command(
    ctx: typer.Context,
    model: ScopeModelArg = None,
    scope: ScopeOpt = DEFAULT_SCOPE,
    model_option: Annotated[
        str | None, typer.Option("--model", hidden=True, help="Same as MODEL (old spelling).")
    ] = None,
    cron: Annotated[
        str, typer.Option("--cron", metavar="EXPR", help="Crontab expression, in UTC.")
    ] = DEFAULT_CRON,
    once: Annotated[bool, flag("--once", help="Run one tick now and exit.")] = False,
    endpoint: EndpointOpt = None,
    plan: PlanOpt = Plan.anonymous,
    concurrency: ConcurrencyOpt = 8,
    kinship_budget: Annotated[
        str,
        typer.Option(
            "--kinship-budget",
            metavar="DURATION",
            help=f"How long the kinship worker may run per tick ({DURATION_HELP}).",
        ),
    ] = "1h",
    max_pair_jobs: MaxPairJobsOpt = DEFAULT_MAX_PAIR_JOBS,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.pipeline.tick import TickSettings

    if model and model_option and model != model_option:
        raise typer.BadParameter("give the model once (MODEL or --model)")
    with handle_errors():
        settings = TickSettings(
            scope=parse_scope(scope, model or model_option),
            plan=plan,
            endpoint=endpoint,
            concurrency=concurrency,
            kinship_budget_s=parse_duration(kinship_budget, option="--kinship-budget"),
            max_pair_jobs=max_pair_jobs,
        )
        with database_of(ctx) as database:
            if once:
                _tick(database, settings, fmt)
            else:
                _run_forever(database, settings, cron, fmt)


def _tick(database: Database, settings: TickSettings, fmt: OutputFormat) -> None:
    from kinhub.pipeline.tick import run_tick

    summary = run_tick(database, settings)
    _print(summary, fmt)
    if summary["status"] == "failed":
        raise typer.Exit(1)


def _run_forever(database: Database, settings: TickSettings, cron: str, fmt: OutputFormat) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from kinhub.pipeline.tick import run_tick

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


def register(app: typer.Typer) -> None:
    app.command(
        "schedule",
        help=SCHEDULE_HELP,
        short_help="Crawl, then compute kinship, on a cron schedule.",
        cls=Command,
    )(schedule_command)
