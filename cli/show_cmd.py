"""``kinhub show``: everything known about one model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from kinhub.db.answers.show import ModelReport, Relative

SHOW_HELP = """\
Everything known about one model: facts, crawl status and last error, its merge
recipe (with the raw text it was read from), parents and children with their roles,
evaluations and kinship results.

JSON: `{"repo_id", "sha", "license", ...facts, "crawl": {"status", "last_error", ...},
"recipes": [...], "parents": [{"id", "relation", "role", "sources", ...,
"weight_check"}] (as in `kinhub lineage`),
"children": [...], "evaluations": [...], "kinship": [...]}`.
"""


def _relatives(title: str, relatives: list[Relative]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("model", "relation", "role", "sources", "weights"):
        table.add_column(column)
    for r in relatives:
        verdict = r.weight_check.get("verdict", "")
        style = {"consistent": "green", "contradicted": "bold red"}.get(verdict, "dim")
        table.add_row(
            text(r.id), text(r.relation), text(r.role), text(r.sources), Text(verdict, style=style)
        )
    return table


def render_report(report: ModelReport) -> None:
    facts = Table(show_header=False, show_edge=False, box=None)
    facts.add_column(style="dim")
    facts.add_column()
    for key, value in {**report.facts, **report.crawl}.items():
        if value not in (None, [], ""):
            facts.add_row(safe(key), text(value))
    stdout.print(Text(safe(report.facts["repo_id"]), style="bold"))
    stdout.print(facts)
    for title, relatives in (("Parents", report.parents), ("Children", report.children)):
        if relatives:
            stdout.print()
            stdout.print(_relatives(title, relatives))
    for recipe in report.recipes:
        stdout.print()
        head = f"Recipe ({recipe['source']}): {recipe['merge_method'] or 'no method'}"
        stdout.print(Text(safe(head), style="bold"))
        for warning in recipe["warnings"]:
            stdout.print(Text(f"warning: {safe(warning)}", style="yellow"), soft_wrap=False)
        raw = safe(recipe["raw_text"].rstrip(), keep_newlines=True)
        stdout.print(Text(raw), soft_wrap=False)
    if report.evaluations:
        table = Table(title="Evaluations", title_justify="left", show_edge=False)
        for column in ("dataset", "metric", "value"):
            table.add_column(column)
        for e in report.evaluations:
            table.add_row(text(e["dataset"]), text(e["metric"]), text(e["value"]))
        stdout.print()
        stdout.print(table)
    if report.kinship:
        table = Table(title="Kinship", title_justify="left", show_edge=False)
        for column in ("a", "b", "base", "cs", "pcc", "ed", "mode"):
            table.add_column(column)
        for k in report.kinship:
            table.add_row(
                *(text(k[c]) for c in ("model_a", "model_b", "base", "cs", "pcc", "ed")),
                text(k["mode"]),
            )
        stdout.print()
        stdout.print(table)


def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id (org/name) as stored.")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.db.answers.show import model_report

    with handle_errors(), database_of(ctx) as database, database.session() as session:
        report = model_report(session, model)
    if fmt is OutputFormat.json:
        print_json(report.to_json())
    else:
        render_report(report)


def register(app: typer.Typer) -> None:
    app.command(
        "show", help=SHOW_HELP, short_help="Everything known about one model.", cls=Command
    )(show)
