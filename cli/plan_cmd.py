"""``kinhub plan POOL...``: Top-k greedy merging with kinship-guided exploration, planned.

The planner (``kinhub.kinship.planner``) proposes merges; the configs come from
``kinhub.kinship.emit``; this command joins them and writes the files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    OutputFormat,
    database_of,
    handle_errors,
    print_json,
    stderr,
    stdout,
)
from kinhub.cli.partners_cmd import ComputeOpt, MetricOpt, SampleOpt, kinship_cell
from kinhub.cli.paths import OutputPathError, check_output_dir, write_text_file
from kinhub.cli.render import esc as escape  # terminal-safe and markup-escaped
from kinhub.kinship.names import DEFAULT_COMPUTE, DEFAULT_PARTNER_METRIC, EmitMethod

if TYPE_CHECKING:
    from kinhub.kinship.planner import MergePlan, ProposedMerge

PLAN_HELP = """\
Plan the next generation of merges from a POOL of models with card evaluations, as
the kinship paper's Top-k greedy merging with kinship-guided exploration: every pair
of the top `--k` models by evaluation average, plus the best model merged with its
lowest-kinship compatible partner. Merges of an earlier generation that the database
already holds (crawled with their evaluations) join the pool and the next generation
is planned, up to `--generations`. Planning stops when the top-k set stops changing
or the top-k models' mean kinship passes `--threshold` (for `ed`: falls below it).

With `--out DIR` one mergekit config per merge still to make is written there
(`gen1-01-top-k-<a>__<b>.yml`, …); run each with `mergekit-yaml`.

JSON: `{"pool", "k", "threshold", "metric", "generations": [{"generation", "top_k",
"top_kinship", "merges": [{"kind", "models", "shared_base", "kinship", "made_as",
"config"}]}], "stop_reason", "skipped"}`.
"""


def plan(
    ctx: typer.Context,
    pool: Annotated[
        list[str], typer.Argument(metavar="POOL...", help="Model ids (org/name) as stored.")
    ],
    k: Annotated[int, typer.Option("--k", metavar="K", min=2, help="Top models merged.")] = 3,
    generations: Annotated[
        int, typer.Option("--generations", metavar="N", min=1, help="Generations to plan.")
    ] = 1,
    threshold: Annotated[
        float,
        typer.Option("--threshold", metavar="X", help="Stop when top-k mean kinship passes X."),
    ] = 0.9,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write one mergekit config per merge here."),
    ] = None,
    method: Annotated[
        EmitMethod, typer.Option("--method", help="Merge method of the configs.")
    ] = "slerp",
    metric: MetricOpt = DEFAULT_PARTNER_METRIC,
    compute: ComputeOpt = DEFAULT_COMPUTE,
    sample: SampleOpt = 0.05,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.hub.config import endpoint_for
    from kinhub.kinship.partners import ComputeOptions
    from kinhub.kinship.planner import plan_merges

    with handle_errors():
        if out is not None:  # before the planning (it may measure kinships)
            out = check_output_dir(out, option="--out")
        with database_of(ctx) as database:
            # The crawl's Hub unless HF_ENDPOINT says otherwise.
            options = ComputeOptions(
                compute=compute, sample=sample, endpoint=endpoint_for(database)
            )
            result = plan_merges(
                database,
                pool=pool,
                k=k,
                generations=generations,
                threshold=threshold,
                metric=metric,
                options=options,
            )
        notes = write_configs(result, method=method, out=out) if out is not None else []
    if fmt is OutputFormat.json:
        print_json({**result.to_json(), "notes": notes})
        return
    _print_plan(result)
    for note in notes:
        stderr.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


def _slug(merge: ProposedMerge) -> str:
    names = "__".join(m.split("/", 1)[-1] for m in merge.models)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", names)[:80]


def write_configs(result: MergePlan, *, method: str, out: Path) -> list[str]:
    """Write a config for every merge still to make; returns notes on those skipped.

    Raises:
        EmitError: ``method`` cannot be written.
    """
    from kinhub.kinship.emit import EmitError, EmitModel, emit_yaml

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot write {str(out)!r} (--out): {exc.strerror}") from exc
    notes: list[str] = []
    for i, merge in enumerate(result.proposals, start=1):
        models = [
            EmitModel(m, dtype=merge.dtypes.get(m), vocab_size=merge.vocab_sizes.get(m))
            for m in merge.models
        ]
        base = EmitModel(merge.shared_base) if merge.shared_base else None
        try:
            text = emit_yaml(
                method=method,
                models=models,
                base=base,
                comment=[
                    f"kinhub plan, generation {merge.generation} ({merge.kind}): "
                    f"{' + '.join(merge.models)}",
                    "run: mergekit-yaml <this file> <output folder>",
                ],
            )
        except EmitError as exc:
            notes.append(f"{' + '.join(merge.models)}: no config ({exc})")
            continue
        path = out / f"gen{merge.generation}-{i:02d}-{merge.kind}-{_slug(merge)}.yml"
        write_text_file(path, text, option="--out")
        merge.config = str(path)
    return notes


def _print_plan(result: MergePlan) -> None:
    from rich.table import Table

    for gen in result.generations:
        top = ", ".join(f"{t['id']} ({t['eval_average']:.3g})" for t in gen.top_k)
        kin = "—" if gen.top_kinship is None else f"{gen.top_kinship:.3g}"
        stdout.print(
            f"generation {gen.number}: top-{result.k} {escape(top)}; mean {result.metric} {kin}",
            highlight=False,
            soft_wrap=False,  # wrapped at the terminal's width (80 when piped)
        )
        if not gen.merges:
            continue
        table = Table(show_edge=False)
        for column in ("kind", "models", result.metric, "shared base", "made as", "config"):
            table.add_column(column)
        for m in gen.merges:
            table.add_row(
                m.kind,
                escape(" + ".join(m.models)),
                escape(kinship_cell(m.kinship.to_json())) if m.kinship else "no shared base",
                escape(m.shared_base or "—"),
                escape(", ".join(m.made_as) or "—"),
                escape(Path(m.config).name if m.config else "—"),
            )
        stdout.print(table)
    stdout.print(f"stopped: {escape(result.stop_reason)}", highlight=False, soft_wrap=False)
    for s in result.skipped:
        stderr.print(f"skipped {escape(s['id'])}: {escape(s['reason'])}", style="dim")


def register(app: typer.Typer) -> None:
    app.command(
        "plan",
        help=PLAN_HELP,
        short_help="Plan Top-k greedy merging with exploration.",
        cls=Command,
    )(plan)
