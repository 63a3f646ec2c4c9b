"""``kinhub relatives MODEL``: the models whose weight changes are closest to MODEL's."""

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
from kinhub.cli.render import cell, esc

if TYPE_CHECKING:
    from kinhub.kinship.relatives import Relatives

# Defaults of kinhub.kinship.relatives, repeated so --help needs no numpy.
DEFAULT_TOP = 10
MAX_TOP = 10_000

RELATIVES_HELP = f"""\
The `--top` models whose **weight changes** are closest to MODEL's, among the
models with a stored sketch of the same plan (the same tensor names and shapes;
`kinhub sketch` stores them), with `declared` telling whether the genealogy
already links the two (one is an ancestor of the other through stored edges).
An undeclared model near the top is a candidate undocumented parent or child.

A weight change is a model minus the base: `--base`, else MODEL's declared root
(its farthest ancestor with a sketch of the same plan). `similarity` is the `cs`
of `kinhub kinship MODEL X --base BASE --sketch`. Candidates are picked by a
compact per-model summary of the sketch, then the best {DEFAULT_TOP * 10}+ are
compared in full (`--shortlist`).

JSON: `{{"model", "sha", "base", "base_sha", "base_from", "plan", "candidates",
"shortlist", "seconds", "relatives": [{{"model", "sha", "similarity", "declared",
"projected"}}]}}` (`candidates`: models with a sketch of the plan; `projected`:
the summary's estimate of the similarity).
"""


def relatives(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Hub id org/name[@commit].")],
    top: Annotated[
        int,
        typer.Option("--top", metavar="K", min=1, max=MAX_TOP, help="How many relatives."),
    ] = DEFAULT_TOP,
    base: Annotated[
        str | None,
        typer.Option(
            "--base", metavar="MODEL", help="Measure changes from this model (default: declared)."
        ),
    ] = None,
    shortlist: Annotated[
        int | None,
        typer.Option(
            "--shortlist",
            metavar="N",
            min=1,
            help="Full sketches compared (default: max(10·K, 100)).",
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.kinship.relatives import find_relatives

    with handle_errors(), database_of(ctx) as database:
        found = find_relatives(database, model, top=top, base=base, shortlist=shortlist)
    if fmt is OutputFormat.json:
        print_json(found.to_json())
    else:
        _print_table(found)


def _print_table(found: Relatives) -> None:
    from rich.table import Table

    stdout.print(
        f"relatives of {esc(found.model)} by weight change from {esc(found.base)}"
        f" ({'declared base' if found.base_declared else '--base'})",
        highlight=False,
    )
    stdout.print(
        f"{found.shortlist:,} of {found.candidates:,} sketches of plan {found.plan[:12]}"
        f" compared in full, {found.seconds * 1000:.0f} ms",
        style="dim",
        highlight=False,
    )
    table = Table(show_edge=False)
    for column in ("#", "model", "similarity", "declared", "sha"):
        table.add_column(column, overflow="fold")
    for i, r in enumerate(found.relatives, start=1):
        table.add_row(
            str(i),
            cell(r.model),
            f"{r.similarity:.4f}",
            "yes" if r.declared else "no",
            cell(r.sha[:12]),
        )
    stdout.print(table)


def register(app: typer.Typer) -> None:
    app.command(
        "relatives",
        help=RELATIVES_HELP,
        short_help="Models whose weight changes are closest to a model's (from sketches).",
        cls=Command,
    )(relatives)
