"""``kinhub stats``: what the database holds, how fresh it is, what is left to compute."""

from __future__ import annotations

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    OutputFormat,
    database_of,
    handle_errors,
    print_json,
    stdout,
)
from kinhub.cli.render import cell as text
from kinhub.cli.render import safe
from rich.table import Table
from rich.text import Text

STATS_HELP = """\
Counts by relation and merge method, the most-merged models, the distribution of each
kinship metric, crawl freshness (last run, high-water mark) and the kinship job backlog.

JSON: `{"models": {"total", status: n}, "edges": {relation: n}, "methods": {method: n},
"most_merged": [{"id", "merges", "as_base"}], "kinship": {metric: {"count", "min",
"p25", "median", "p75", "max", "mean"}}, "crawl": {"last_run", "last_ok_run",
"high_water", "checkpoints", "last_model_update"}, "jobs": [{"kind", "status", "count"}],
"weight_checks": {"consistent", "contradicted", "unverified"}}` (merge and fine-tune
edges, one per child and parent, by whether the weights agree; unverified includes
those not checked yet).
"""


def _pairs(title: str, values: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, show_header=False)
    table.add_column()
    table.add_column(justify="right")
    for key, value in values.items():
        table.add_row(text(key), text(value))
    return table


def stats(ctx: typer.Context, fmt: FormatOpt = OutputFormat.table) -> None:
    from kinhub.db.answers.stats import database_stats

    with handle_errors(), database_of(ctx) as database, database.session() as session:
        result = database_stats(session)
    if fmt is OutputFormat.json:
        print_json(result.to_json())
        return
    stdout.print(_pairs("Models by status", result.models))
    stdout.print(_pairs("Edges by relation", result.edges))
    stdout.print(_pairs("Merge and fine-tune edges by weight check", result.weight_checks))
    stdout.print(_pairs("Models by merge method", result.methods))
    merged = Table(title="Most merged", title_justify="left", show_edge=False)
    for column in ("model", "merges", "as base"):
        merged.add_column(column)
    for row in result.most_merged:
        merged.add_row(text(row["id"]), text(row["merges"]), text(row["as_base"]))
    stdout.print(merged)
    kinship = Table(title="Kinship", title_justify="left", show_edge=False)
    for column in ("metric", "count", "min", "p25", "median", "p75", "max", "mean"):
        kinship.add_column(column)
    for metric, d in result.kinship.items():
        kinship.add_row(
            text(metric),
            *(text(d[k]) for k in ("count", "min", "p25", "median", "p75", "max", "mean")),
        )
    stdout.print(kinship)
    crawl = result.crawl
    last = crawl["last_run"]
    stdout.print(Text("Crawl", style="bold"))
    shown = (
        f"{last['kind']} {last['scope']} {last['status']} at {last['started_at']}"
        if last
        else "never"
    )
    stdout.print(Text(safe(f"  last run: {shown}")))
    stdout.print(Text(safe(f"  high-water mark: {crawl['high_water'] or 'none'}")))
    jobs = Table(title="Kinship jobs", title_justify="left", show_edge=False)
    for column in ("kind", "status", "count"):
        jobs.add_column(column)
    for row in result.jobs:
        jobs.add_row(text(row["kind"]), text(row["status"]), text(row["count"]))
    stdout.print(jobs if result.jobs else Text("Kinship jobs: none"))


def register(app: typer.Typer) -> None:
    app.command(
        "stats", help=STATS_HELP, short_help="Database-wide counts and freshness.", cls=Command
    )(stats)
