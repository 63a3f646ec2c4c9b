"""``kinhub demo``: the whole pipeline, offline, on a generated hub.

The steps live in :func:`kinhub.pipeline.demo.run_demo`; this module wires the
kinship service in as the measurement step and renders the result.
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
from kinhub.cli.render import (
    json_safe,
    lineage_tree,
    live_progress,
    print_crawl_summary,
    print_kinship,
)

if TYPE_CHECKING:
    from kinhub.db.engine import Database
    from kinhub.pipeline.crawl import ProgressWithCalls
    from kinhub.pipeline.demo import DemoReport, KinshipRequest, MeasureKinship

DEMO_HELP = """\
Run kinhub end to end, offline: generate a hub, serve it, crawl it, compute
the queued kinship jobs with the worker, show a lineage (kinship on its merge
edges) and measure a kinship.

A synthetic hub (foundations, fine-tunes, three generations of mergekit merges,
MoE, gated repos, missing parents, broken cards, real tiny safetensors) is
served by the Hub emulator over HTTP and crawled into the selected database
(root `--db` / `KINHUB_DB`, else the embedded SQLite default). Everything the
demo makes stays in its directory: the hub in `DIR/hub`, and the files it
downloads in its own Hugging Face cache, `DIR/hf_home` — never in yours.
Running it again is incremental: the crawl finds nothing changed, no job is
queued, and the kinship comes from the database.
"""

# The worker's time budget in the demo (the generated models are tiny: far less is used).
DEMO_WORKER_BUDGET_S = 300.0


def _kinship_step(database: Database) -> MeasureKinship:
    from kinhub.kinship.service import measure_kinship

    def measure(request: KinshipRequest) -> Any:
        return measure_kinship(
            database,
            a=request.a,
            b=request.b,
            base=request.base,
            endpoint=request.endpoint,
            cache_dir=str(request.cache_dir),
        )

    return measure


def _worker_step(database: Database, endpoint: str) -> dict[str, Any]:
    from kinhub.kinship.worker import drain

    # The emulator has no quotas to keep to: the PRO tier's limits are never reached.
    return drain(database, budget_s=DEMO_WORKER_BUDGET_S, endpoint=endpoint, plan="pro")


def demo(
    ctx: typer.Context,
    models: Annotated[
        int, typer.Option("--models", min=20, metavar="N", help="Repos in the generated hub.")
    ] = 120,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "--hub-dir",
            metavar="DIR",
            help="The demo's directory (default: `demo` in the data directory).",
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.db.config import data_dir
    from kinhub.pipeline.demo import run_demo

    root = (directory or data_dir() / "demo").expanduser().resolve()
    with handle_errors(), database_of(ctx) as database:

        def run(progress: ProgressWithCalls | None = None) -> DemoReport:
            return run_demo(
                database,
                directory=root,
                n_models=models,
                measure=_kinship_step(database),
                after_crawl=_worker_step,
                progress=progress,
                notify=lambda message: stderr.print(message, highlight=False),
            )

        if fmt is OutputFormat.json:
            report = run()
        else:
            with live_progress("crawling the generated hub") as progress:
                report = run(progress)
    if fmt is OutputFormat.json:
        print_json(demo_json(report))
    else:
        _print(report)


def demo_json(report: DemoReport) -> dict[str, Any]:
    return {
        "directory": str(report.directory),
        "hub": str(report.hub_dir),
        "hf_home": str(report.hf_home),
        "crawl": report.crawl.to_dict(),
        "lineage": report.lineage.to_json(),
        "kinship": json_safe(report.kinship.to_dict()) if report.kinship is not None else None,
        "worker": report.worker,
    }


def _print(report: DemoReport) -> None:
    print_crawl_summary(report.crawl.to_dict())
    stdout.print()
    if report.worker is not None:
        w = report.worker
        stdout.print(
            f"kinship worker: {w.get('done', 0)} jobs done, {w.get('failed', 0)} failed "
            f"in {w.get('seconds', 0):.1f}s",
            highlight=False,
        )
        stdout.print()
    stdout.print(lineage_tree(report.lineage, upward=True), soft_wrap=False)
    if report.kinship is not None:
        stdout.print()
        print_kinship(report.kinship.to_dict())
    stdout.print(
        f"\ndemo files: {report.directory} (generated hub: {report.hub_dir}; "
        f"Hugging Face cache: {report.hf_home})",
        highlight=False,
    )
    stdout.print(
        "next: kinhub lineage MODEL --format json, kinhub kinship A B --base Z, "
        "kinhub crawl --endpoint URL",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command(
        "demo", help=DEMO_HELP, short_help="The whole pipeline, offline, on a generated hub.",
        cls=Command,
    )(demo)  # fmt: skip
