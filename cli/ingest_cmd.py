"""``kinhub ingest``: record a local model folder (a mergekit output) with its edges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from kinhub.cli.render import esc as escape  # terminal-safe and markup-escaped


def ingest(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Argument(metavar="FOLDER", help="Model folder: README.md, mergekit_config.yml, …"),
    ],
    repo_id: Annotated[
        str, typer.Option("--repo-id", metavar="ORG/NAME", help="The id to record it as.")
    ],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Record a local model folder as a model with its edges (idempotent)."""
    from kinhub.pipeline.ingest import ingest_folder

    with handle_errors(), database_of(ctx) as database:
        report = ingest_folder(database, folder=folder, repo_id=repo_id)
    if fmt is OutputFormat.json:
        print_json(report.to_dict())
        return
    stdout.print(
        f"{report.repo_id} ({report.outcome}): {report.edges} edges to "
        f"{len(report.parents)} parents; {report.jobs_queued} kinship jobs queued",
        highlight=False,
    )
    if report.jobs_note:
        stdout.print(f"  {escape(report.jobs_note)}", highlight=False)
    for warning in report.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def register(app: typer.Typer) -> None:
    app.command("ingest", cls=Command)(ingest)
