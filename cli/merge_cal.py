"""``merge_cal MODEL_1 MODEL_2 MODEL_BASE METRICS``: drop-in for the ModelKinship command.

Same arguments, options and output lines as zjunlp/ModelKinship's ``merge_cal``; unlike it,
metrics may be comma- or space-separated, an unknown metric or any failure exits non-zero,
sums are float64 and weights are streamed.  Conventions: see ``kinship.compat``.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from kinhub.cli.common import Command, VerboseOpt, flag, handle_errors, log_level

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.command("merge_cal", cls=Command)
def merge_cal(
    model_1_name: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_1", help="First model: local folder or org/name, optionally @revision."
        ),
    ],
    model_2_name: Annotated[str, typer.Argument(metavar="MODEL_2", help="Second model.")],
    model_base_name: Annotated[
        str, typer.Argument(metavar="MODEL_BASE", help="Base model both were derived from.")
    ],
    metric: Annotated[
        str, typer.Argument(metavar="METRICS", help='Metrics: "cs,pcc,ed" or "cs pcc ed".')
    ],
    low_precision: Annotated[
        bool, flag("--low-precision", help="Rescale each task vector to 127 integer levels first.")
    ] = False,
    split_calculation: Annotated[
        bool, flag("--split-calculation", help="Per-tensor values averaged, weighted by size.")
    ] = False,
    allow_pickle: Annotated[
        bool,
        flag("--allow-pickle", help="Allow `*.bin`/`*.pt` checkpoints (torch weights_only load)."),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Model kinship of MODEL_1 and MODEL_2 relative to MODEL_BASE (ModelKinship conventions)."""
    from kinhub.kinship.compat import modelkinship, parse_metrics, reference_line

    logging.basicConfig(level=log_level(verbose))
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
            endpoint=None,  # HF_ENDPOINT, read by the Hub client when it connects
        )
        for name in metrics:
            typer.echo(reference_line(name, result.metrics[name], split=split_calculation))


def main() -> None:
    """Console-script entry point (``merge_cal``)."""
    app()


if __name__ == "__main__":
    main()
