"""``kinhub kinship A B --base Z``: parse options, call the kinship service, render."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    OutputFormat,
    database_of,
    flag,
    handle_errors,
    print_json,
    stderr,
    stdout,
)
from kinhub.cli.render import MISSING, cell, esc, json_safe, print_kinship, safe
from kinhub.kinship import metrics as registry
from kinhub.kinship.names import DEFAULT_DEVICE, Device
from rich.text import Text

KINSHIP_HELP = """\
Kinship of A and B against `--base`: cosine (cs), Pearson (pcc), Euclidean
distance (ed), and the other metrics of `--metrics`.

A model is a local folder (`./path`, `/path`, `~/path`) or a Hub id
`org/name[@revision]`. Results are stored in the selected database (root `--db`,
`KINHUB_DB`, else the default one); an identical later request is answered from
it without reading weights (`"cached": true`, with the `seconds` and
`computed_at` of the original computation), and asking for more metrics later
adds them to the stored measurement.

JSON: `{"a", "b", "base", "metrics": {name: value}, "intervals",
"params_compared", "bytes_read", "seconds", "computed_at", "dropped", "mode",
"convention", "revisions", "cached", "warnings", ...}`.

`--sample` computes exactly when sampling cannot save bytes (the three models'
compared weights are under 16 MiB, or the sampled blocks would cover 80% of
them): `"mode": "exact"`, `"sampled": false` and a `"note"` saying why.

When the stored genealogy knows A and B and `--base` is not an ancestor of both,
a warning goes to stderr and into `"warnings"`, and is kept with the stored result.

`--sketch` answers from the stored sketches of the three Hub models (`kinhub
sketch`): `"mode": "sketch"`, a 95% interval per metric, no Hub request when all
three sketches are stored.
"""


def kinship(
    ctx: typer.Context,
    a: Annotated[
        str, typer.Argument(metavar="A", help="Model A: local folder or org/name[@revision].")
    ],
    b: Annotated[
        str, typer.Argument(metavar="B", help="Model B: local folder or org/name[@revision].")
    ],
    base: Annotated[
        str,
        typer.Option("--base", metavar="MODEL", help="The base both task vectors are taken from."),
    ],
    metrics: Annotated[
        str,
        typer.Option(
            "--metrics", metavar="LIST", help=f"Comma-separated: {', '.join(registry.known())}."
        ),
    ] = ",".join(registry.DEFAULT_METRICS),
    per_tensor: Annotated[bool, flag("--per-tensor", help="Include per-tensor values.")] = False,
    fmt: FormatOpt = OutputFormat.table,
    device: Annotated[Device, typer.Option("--device", help="Where to compute.")] = DEFAULT_DEVICE,
    dry_run: Annotated[
        bool, flag("--dry-run", help="Show the plan from the weights' headers; read no tensors.")
    ] = False,
    sample: Annotated[
        float | None,
        typer.Option(
            "--sample",
            metavar="FRACTION",
            help="Estimate from this fraction (0 < FRACTION <= 1) of every tensor.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of --sample.")] = 0,
    allow_pickle: Annotated[
        bool,
        flag("--allow-pickle", help="Allow *.bin/*.pt checkpoints (torch weights_only load)."),
    ] = False,
    no_cache: Annotated[bool, flag("--no-cache", help="Recompute even if stored.")] = False,
    sketch: Annotated[
        bool,
        flag(
            "--sketch",
            help="Answer from the three models' stored sketches (read first when missing); "
            "no Hub request when all three are stored.",
        ),
    ] = False,
) -> None:
    # The service loads sqlalchemy here, and the engine torch and numba when it computes.
    from kinhub.hub.config import endpoint_for
    from kinhub.kinship import service

    if sketch and (sample is not None or per_tensor):
        raise typer.BadParameter("--sketch takes neither --sample nor --per-tensor")
    with handle_errors():
        names = registry.parse_list(metrics)
        service.check_sample(sample)
        if dry_run:
            plan = service.plan_measurement(a=a, b=b, base=base, allow_pickle=allow_pickle)
            if fmt is OutputFormat.json:
                print_json(plan.to_dict())
            else:
                _print_plan(plan.to_dict())
            return
        with database_of(ctx) as database:
            endpoint = endpoint_for(database)  # the crawl's Hub unless HF_ENDPOINT says
            if sketch:
                from kinhub.kinship.sketch_service import measure_from_sketches

                result = measure_from_sketches(
                    database, a=a, b=b, base=base, metrics=names, endpoint=endpoint
                )
            else:
                result = service.measure_kinship(
                    database,
                    a=a,
                    b=b,
                    base=base,
                    metrics=names,
                    per_tensor=per_tensor,
                    device=device,
                    sample=sample,
                    seed=seed,
                    allow_pickle=allow_pickle,
                    use_cache=not no_cache,
                    endpoint=endpoint,
                )
    doc = json_safe(result.to_dict())
    for warning in doc["warnings"]:
        stderr.print(f"[yellow]warning:[/yellow] {esc(warning)}", highlight=False)
    if fmt is OutputFormat.json:
        print_json(doc)
        return
    print_kinship(doc)
    if doc.get("note"):  # e.g. a --sample computed exactly because sampling saved nothing
        stdout.print(f"note: {esc(doc['note'])}", highlight=False, soft_wrap=False)
    if doc["breakdown"]:
        _print_breakdown(doc["breakdown"])


def _fmt(v: Any) -> str:
    if v is None:
        return MISSING
    return f"{v:.10g}" if isinstance(v, float) else str(v)


def _print_breakdown(breakdown: dict[str, dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="per tensor")
    for column in ("tensor", "numel", "cs", "pcc", "ed"):
        table.add_column(column)
    for name, d in breakdown.items():
        table.add_row(cell(name), *(_fmt(d.get(c, "")) for c in ("numel", "cs", "pcc", "ed")))
    stdout.print(table)


def _print_plan(plan: dict[str, Any]) -> None:
    stdout.print(
        f"plan ({plan['convention']}): {plan['tensors']} tensors, {plan['params']:,} params, "
        f"{plan['bytes']:,} bytes to read",
        highlight=False,
    )
    for e in plan["entries"]:
        sys.stdout.write(f"  {safe(e['name'])}  {tuple(e['shape'])}  {e['numel']:,}\n")
    for what, items in plan["dropped"].items():
        if items:
            stdout.print(Text(safe(f"dropped ({what}): {items}")), soft_wrap=False)


def register(app: typer.Typer) -> None:
    app.command(
        "kinship",
        help=KINSHIP_HELP,
        short_help="Kinship of two models against a base (stored in the database).",
        cls=Command,
    )(kinship)
