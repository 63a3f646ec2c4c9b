"""``kinhub analyze``: analyses over the whole database (``analyze gain``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    Group,
    OutputFormat,
    database_of,
    handle_errors,
    print_json,
    stdout,
)
from kinhub.cli.paths import OutputPathError, check_output_file
from kinhub.db.answers.names import GainMetric

if TYPE_CHECKING:
    from kinhub.kinship.gain import Correlation, GainReport

analyze_app = typer.Typer(
    help="Analyses over the whole database.",
    cls=Group,
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


# ``--metric``: the metrics the gain query reads, or ``all`` of them
# (kinhub.kinship.gain.resolve_metrics).
GainChoice = Literal[GainMetric, "all"]


GAIN_HELP = """\
Does kinship predict merge gain? (Hu et al. 2024, section 3.)

For every merge whose card evaluations share benchmarks with all of its
ingredients' and whose ingredient pair has a stored kinship: gain = the merge's
average over the shared benchmarks − the mean of its ingredients' averages.
Reports Pearson r and p-value (scipy) of gain and of |gain| against each metric,
and the sample size; `--plot` writes a scatter plot (one panel per metric, with
the regression line).

JSON: `{"metrics", "sample_size", "correlations": {METRIC: {"gain": {"r",
"p_value", "n"}, "abs_gain": {...}}}, "merges": [{"child", "ingredients", "base",
"benchmarks", "child_average", "ingredients_average", "gain", "kinship": {"cs",
"pcc", "ed"}, "pairs"}], "plot"}`. `r` is null where it is undefined (fewer than
three merges, or a constant sample).
"""


def gain(
    ctx: typer.Context,
    metric: Annotated[
        GainChoice, typer.Option("--metric", help="Kinship metric to correlate, or `all`.")
    ] = "all",
    plot: Annotated[
        Path | None,
        typer.Option("--plot", metavar="FILE.png", dir_okay=False, help="Write a scatter plot."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.kinship.gain import analyze_gain, plot_gain

    with handle_errors():
        if plot is not None:
            plot = check_output_file(plot, option="--plot", make_parents=True)
        with database_of(ctx) as database, database.session() as session:
            report = analyze_gain(session, metrics=(metric,))
        if plot is not None:
            try:
                plot_gain(report, path=plot)
            except OSError as exc:
                raise OutputPathError(f"cannot write {str(plot)!r} (--plot): {exc}") from exc
    if fmt is OutputFormat.json:
        print_json({**report.to_json(), "plot": str(plot) if plot is not None else None})
        return
    _print_table(report, plot)


def _cell(found: Correlation) -> str:
    if found.r is None:
        return "undefined"
    return f"r = {found.r:+.3f}  (p = {found.p_value:.2g})"


def _print_table(report: GainReport, plot: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"Merge gain against kinship ({len(report.merges)} merges)")
    table.add_column("metric")
    table.add_column("gain")
    table.add_column("|gain|")
    table.add_column("n", justify="right")
    for metric in report.metrics:
        found = report.correlations[metric]
        table.add_row(metric, _cell(found["gain"]), _cell(found["abs_gain"]), str(found["gain"].n))
    stdout.print(table)
    if plot is not None:
        stdout.print(f"plot written to {plot}", highlight=False)


def register(app: typer.Typer) -> None:
    analyze_app.command(
        "gain",
        help=GAIN_HELP,
        short_help="Correlate merge gain with kinship (Pearson r, plot).",
        cls=Command,
    )(gain)
    app.add_typer(analyze_app, name="analyze")
