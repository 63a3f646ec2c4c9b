"""``kinhub crawl``: bring the database up to date with the Hub."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
)
from kinhub.cli.durations import DURATION_HELP, parse_duration
from kinhub.cli.render import live_progress, print_crawl_summary
from kinhub.crawler.names import DEFAULT_SCOPE
from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS
from kinhub.hub.ratelimit import Plan

CRAWL_HELP = """\
Crawl the Hub into the database.

Lists models (newest change first) with every fact in the listing call,
downloads README.md and mergekit configs only for models whose sha changed,
then follows every referenced parent until the lineages reach their
foundation models.

Scopes:

* `merges` (default): models tagged merge, mergekit, lazymergekit or moe
* `children-of MODEL`: models whose card names MODEL as base model
* `full`: every model

Incremental: each listing stops at the newest change seen by the last complete
crawl; an interrupted crawl resumes where it stopped. The token comes from
`HF_TOKEN` or `hf auth login` and is never printed or stored. Progress goes to
stderr, the summary to stdout (`--format json` for JSON).
"""


def _since(value: str | None) -> datetime | None:
    from kinhub.db.timeutil import parse_hub_time

    if value is None:
        return None
    parsed = parse_hub_time(value)
    if parsed is None:
        raise typer.BadParameter(f"not an ISO date: {value!r}", param_hint="--since")
    return parsed


def crawl_command(
    ctx: typer.Context,
    model: ScopeModelArg = None,
    scope: ScopeOpt = DEFAULT_SCOPE,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            metavar="N",
            help="Process at most N listed models (resumes next time).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Stop listings at this date (ISO 8601) instead of the last crawl.",
        ),
    ] = None,
    endpoint: EndpointOpt = None,
    plan: PlanOpt = Plan.anonymous,
    concurrency: ConcurrencyOpt = 8,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=1000, help="Models per listing call.")
    ] = 1000,
    retry_base_delay: Annotated[
        str,
        typer.Option(
            "--retry-base-delay",
            metavar="DURATION",
            help=f"First backoff delay ({DURATION_HELP}).",
        ),
    ] = "1s",
    max_pair_jobs: MaxPairJobsOpt = DEFAULT_MAX_PAIR_JOBS,
    fmt: FormatOpt = OutputFormat.table,
    quiet: Annotated[bool, flag("--quiet", "-q", help="No progress line on stderr.")] = False,
) -> None:
    from kinhub.pipeline.crawl import CrawlSettings, run_crawl

    with handle_errors():
        settings = CrawlSettings(
            scope=parse_scope(scope, model),
            plan=plan,
            endpoint=endpoint,
            limit=limit,
            since=_since(since),
            concurrency=concurrency,
            page_size=page_size,
            retry_base_delay=parse_duration(retry_base_delay, option="--retry-base-delay"),
            max_pair_jobs=max_pair_jobs,
        )
        with database_of(ctx) as database:
            if quiet:
                report = run_crawl(database, settings=settings)
            else:
                with live_progress(f"crawling {settings.scope.label}") as progress:
                    report = run_crawl(database, settings=settings, progress=progress)
    summary = report.to_dict()
    if fmt is OutputFormat.json:
        print_json(summary)
    else:
        print_crawl_summary(summary)


def register(app: typer.Typer) -> None:
    app.command(
        "crawl", help=CRAWL_HELP, short_help="Crawl the Hub into the database.", cls=Command
    )(crawl_command)
