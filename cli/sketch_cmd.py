"""``kinhub sketch [MODEL...] [--all]``: read and store per-model sketches."""

from __future__ import annotations

from typing import Annotated

import typer
from kinhub.cli.common import (
    Command,
    EndpointOpt,
    FormatOpt,
    OutputFormat,
    database_of,
    flag,
    handle_errors,
    print_json,
    stderr,
    stdout,
)
from kinhub.cli.show_cmd import text
from rich.table import Table

# Defaults of kinhub.kinship.sketch_plan, repeated so --help needs no numpy.
DEFAULT_SIZE = 65_536
DEFAULT_BLOCK = 256

SKETCH_HELP = f"""\
Read and store a **sketch** of each model's current revision: its values at
coordinates shared by every model with the same tensor names and shapes (chosen
from the names, shapes and a fixed seed, stratified over tensors, in blocks of
neighbouring elements), so kinship of any pair of a family is then answered from
the database (`kinhub kinship --sketch`, `kinhub worker --mode sketch`).

A sketch has about `--size` values whatever the model's size (default
{DEFAULT_SIZE:,}: 256 KiB stored, ~128 KiB read from a bf16 model). Reading one costs
a `model_info`, one resolver request per safetensors file, and Range reads at the
location each file redirects to (neighbouring blocks share a request).

After sketching, the declared lineage of the sketched models and of their children is
checked against the weights (`weight_check` in `kinhub lineage` and `kinhub show`;
`--all`: every merge and fine-tune in the database); the table ends with the counts.

`--all` adds every model in the database with weights and no sketch of its current
revision. A model whose sketch of its current revision is stored is skipped
(`"status": "stored"`) unless `--force`.

JSON: `[{{"model", "sha", "status", "values", "bytes_read", "requests",
"cdn_requests", "reresolves", "seconds", "plan", "error"}}]` (`requests`: resolver
requests; `status`: sketched | stored | failed).
"""


def sketch(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None,
        typer.Argument(metavar="[MODEL]...", help="Hub ids org/name[@revision]."),
    ] = None,
    all_models: Annotated[
        bool, flag("--all", help="Also every model with weights and no current sketch.")
    ] = False,
    size: Annotated[
        int, typer.Option("--size", metavar="N", min=64, help="Values per sketch.")
    ] = DEFAULT_SIZE,
    block: Annotated[
        int, typer.Option("--block", metavar="N", min=1, help="Elements per block.")
    ] = DEFAULT_BLOCK,
    force: Annotated[bool, flag("--force", help="Read again even if stored.")] = False,
    endpoint: EndpointOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.kinship.sketch import sketch_models
    from kinhub.kinship.weight_check_service import check_models

    if not models and not all_models:
        stderr.print("[red]error:[/red] name models or give --all", highlight=False)
        raise typer.Exit(2)
    with handle_errors(), database_of(ctx) as database:
        outcomes = sketch_models(
            database,
            models or [],
            all_models=all_models,
            endpoint=endpoint,
            size=size,
            block=block,
            force=force,
        )
        done = [o.model for o in outcomes if o.status != "failed"]
        checks = check_models(database, None if all_models else done)
    docs = [o.to_dict() for o in outcomes]
    if fmt is OutputFormat.json:
        print_json(docs)
    else:
        table = Table(show_edge=False)
        columns = ("model", "sha", "status", "values", "bytes_read", "requests", "cdn_requests")
        for column in (*columns, "seconds"):
            table.add_column(column)
        for d in docs:
            sha = (d["sha"] or "")[:12]
            row = [text(d[c]) if c != "sha" else text(sha) for c in columns]
            table.add_row(*row, text(f"{d['seconds']:.2f}"))
        stdout.print(table)
        c = checks.to_dict()
        stdout.print(
            f"weight checks of {c['children']} model(s): {c['consistent']} consistent, "
            f"{c['contradicted']} contradicted, {c['unverified']} unverified",
            highlight=False,
        )
        for d in docs:
            if d["error"]:
                stderr.print(f"[red]{d['model']}:[/red] {d['error']}", highlight=False)
    if any(d["status"] == "failed" for d in docs):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(
        "sketch",
        help=SKETCH_HELP,
        short_help="Read and store per-model sketches (kinship without weights).",
        cls=Command,
    )(sketch)
