"""``kinhub partners MODEL``: ranked merge partners, optionally a mergekit config.

The ranking comes from ``kinhub.kinship.partners``, the YAML from
``kinhub.kinship.emit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from kinhub.cli.paths import check_output_file, write_text_file
from kinhub.cli.render import cell, esc
from kinhub.kinship.names import (
    DEFAULT_COMPUTE,
    DEFAULT_PARTNER_METRIC,
    DEFAULT_STRATEGY,
    Compute,
    EmitMethod,
    PartnerMetric,
    Strategy,
)

if TYPE_CHECKING:
    from kinhub.kinship.partners import PartnerReport

# The choices and their defaults are the owners' (kinhub.kinship.names for metrics,
# strategies and compute modes, kinhub.crawler.names for the merge methods emitted).
MetricOpt = Annotated[
    PartnerMetric,
    typer.Option("--metric", help="Kinship metric (`ed` is a distance: lower = closer)."),
]
ComputeOpt = Annotated[
    Compute,
    typer.Option(
        "--compute",
        help="Kinship not stored yet: measure it now (`sampled`: a few percent of the bytes "
        "by Range reads; `exact`: every byte) or only queue it for the worker (`none`).",
    ),
]
SampleOpt = Annotated[
    float,
    typer.Option(
        "--sample", metavar="FRACTION", min=0.0001, max=1.0, help="Fraction read by `sampled`."
    ),
]

PARTNERS_HELP = """\
Merge partners for MODEL: compatible models (same tensor names and shapes; a
vocabulary that differs only in rows is compatible with a warning) that share an
ancestor with it, ranked by kinship against the shared base.

`--strategy explore` (the kinship paper's exploration): the strongest candidates (card
evaluation average in the top half) come first, lowest kinship first. `--strategy
balanced`: score = ê − 0.5·k̂ (evaluation average and kinship, each scaled to [0, 1]
over the candidates). A kinship not stored yet is measured now (`--compute`) or
queued for `kinhub worker` and shown as pending. Rows warn about license conflicts
(non-commercial with permissive), vocabulary differences and gated models.

`--emit-config METHOD` writes a mergekit YAML for MODEL and the best partner (shared
base as `base_model` where the method subtracts one); `-o FILE`, else it is printed.

Each candidate says where its kinship comes from: measured (exact, `=` in the
table), estimated by sampling (`≈`, ± half its 95% interval) or missing (`?`:
pending or failed, ranked after the others). The order is total (ties broken by
evaluation, then id): the same database gives the same answer.

JSON: `{"model", "metric", "strategy", "candidates": [{"id", "kinship": {"value",
"mode", "interval", "base"}, "kinship_source": "measured"|"estimated"|"missing",
"shared_base", "score", "license", "warnings", ...}], "skipped", "queued", "config"}`.
"""


def partners(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id (org/name) as stored.")],
    top: Annotated[int, typer.Option("--top", metavar="K", min=1, help="Candidates shown.")] = 5,
    metric: MetricOpt = DEFAULT_PARTNER_METRIC,
    strategy: Annotated[
        Strategy, typer.Option("--strategy", help="Ranking (see above).")
    ] = DEFAULT_STRATEGY,
    compute: ComputeOpt = DEFAULT_COMPUTE,
    sample: SampleOpt = 0.05,
    emit_config: Annotated[
        EmitMethod | None,
        typer.Option("--emit-config", metavar="METHOD", help="Write a mergekit config."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Where --emit-config writes."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.hub.config import endpoint_for
    from kinhub.kinship.partners import ComputeOptions, suggest_partners

    def progress(other: str) -> None:
        stderr.print(f"measuring kinship with {esc(other)} ({compute})…", style="dim")

    with handle_errors():
        if emit_config and output is not None:  # before minutes of measuring
            output = check_output_file(output, option="-o")
        with database_of(ctx) as database:
            options = ComputeOptions(
                compute=compute,
                sample=sample,
                progress=progress,
                endpoint=endpoint_for(database),  # the crawl's Hub unless HF_ENDPOINT says
            )
            report = suggest_partners(
                database,
                model=model,
                top=top,
                metric=metric,
                strategy=strategy,
                options=options,
            )
        config = _emit(report, emit_config, output) if emit_config else None
    doc = report.to_json()
    if config is not None:
        doc["config"] = config
    if fmt is OutputFormat.json:
        print_json(doc)
        return
    _print_table(report)
    if config is not None:
        if config["path"]:
            stdout.print(f"wrote {config['method']} config to {esc(config['path'])}")
        else:
            stdout.print(config["yaml"], markup=False, highlight=False, end="")


def emit_models(report: PartnerReport) -> tuple[Any, Any, Any]:
    """(MODEL, best partner, shared base) as ``EmitModel`` values."""
    from kinhub.kinship.emit import EmitModel

    best = report.candidates[0]
    own = report.model_signature
    mine = EmitModel(report.model, dtype=own.dtype, vocab_size=own.vocab_size)
    sig = best.signature
    other = EmitModel(
        best.id,
        dtype=sig.dtype if sig else None,
        vocab_size=sig.vocab_size if sig else None,
    )
    return mine, other, EmitModel(best.shared_base)


def _emit(report: PartnerReport, method: str, output: Path | None) -> dict[str, Any]:
    from kinhub.kinship.emit import emit_yaml

    mine, other, base = emit_models(report)
    text = emit_yaml(
        method=method,
        models=[mine, other],
        base=base,
        comment=[
            f"kinhub partners {report.model} --strategy {report.strategy}: best partner "
            f"{other.id} (shared base {base.id})",
            "run: mergekit-yaml <this file> <output folder>",
        ],
    )
    if output is not None:
        write_text_file(output, text, option="-o")
    return {
        "method": method,
        "partner": other.id,
        "base": base.id,
        "path": str(output) if output is not None else None,
        "yaml": text,
    }


def kinship_cell(kinship: dict[str, Any]) -> str:
    """``0.2111 sampled [0.2043, 0.2180]``, ``0.3 exact``, ``pending``."""
    value, mode, interval = kinship["value"], kinship["mode"], kinship["interval"]
    if value is None:
        return mode
    cell = f"{value:.4g} {mode}"
    if isinstance(interval, dict) and "low" in interval and "high" in interval:
        cell += f" [{interval['low']:.4g}, {interval['high']:.4g}]"
    return cell


# How the partners table marks where a kinship comes from (JSON: "kinship_source").
SOURCE_MARKS = {"measured": "=", "estimated": "≈", "missing": "?"}
SOURCE_LEGEND = (
    "kinship: = measured (exact), ≈ estimated (sampled, ± half its 95% interval), "
    "? missing (pending or failed; ranked last)"
)


def _marked(candidate: dict[str, Any]) -> str:
    """``≈ 0.2111 ±0.011``, ``= 0.3``, ``? pending``: the kinship with its source mark,
    short enough for an 80-column table (the interval's bounds are in the JSON)."""
    kinship = candidate["kinship"]
    mark = SOURCE_MARKS[candidate["kinship_source"]]
    value, interval = kinship["value"], kinship["interval"]
    if value is None:
        return f"{mark} {kinship['mode']}"
    text = f"{mark} {value:.4g}"
    if isinstance(interval, dict) and "low" in interval and "high" in interval:
        text += f" ±{(interval['high'] - interval['low']) / 2:.2g}"
    return text


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _print_table(report: PartnerReport) -> None:
    from rich.table import Table

    doc = report.to_json()
    stdout.print(
        f"{esc(report.model)} (eval {_num(report.model_facts.eval_average)}, "
        f"{esc(report.model_facts.license or '—')}) — {report.strategy} by {report.metric}",
        highlight=False,
    )
    table = Table(show_edge=False)
    for column in ("#", "candidate", report.metric, "shared base", "eval", "score", "license"):
        table.add_column(column)
    for i, c in enumerate(doc["candidates"], start=1):
        table.add_row(
            str(i),
            cell(c["id"]),
            cell(_marked(c)),
            cell(c["shared_base"]),
            _num(c["eval_average"]),
            _num(c["score"]),
            cell(c["license"]),
        )
    stdout.print(table)
    stdout.print(SOURCE_LEGEND, style="dim", highlight=False, soft_wrap=False)
    for c in doc["candidates"]:
        for warning in c["warnings"]:
            stdout.print(
                f"[yellow]{esc(c['id'])}:[/yellow] {esc(warning)}",
                highlight=False,
                soft_wrap=False,
            )
    for s in doc["skipped"]:
        stderr.print(f"skipped {esc(s['id'])}: {esc(s['reason'])}", style="dim", soft_wrap=False)
    if report.queued:
        stderr.print(f"{report.queued} kinship job(s) queued: run `kinhub worker`", style="dim")


def register(app: typer.Typer) -> None:
    app.command(
        "partners", help=PARTNERS_HELP, short_help="Merge-partner suggestions.", cls=Command
    )(partners)
