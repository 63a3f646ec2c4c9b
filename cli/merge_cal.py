"""``merge_cal MODEL_1 MODEL_2 MODEL_BASE METRICS``: drop-in for the ModelKinship command.

Same arguments, options and output lines as zjunlp/ModelKinship's ``merge_cal``; unlike it,
metrics may be comma- or space-separated, an unknown metric or any failure exits non-zero,
sums are float64 and weights are streamed.  Conventions: see ``kinship.compat``.
"""

from __future__ import annotations

import logging

import typer
from kinhub.cli.common import handle_errors
from kinhub.cli.kinship_cmd import hub_endpoint
from kinhub.kinship.compat import modelkinship, parse_metrics, reference_line

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("merge_cal")
def merge_cal(
    model_1_name: str = typer.Argument(
        ..., help="First model: local folder or org/name, optionally @revision."
    ),
    model_2_name: str = typer.Argument(..., help="Second model."),
    model_base_name: str = typer.Argument(..., help="Base model both were derived from."),
    metric: str = typer.Argument(..., help='Metrics: "cs,pcc,ed" or "cs pcc ed".'),
    low_precision: bool = typer.Option(
        False, "--low-precision", help="Rescale each task vector to 127 integer levels first."
    ),
    split_calculation: bool = typer.Option(
        False, "--split-calculation", help="Per-tensor values averaged, weighted by size."
    ),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow *.bin/*.pt checkpoints (torch weights_only load)."
    ),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="-v info, -vv debug."),
) -> None:
    """Model kinship of MODEL_1 and MODEL_2 relative to MODEL_BASE (ModelKinship conventions)."""
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2))
    with handle_errors():
        metrics = parse_metrics(metric)
        result = modelkinship(
            model_1_name,
            model_2_name,
            model_base_name,
            metrics=metrics,
            low_precision=low_precision,
            split=split_calculation,
            allow_pickle=allow_pickle,
            endpoint=hub_endpoint(),
        )
        for name in metrics:
            typer.echo(reference_line(name, result.metrics[name], split=split_calculation))


def main() -> None:
    """Console-script entry point (``merge_cal``)."""
    app()


if __name__ == "__main__":
    main()
