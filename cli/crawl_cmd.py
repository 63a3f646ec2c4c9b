"""``kinhub crawl``: bring the database up to date with the Hub."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from kinhub.cli.common import OutputFormat, handle_errors, open_db, print_json, stderr, stdout
from kinhub.crawler.crawl import CrawlOptions, CrawlProgress, CrawlReport, Scope, crawl
from kinhub.db.engine import Database
from kinhub.db.locks import run_lock
from kinhub.db.timeutil import parse_hub_time
from kinhub.hub.client import HubClient, RetryPolicy
from kinhub.hub.ratelimit import Plan, RateLimits
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

# One crawler per database (DESIGN.md): a second concurrent crawl is refused.
CRAWL_LOCK = "kinhub-crawl"


class ScopeOption(StrEnum):
    merges = "merges"
    children_of = "children-of"
    full = "full"


CRAWL_HELP = """\
Crawl the Hub into the database: list models (newest change first) with
every fact in the listing call, download README.md and mergekit configs only
for models whose sha changed, then follow every referenced parent until the
lineages reach their foundation models.

\b
Scopes:
  merges (default)     models tagged merge, mergekit, lazymergekit or moe
  children-of MODEL    models whose card names MODEL as base model
  full                 every model

Incremental: each listing stops at the newest change seen by the last
complete crawl; an interrupted crawl resumes where it stopped.  The token
comes from HF_TOKEN or `hf auth login` and is never printed or stored.
Progress goes to stderr; the summary to stdout (--format json for JSON).
"""


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_hub_time(value)
    if parsed is None:
        raise typer.BadParameter(f"not an ISO date: {value!r}", param_hint="--since")
    return parsed


def run_crawl(
    database: Database,
    *,
    scope: Scope,
    plan: Plan,
    endpoint: str | None,
    limit: int | None,
    since: datetime | None,
    concurrency: int,
    page_size: int,
    retry_base_delay: float,
    cache_dir: Path | None,
    show_progress: bool,
) -> CrawlReport:
    """One crawl under the ``kinhub-crawl`` lock, with a live progress line on stderr
    (shared by crawl and schedule).

    Raises:
        LockHeldError: another crawl is running against this database.
    """
    with run_lock(database, CRAWL_LOCK):
        hub = HubClient(
            endpoint=endpoint,
            limits=RateLimits.for_plan(plan),
            retry=RetryPolicy(base_delay_s=retry_base_delay),
            cache_dir=cache_dir,
        )
        options = CrawlOptions(
            scope=scope, limit=limit, since=since, concurrency=concurrency, page_size=page_size
        )
        if not show_progress:
            return crawl(database, hub, options)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task(f"crawling {scope.label}")
            return crawl(database, hub, options, progress=_reporter(bar, task, hub))


def _reporter(bar: Progress, task: TaskID, hub: HubClient) -> Callable[[CrawlProgress], None]:
    """A progress callback that keeps one live line of counts on stderr."""

    def report(event: CrawlProgress) -> None:
        c = event.counts
        calls = hub.stats()["calls"]
        where = event.listing or event.phase
        if event.batch_total:
            where += f" [{event.batch_done}/{event.batch_total}]"
        bar.update(
            task,
            description=(
                f"{where}: seen {c['models_seen']}, new {c['new']}, changed {c['changed']}, "
                f"refs {c['references_followed']}, files {c['files_downloaded']}, "
                f"errors {sum(c['errors'].values())} | api {calls['api']} "
                f"resolve {calls['resolve']}"
            ),
        )

    return report


def print_summary(summary: dict[str, Any]) -> None:
    """The human-readable crawl summary on stdout."""
    req = summary["requests"]
    errors = summary["errors"]
    lines = [
        f"crawl {summary['scope']} ({summary['status']}"
        f"{'' if summary['complete'] else ', incomplete'}) in {summary['seconds']:.1f}s",
        f"  models listed {summary['models_seen']} + references followed "
        f"{summary['references_followed']}: new {summary['new']}, "
        f"changed {summary['changed']}, unchanged {summary['unchanged']}",
        f"  files downloaded {summary['files_downloaded']}, edges added {summary['edges_added']}",
        f"  requests: api {req['calls']['api']}, resolve {req['calls']['resolve']} "
        f"(retries api {req['retries']['api']}, resolve {req['retries']['resolve']}; "
        f"rate limited {req['rate_limited']['api'] + req['rate_limited']['resolve']})",
        "  errors: " + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "none"),
    ]
    stdout.print("\n".join(lines), highlight=False)


def crawl_command(
    ctx: typer.Context,
    scope: ScopeOption = typer.Option(ScopeOption.merges, "--scope", help="What to crawl."),
    model: str | None = typer.Argument(None, help="The model for --scope children-of."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Process at most N listed models (resumes next time)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Stop listings at this date (ISO 8601) instead of the last crawl."
    ),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Hub URL (default: HF_ENDPOINT, else huggingface.co)."
    ),
    plan: Plan = typer.Option(
        Plan.anonymous, "--plan", help="Account tier, sets the rate limits per 5 minutes."
    ),
    concurrency: int = typer.Option(
        8, "--concurrency", min=1, max=64, help="Parallel file downloads."
    ),
    page_size: int = typer.Option(
        1000, "--page-size", min=1, max=1000, help="Models per listing call."
    ),
    retry_base_delay: float = typer.Option(
        1.0, "--retry-base-delay", min=0.0, help="First backoff delay in seconds."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line on stderr."),
) -> None:
    with handle_errors():
        parsed_scope = Scope.parse(scope.value, model)
        database = open_db(ctx)
        try:
            report = run_crawl(
                database,
                scope=parsed_scope,
                plan=plan,
                endpoint=endpoint,
                limit=limit,
                since=_since(since),
                concurrency=concurrency,
                page_size=page_size,
                retry_base_delay=retry_base_delay,
                cache_dir=None,
                show_progress=not quiet,
            )
        finally:
            database.dispose()
    summary = report.to_dict()
    if fmt is OutputFormat.json:
        print_json(summary)
    else:
        print_summary(summary)


crawl_command.__doc__ = CRAWL_HELP


def register(app: typer.Typer) -> None:
    app.command("crawl", help=CRAWL_HELP)(crawl_command)
